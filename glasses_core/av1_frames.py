"""The sizes of the frames an AVIF file's AV1 streams will decode to, read from the sequence
headers in its items' data before anything is decoded.

An AVIF's container says how large its image is (its ``ispe`` property: what Pillow reports),
but the AV1 stream of each item says how large a frame the decoder makes, and libavif decodes
that frame whatever the container said: a 16 x 16 image holding a 16,000 x 16,000 frame cost
2.35 s and 523 MB, then came out 16 x 16. HEIF has the same container (libheif refuses such a
mismatch before decoding); AVIF's does not, so its items are read here: the ISO base media file
format's boxes (``meta``: ``iinf`` says which items are AV1, ``iloc`` where their data is), then
the AV1 OBUs of each item's data, to its sequence header (AV1 specification, 5.5).
"""
from __future__ import annotations

from collections.abc import Iterator


class NotReadable(ValueError):
    """The container or an AV1 stream does not parse as the specifications say."""


def frame_sizes(data: bytes) -> list[tuple[int, int]]:
    """(width, height) of what each AV1 item decodes to (its sequence header's largest frame)
    and of each grid item's output, in the file's item order; raises NotReadable when the boxes
    or OBUs cannot be read, or when the file is an image sequence (its frames are in a track,
    ``moov``, which libavif decodes in place of the items: not read here)."""
    if any(kind == b"moov" for kind, _, _ in _boxes(data, 0, len(data))):
        raise NotReadable("an image sequence (an animation)")
    meta = _child(data, 0, len(data), b"meta")
    start, end = meta[0] + 4, meta[1]  # a full box: version and flags first
    kinds = _item_kinds(data, *_child(data, start, end, b"iinf"))
    idat = next(((s, e) for kind, s, e in _boxes(data, start, end) if kind == b"idat"), None)
    sizes = []
    for item, extents in _item_locations(data, *_child(data, start, end, b"iloc"), idat):
        if kinds.get(item) == b"av01":
            sizes.append(_sequence_size(b"".join(data[s:e] for s, e in extents)))
        elif kinds.get(item) == b"grid":
            sizes.append(_grid_size(b"".join(data[s:e] for s, e in extents)))
    return sizes


def _grid_size(item: bytes) -> tuple[int, int]:
    """The output size of a grid item (ISO/IEC 23008-12, 6.6.2.3.2): the image its tiles make."""
    if len(item) < 8:
        raise NotReadable("a grid item is cut")
    wide = item[1] & 1  # flags: 32-bit sizes
    reader = _Reader(item, 4, len(item))
    return reader.uint(4 if wide else 2), reader.uint(4 if wide else 2)


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, start, end) of the body of each box between ``start`` and ``end``."""
    pos = start
    while pos < end:
        if pos + 8 > end:
            raise NotReadable("a box header is cut")
        size, kind, header = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8], 8
        if size == 1:
            size, header = int.from_bytes(data[pos + 8:pos + 16], "big"), 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise NotReadable(f"a {kind!r} box runs past its container")
        yield kind, pos + header, pos + size
        pos += size


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int]:
    for found, body, stop in _boxes(data, start, end):
        if found == kind:
            return body, stop
    raise NotReadable(f"no {kind!r} box")


class _Reader:
    """Big-endian integers of any byte width, in order, within [pos, end)."""

    def __init__(self, data: bytes, pos: int, end: int):
        self.data, self.pos, self.end = data, pos, end

    def uint(self, size: int) -> int:
        if self.pos + size > self.end:
            raise NotReadable("a box is cut")
        value = int.from_bytes(self.data[self.pos:self.pos + size], "big")
        self.pos += size
        return value


def _item_kinds(data: bytes, start: int, end: int) -> dict[int, bytes]:
    """Item id -> item type (b"av01", b"grid", b"Exif", ...) from the ``iinf`` box's ``infe`` boxes."""
    version = data[start]
    count_size = 2 if version == 0 else 4
    kinds = {}
    for kind, body, stop in _boxes(data, start + 4 + count_size, end):
        if kind != b"infe":
            continue
        reader = _Reader(data, body, stop)
        entry_version = reader.uint(4) >> 24
        if entry_version < 2:
            continue  # no item type in versions 0 and 1
        item = reader.uint(2 if entry_version == 2 else 4)
        reader.uint(2)  # protection index
        kinds[item] = data[reader.pos:reader.pos + 4]
    return kinds


