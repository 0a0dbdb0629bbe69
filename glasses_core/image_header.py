"""What an image is and what decoding it will cost, read from its header before any pixel is
decoded; and the one place where a decoder library's exceptions become ImageLoadError.

Only photo formats are opened (ACCEPTED). Pillow knows some forty others (icons, textures,
scientific and print formats); none of them is ever handed to its plugin, so no decoder we have
not bounded runs: an ICO, for one, is decoded whole as soon as it is opened, whatever its
directory says (a 16 x 16 entry holding a 13,000 x 13,000 PNG cost 1.3 s and 648 MB).

An accepted image is refused (ImageTooLargeError) before decoding when
- it has over MAX_PIXELS pixels, or a side over MAX_SIDE: Pillow spends memory and time per
  row as well as per pixel, so a 1 x 39,999,999 PNG cost seconds where a square of as many
  pixels costs a fraction of one;
- it is a JPEG of over MAX_JPEG_SCANS scans: each scan is a pass over every coefficient of
  the image, whatever the size it is decoded at;
- it is a BMP compressed with RLE in over MAX_RLE_BYTES (Pillow decodes RLE in Python);
- it is a TIFF that lists more strips or tiles than its size needs (each is decoded on its own);
- it is an AVIF holding an AV1 frame or a grid larger than the image it says it is (libavif
  decodes the frame whatever its container says: glasses_core/av1_frames.py reads the sizes).
The size checked is the one the decoder allocates: Pillow grows a GIF to its first frame when
it opens it, libheif refuses a HEIF whose stream is larger than its container says, and an
AVIF's frames are read from their AV1 sequence headers.
``Header.cost`` is the pixels weighed by what turning them into RGB takes (decode_weight: an
alpha channel is laid on white, deep greyscale is scaled through float64), so that a decode
budget counts memory, not pixels (benchmarks/worst_images.py measures each format's worst image).
(Until preprocessing 13 it also counted the detector's widened look, which drew the photo in a
canvas twice its longer side: a 1 x 16,384 PNG of 141 bytes made a 4,096 x 4,096 one. That look
now reads the view shrunk into the detector's 128 x 128 input.)
"""
from __future__ import annotations

import contextlib
import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError
from pillow_heif import register_heif_opener

from .av1_frames import NotReadable, frame_sizes
from .errors import ImageLoadError, ImageTooLargeError

register_heif_opener()  # HEIC/HEIF, what iPhones save: Pillow then opens them like any format

# Photo formats, in the order Pillow tries them. MPO is what Pillow calls a JPEG holding more
# than one image (cameras' stereo and depth pictures); the first is the photo.
ACCEPTED = ("JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "TIFF", "HEIF", "AVIF")
MAX_PIXELS = 40_000_000  # refuse larger images before decoding them (decompression bombs)
MAX_SIDE = 16_384  # about WebP's (16,383) and phone panoramas' longest; PNG, TIFF, BMP may claim 2**31
MAX_JPEG_SCANS = 64  # a progressive JPEG has about 10; each costs a pass over the whole image
MAX_RLE_BYTES = 2 * 1024 * 1024  # an RLE-compressed BMP (decoded by Pillow in Python)
# An AVIF's frames in all: its colour, its alpha and a gain map, each the image's size, and the
# edges of a grid's tiles, which may overhang the image (a slack of 1 MP for small images).
AVIF_DECODED_TIMES, AVIF_DECODED_SLACK = 3, 1_000_000
# The memory decoding to RGB takes at its peak, per pixel, in units of UNIT_BYTES (an 8-bit
# image without alpha: its decoded pixels and their RGB copy). benchmarks/worst_images.py
# measures each format's worst images (benchmarks/worst_images.md); tests/test_worst_images.py
# checks that these weights cover what it measured.
UNIT_BYTES = 5
WEIGHTS = {"WEBP": (4, 5), "HEIF": (2, 4), "AVIF": (2, 4)}  # format: (opaque, with alpha), where not DEFAULT
DEFAULT_WEIGHTS = (1, 4)  # alpha, or a transparent colour, is laid on white through RGBA copies
CMYK_WEIGHT = 2  # a CMYK JPEG: converted to RGB
DEEP_WEIGHT = 6  # 16-bit and float greyscale: scaled through float64
DEEP_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})
ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")  # in Pillow's DecompressionBombError message


