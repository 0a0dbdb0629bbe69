"""Images made to cost as much as possible to decode for their size on the wire, one builder a
trick: blank images (which compress to almost nothing), headers that claim more than they hold,
containers whose directory lies (an ICO, an AVIF), JPEGs with a scan repeated, RLE-compressed BMPs and TIFFs with
more strips than rows. Used by benchmarks/worst_images.py and by the tests of the limits.
"""
from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def blank(fmt: str, size: tuple[int, int], mode: str = "RGB", **options) -> bytes:
    """A blank image of ``size`` in ``mode``, encoded as ``fmt`` (PNG at its best compression)."""
    if fmt == "PNG":
        options.setdefault("compress_level", 9)
    return encode(Image.new(mode, size), fmt, **options)


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG header that claims width x height pixels, with almost no data after it."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _png_chunk(b"IEND", b""))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def avif_claiming(side: int, claimed: int) -> bytes:
    """A blank AVIF of side x side whose container (its ispe property) says claimed x claimed."""
    data = bytearray(blank("AVIF", (side, side), "RGB", quality=10, speed=10))
    at = data.find(b"ispe")
    data[at + 8:at + 16] = claimed.to_bytes(4, "big") * 2
    return bytes(data)


def ico_holding(png: bytes, claimed: int = 16) -> bytes:
    """An ICO whose one directory entry says ``claimed`` x ``claimed`` and holds ``png``."""
    entry = struct.pack("<BBBBHHII", claimed % 256, claimed % 256, 0, 0, 1, 32, len(png), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + entry + png


def jpeg_with_scans(image: Image.Image, extra: int, quality: int = 50) -> bytes:
    """A progressive JPEG of ``image`` with its last scan repeated ``extra`` more times: libjpeg
    warns about the repeats and decodes every one of them."""
    data = encode(image, "JPEG", progressive=True, quality=quality)
    last = data.rfind(b"\xff\xda")
    return data[:-2] + data[last:-2] * extra + b"\xff\xd9"


def bmp_rle8(width: int, height: int, run: int, max_bytes: int) -> bytes:
    """An 8-bit RLE BMP of width x height within ``max_bytes``: as many rows as fit are in runs
    of ``run`` pixels, the others in runs of 255 (the longest), every row ending in its marker."""
    palette = b"".join(struct.pack("<BBBB", i, i, i, 0) for i in range(256))

    def row(length: int) -> bytes:
        out, x = bytearray(), 0
        while x < width:
            count = min(length, width - x, 255)
            out += bytes((count, x % 256))
            x += count
        return bytes(out) + b"\x00\x00"  # end of line

    fine, coarse = row(run), row(255)
    room = max_bytes - 1100 - 2 - height * len(coarse)  # headers, palette, end of bitmap
    fine_rows = max(0, min(height, room // max(1, len(fine) - len(coarse))))
    data = fine * fine_rows + coarse * (height - fine_rows) + b"\x00\x01"  # then the end of the bitmap
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(data), 2835, 2835, 256, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset) + info + palette + data


def tiff_strips(width: int, height: int, strips: int, rows_per_strip: int = 1) -> bytes:
    """An uncompressed 8-bit greyscale TIFF listing ``strips`` strips of ``rows_per_strip`` rows,
    all pointing at the same blank bytes: more strips than rows makes the decoder go round again."""
    strip_bytes = width * rows_per_strip
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, strips, None), (277, 3, 1, 1), (278, 4, 1, rows_per_strip), (279, 4, strips, None)]
    ifd_at = 8
    arrays_at = ifd_at + 2 + 12 * len(entries) + 4
    pixels_at = arrays_at + 8 * strips
    offsets = struct.pack(f"<{strips}I", *([pixels_at] * strips))
    counts = struct.pack(f"<{strips}I", *([strip_bytes] * strips))
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        if tag == 273:
            value = arrays_at if strips > 1 else pixels_at
        elif tag == 279:
            value = arrays_at + 4 * strips if strips > 1 else strip_bytes
        ifd += struct.pack("<HHII", tag, kind, count, value) if kind == 4 else struct.pack("<HHIHH", tag, kind, count,
                                                                                            value, 0)
    ifd += struct.pack("<I", 0)
    arrays = offsets + counts if strips > 1 else b"\0" * 8 * strips
    return b"II*\x00" + struct.pack("<I", ifd_at) + ifd + arrays + b"\0" * strip_bytes