def _item_locations(data: bytes, start: int, end: int, idat: tuple[int, int] | None):
    """(item id, [(start, end), ...]) of each item whose data is in the file (``iloc``)."""
    reader = _Reader(data, start, end)
    version = reader.uint(4) >> 24
    sizes = reader.uint(2)
    offset_size, length_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
    index_size = sizes & 15 if version in (1, 2) else 0
    for _ in range(reader.uint(2 if version < 2 else 4)):
        item = reader.uint(2 if version < 2 else 4)
        method = reader.uint(2) & 15 if version in (1, 2) else 0
        reader.uint(2)  # data reference index
        base = reader.uint(base_size)
        extents = []
        for _ in range(reader.uint(2)):
            reader.uint(index_size)
            offset, length = reader.uint(offset_size), reader.uint(length_size)
            origin = 0 if method == 0 else idat[0] if method == 1 and idat else None
            if origin is None:
                raise NotReadable(f"item {item}'s data is not in the file (construction method {method})")
            first = origin + base + offset
            last = first + length if length else (len(data) if method == 0 else idat[1])
            if last > len(data) or first > last:
                raise NotReadable(f"item {item}'s data runs past the file")
            extents.append((first, last))
        yield item, extents


def _sequence_size(stream: bytes) -> tuple[int, int]:
    """The max_frame_width and max_frame_height of the sequence header in an AV1 item's OBUs."""
    pos = 0
    while pos < len(stream):
        header = stream[pos]
        obu_type, extension, has_size = (header >> 3) & 15, (header >> 2) & 1, (header >> 1) & 1
        pos += 1 + extension
        if has_size:
            size, pos = _leb128(stream, pos)
        else:
            size = len(stream) - pos
        if obu_type == 1:  # OBU_SEQUENCE_HEADER
            return _max_frame_size(_Bits(stream[pos:pos + size]))
        pos += size
    raise NotReadable("an AV1 item without a sequence header")


def _leb128(stream: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for index in range(8):
        if pos >= len(stream):
            raise NotReadable("an OBU size is cut")
        byte = stream[pos]
        value |= (byte & 0x7F) << (7 * index)
        pos += 1
        if not byte & 0x80:
            return value, pos
    raise NotReadable("an OBU size of over 8 bytes")


class _Bits:
    """The bits of a byte string, most significant first (the AV1 specification's f(n))."""

    def __init__(self, data: bytes):
        self.value, self.left = int.from_bytes(data, "big"), 8 * len(data)

    def f(self, count: int) -> int:
        if count > self.left:
            raise NotReadable("a sequence header is cut")
        self.left -= count
        return (self.value >> self.left) & ((1 << count) - 1)

    def uvlc(self) -> int:
        zeros = 0
        while not self.f(1):
            zeros += 1
            if zeros >= 32:
                return (1 << 32) - 1
        return self.f(zeros) + (1 << zeros) - 1


def _max_frame_size(bits: _Bits) -> tuple[int, int]:
    """sequence_header_obu() up to max_frame_width_minus_1 and max_frame_height_minus_1."""
    bits.f(3)  # seq_profile
    bits.f(1)  # still_picture
    if bits.f(1):  # reduced_still_picture_header
        bits.f(5)  # seq_level_idx[0]
    else:
        decoder_model, delay_length = False, 0
        if bits.f(1):  # timing_info_present_flag
            bits.f(32), bits.f(32)  # num_units_in_display_tick, time_scale
            if bits.f(1):  # equal_picture_interval
                bits.uvlc()  # num_ticks_per_picture_minus_1
            decoder_model = bool(bits.f(1))
            if decoder_model:
                delay_length = bits.f(5) + 1  # buffer_delay_length_minus_1
                bits.f(32), bits.f(5), bits.f(5)  # decoding tick, removal time and presentation time lengths
        display_delay = bits.f(1)
        for _ in range(bits.f(5) + 1):  # operating_points_cnt_minus_1
            bits.f(12)  # operating_point_idc
            if bits.f(5) > 7:  # seq_level_idx
                bits.f(1)  # seq_tier
            if decoder_model and bits.f(1):  # decoder_model_present_for_this_op
                bits.f(delay_length), bits.f(delay_length), bits.f(1)
            if display_delay and bits.f(1):  # initial_display_delay_present_for_this_op
                bits.f(4)
    width_bits, height_bits = bits.f(4) + 1, bits.f(4) + 1
    return bits.f(width_bits) + 1, bits.f(height_bits) + 1