@dataclass(frozen=True)
class Header:
    """An image as its header describes it: ``size`` (width, height) as stored, before any
    EXIF turn; ``cost`` the pixels a decode budget counts it for (weighed by ``mode``)."""
    format: str
    size: tuple[int, int]
    mode: str
    cost: int

    @property
    def pixels(self) -> int:
        return self.size[0] * self.size[1]


def read_header(data: bytes, label: str) -> Header:
    """The header of an encoded image, checked against every limit; raises ImageLoadError
    (ImageTooLargeError for the limits) naming ``label``. No pixel is decoded."""
    with opened(data, label) as image:
        return checked(image, data, label)


@contextlib.contextmanager
def opened(data: bytes, label: str):
    """The image opened with Pillow (its header read, no pixel decoded) when it is in an
    accepted format. Inside, whatever a decoder raises becomes ImageLoadError."""
    if not data:
        raise ImageLoadError(label, "empty input (0 bytes)")
    with decoder_errors(label), warnings.catch_warnings():
        # Pillow warns before it raises on bombs; checked() compares the size with our limit.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=_available())
        except UnidentifiedImageError:
            raise ImageLoadError(label, _not_accepted(data[:16])) from None
        with image:
            yield image


@contextlib.contextmanager
def decoder_errors(label: str):
    """Every exception a decoder library raises on one image becomes that image's
    ImageLoadError: Pillow's plugins raise OSError, SyntaxError, ValueError, EOFError,
    struct.error and more, its AVIF plugin RuntimeError, pillow_heif its own."""
    try:
        yield
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as err:
        found = _BOMB_PIXELS.search(str(err))
        size = f"{int(found.group(1)) / 1e6:.1f} megapixels" if found else "too many pixels"
        raise ImageTooLargeError(label, f"{size}, over the {MAX_PIXELS // 1_000_000} megapixel limit") from err
    except MemoryError as err:
        raise ImageLoadError(label, "not enough memory to decode it") from err
    except Exception as err:  # noqa: BLE001 -- a decoder's failure on this image, whatever its type
        raise ImageLoadError(label, f"not a readable image ({str(err)[:300] or type(err).__name__})") from err


def checked(image: Image.Image, data: bytes, label: str) -> Header:
    """The Header of an image opened by ``opened``, once it is within every limit."""
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageTooLargeError(label, f"{width}x{height} is over the {MAX_PIXELS // 1_000_000} megapixel limit")
    if max(width, height) > MAX_SIDE:
        raise ImageTooLargeError(label, f"{width}x{height} has a side over the {MAX_SIDE:,} pixel limit")
    _format_limits(image, data, label)
    weight = decode_weight(image.format, image.mode, "transparency" in image.info)
    return Header(image.format, (width, height), image.mode, width * height * weight)


def decode_weight(fmt: str, mode: str, transparent_colour: bool) -> int:
    """What decoding an image to RGB costs per pixel, in units of UNIT_BYTES."""
    if mode in DEEP_MODES:
        return DEEP_WEIGHT
    if mode == "CMYK":
        return CMYK_WEIGHT
    opaque, alpha = WEIGHTS.get(fmt, DEFAULT_WEIGHTS)
    return alpha if mode in ALPHA_MODES or transparent_colour else opaque


def _format_limits(image: Image.Image, data: bytes, label: str) -> None:
    if image.format in ("JPEG", "MPO"):
        scans = jpeg_scans(data)
        if scans > MAX_JPEG_SCANS:
            raise ImageTooLargeError(label, f"a JPEG of {scans} scans, over the limit of {MAX_JPEG_SCANS}")
    elif image.format == "BMP" and image.tile and image.tile[0].codec_name == "bmp_rle" and len(data) > MAX_RLE_BYTES:
        raise ImageTooLargeError(label, f"an RLE-compressed BMP of {len(data) / 2**20:.1f} MB, over the "
                                        f"{MAX_RLE_BYTES / 2**20:g} MB limit")
    elif image.format == "AVIF":
        _avif_limits(data, image.size, label)
    elif image.format == "TIFF" and len(image.tile) > 1:
        x0, y0, x1, y1 = image.tile[0].extents  # the first strip or tile: (0, 0, its width, its height)
        across, down = -(-image.size[0] // max(1, x1 - x0)), -(-image.size[1] // max(1, y1 - y0))
        needed = across * down * len(image.getbands())  # planes stored apart need one set each
        if len(image.tile) > needed:
            raise ImageTooLargeError(label, f"a TIFF of {len(image.tile)} strips or tiles where its size needs "
                                            f"{needed}")


def _avif_limits(data: bytes, size: tuple[int, int], label: str) -> None:
    """Every AV1 frame and grid of an AVIF fits in the image it says it is, and all of them
    together are at most AVIF_DECODED_TIMES its pixels (glasses_core/av1_frames.py)."""
    try:
        frames = frame_sizes(data)
    except NotReadable as err:
        raise ImageLoadError(label, f"an AVIF whose content cannot be read before decoding ({err})") from None
    width, height = size
    for frame_width, frame_height in frames:
        if frame_width > width or frame_height > height:
            raise ImageTooLargeError(label, f"an AVIF of {width}x{height} holding a frame of "
                                            f"{frame_width}x{frame_height}")
    decoded = sum(w * h for w, h in frames)
    if decoded > AVIF_DECODED_TIMES * width * height + AVIF_DECODED_SLACK:
        raise ImageTooLargeError(label, f"an AVIF of {width}x{height} holding {decoded / 1e6:.1f} megapixels of "
                                        "frames")


def jpeg_scans(data: bytes) -> int:
    """How many scans (SOS segments) the first image of a JPEG file has, found by walking its
    markers and the entropy-coded data after each scan header (where 0xFF is always followed by
    0x00 or a restart marker)."""
    scans, pos, end = 0, 2, len(data)  # after SOI
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            break  # not a marker: the decoder will say what is wrong
        marker = data[pos + 1]
        if marker == 0xFF:  # a fill byte before a marker
            pos += 1
        elif marker == 0xD9:  # EOI: the end of the first image
            break
        elif 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
            if marker == 0xDA:
                scans += 1
                pos = _entropy_end(data, pos)
    return scans


# In entropy-coded data 0xFF is followed by 0x00 (a stuffed 0xFF), a restart marker (0xD0-0xD7)
# or another 0xFF (fill); any other byte after it is the next marker.
_MARKER = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")


def _entropy_end(data: bytes, pos: int) -> int:
    """Where the marker after entropy-coded data starting at ``pos`` is (the data's end if none)."""
    found = _MARKER.search(data, pos)
    return len(data) if found is None else found.start()


def _available() -> tuple[str, ...]:
    """The accepted formats this Pillow can open (a build without AVIF has no AVIF plugin)."""
    Image.init()
    return tuple(fmt for fmt in ACCEPTED if fmt in Image.OPEN)


def _not_accepted(prefix: bytes) -> str:
    """Why an image was not opened: a format we do not accept (named), or none Pillow knows."""
    named = [fmt for fmt, (_, accept) in Image.OPEN.items()
             if fmt not in ACCEPTED and accept is not None and accept(prefix) is True]
    if named:
        return (f"an image in {named[0]} format, which is not accepted (accepted: "
                f"{', '.join(_available())})")
    return "not a recognised image format"


def sniff(prefix: bytes) -> str | None:
    """The accepted format whose signature the first 16 bytes of a file carry, or None."""
    for fmt in _available():
        accept = Image.OPEN[fmt][1]
        if accept is not None and accept(prefix) is True:
            return fmt
    return None


def accepted_extensions() -> frozenset[str]:
    """File extensions of the accepted formats ('.jpg', '.heic', ...)."""
    return frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in ACCEPTED)
