"""Open a photo (JPEG, PNG, WebP, HEIC, ...: glasses_core/image_header.py says which formats and
what limits) and decode it upright, as RGB uint8, at the resolution each use needs.

A JPEG decodes at 1/2, 1/4 or 1/8 of its size straight from its DCT coefficients (Pillow's
draft mode), which costs a fraction of a full decode: a 12 MP phone photo's faces are found on
an eighth of its pixels, and each face is cut from the coarsest decode that still holds it at
the model's resolution. Other formats (PNG, WebP, HEIC, ...) decode once at full size and are shrunk with a box filter.
"""
from __future__ import annotations

import contextlib
import errno
import math
import os
from typing import Union

import numpy as np
from PIL import Image, ImageOps

from .errors import ImageLoadError
from .files import FileRefused, read_regular_file
from .image_header import MAX_PIXELS, checked, opened  # noqa: F401 -- MAX_PIXELS: the limit, for callers

SCALES = (8, 4, 2, 1)  # the reductions a JPEG decodes at directly (1/8 ... full size)
_TRANSPOSED = {5, 6, 7, 8}  # EXIF orientations that swap width and height

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview]


class Photo:
    """An image opened for decoding: ``size`` is its upright full-resolution (width, height);
    ``image(scale)`` is the RGB image at the coarsest available reduction that keeps at least
    ``scale`` of its pixels, and ``pixels(scale)`` the same as a numpy array. Every coordinate
    the core reports is in full-resolution pixels.

    ``reduced_decode=False`` decodes every image at full size first (the slow reference path).
    """

    def __init__(self, data: bytes | None, label: str, reduced_decode: bool = True,
                 image: np.ndarray | Image.Image | None = None):
        self.label = label
        self._data = data
        # Decoded views by reduction, kept as Pillow images: cutting and shrinking work on them
        # directly, and a numpy copy is made only when one is asked for (``pixels``).
        self._views: dict[int, Image.Image] = {}
        self._arrays: dict[int, np.ndarray] = {}
        self._kept: dict = {}  # images made from the views that several looks read (``kept``)
        self.header = None  # made from encoded data: what its header says (image_header.Header)
        if image is not None:
            if isinstance(image, Image.Image):
                self._views[1] = image
                self.size = image.size
            else:
                self._arrays[1] = image
                self.size = (image.shape[1], image.shape[0])
            self._jpeg = False
            return
        with self._opened() as im:
            self.header = checked(im, data, label)  # every limit, before any pixel is decoded
            width, height = im.size
            transposed = im.getexif().get(0x0112) in _TRANSPOSED
            self.size = (height, width) if transposed else (width, height)
            self._jpeg = reduced_decode and im.format == "JPEG" and im.mode in ("RGB", "L")

    def image(self, scale: float = 1.0) -> tuple[Image.Image, int]:
        """(RGB image, reduction): the image shrunk by an integer ``reduction`` in SCALES, the
        largest one with 1 / reduction >= ``scale``."""
        reduction = _reduction(scale)
        if reduction not in self._views:
            self._views[reduction] = self._decode(reduction)
        return self._views[reduction], reduction

    def kept(self, key, make):
        """``make()``, made once for this photo per ``key`` and kept: an image made from a view that
        several looks read (glasses_core/locate.py: the detector's copy of the first look's view)."""
        if key not in self._kept:
            self._kept[key] = make()
        return self._kept[key]

    @property
    def decoded(self) -> tuple[int, ...]:
        """The reductions this photo has been decoded at so far, finest first (1: full size)."""
        return tuple(sorted(self._views))

    def pixels(self, scale: float = 1.0) -> tuple[np.ndarray, int]:
        """(pixels, reduction): ``image(scale)`` as an (H, W, 3) uint8 RGB array."""
        reduction = _reduction(scale)
        if reduction not in self._arrays:
            self._arrays[reduction] = np.array(self.image(scale)[0], dtype=np.uint8)
        return self._arrays[reduction], reduction

    def _decode(self, reduction: int) -> Image.Image:
        if self._jpeg and reduction > 1:
            scaled = self._dct_scaled(reduction)
            if scaled is not None:
                return scaled
        if reduction > 1:  # not a JPEG, or one Pillow would not scale by exactly ``reduction``
            return self.image(1.0)[0].reduce(reduction)
        if self._data is None:  # made from an array
            return Image.fromarray(self._arrays[1])
        with self._opened() as im:
            im.seek(0)  # first frame of an animation
            im.load()
            return _to_rgb_image(_upright(im))

    def _dct_scaled(self, reduction: int) -> Image.Image | None:
        """The JPEG decoded at 1/reduction from its DCT coefficients, or None when Pillow's
        decoder will not scale it by exactly that.

        Pillow's draft() takes the largest scale s with s <= min(width // w, height // h) for
        the (w, h) it is asked for, so it is asked for the sizes rounded down: rounded up, any
        side that is not a multiple of ``reduction`` got a smaller scale (a 650-pixel-wide photo
        asked for 1/4 decoded at 1/2), and every coordinate taken from it was off by that factor.
        """
        with self._opened() as im:
            width, height = im.size
            im.draft(im.mode, (max(1, width // reduction), max(1, height // reduction)))
            if im.size != (math.ceil(width / reduction), math.ceil(height / reduction)):
                return None  # too small to scale that far, or a JPEG Pillow does not scale
            im.seek(0)
            im.load()
            return _to_rgb_image(_upright(im))

    @contextlib.contextmanager
    def _opened(self):
        """The image opened with Pillow; whatever its decoder raises becomes ImageLoadError
        (glasses_core/image_header.py)."""
        with opened(self._data, self.label) as im:
            yield im


def _reduction(scale: float) -> int:
    """The largest reduction in SCALES that keeps at least ``scale`` of the pixels."""
    return next(r for r in SCALES if 1.0 / r >= min(scale, 1.0) - 1e-9)


def open_photo(source, name: str | None = None, reduced_decode: bool = True) -> Photo:
    """A Photo from a path, encoded bytes, a PIL image or an (H, W, 3) uint8 RGB array.

    Only the header is read here; pixels are decoded when first asked for. A file that is
    missing, empty, too large or not an image raises ImageLoadError naming ``name`` or the path.
    """
    if isinstance(source, Photo):
        return source
    if isinstance(source, np.ndarray):
        return Photo(None, name or "<array>", image=_checked_array(source, name or "<array>"))
    if isinstance(source, Image.Image):
        upright = _to_rgb_image(_upright(source))
        # a copy: the caller's image may change after this (_upright and _to_rgb_image may return it)
        return Photo(None, name or "<PIL image>", image=upright.copy() if upright is source else upright)
    label = name or (str(source) if isinstance(source, (str, os.PathLike)) else "<bytes>")
    return Photo(_read(source, label), label, reduced_decode)


def load_image(source: ImageSource, name: str | None = None) -> np.ndarray:
    """Decode a path or raw bytes into an (H, W, 3) uint8 RGB array at full size.

    EXIF orientation is applied; greyscale, palette, RGBA, CMYK and 16-bit images are
    converted; animated images give their first frame. Anything else raises
    ImageLoadError naming the input (``name`` or the path) and the reason.
    """
    return open_photo(source, name, reduced_decode=False).pixels(1.0)[0]


def _read(source: ImageSource, label: str) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif not isinstance(source, (str, os.PathLike)):
        raise ImageLoadError(label, f"not an image source: {type(source).__name__}")
    else:
        try:
            data = read_regular_file(source)  # never a FIFO or a device, never more than 256 MB
        except FileNotFoundError:
            raise ImageLoadError(label, "no such file") from None
        except FileRefused as err:
            raise ImageLoadError(label, str(err)) from None
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise ImageLoadError(label, "symbolic link loop") from None
            raise ImageLoadError(label, f"cannot be read ({err.strerror or err})") from err
    if not data:
        raise ImageLoadError(label, "empty input (0 bytes)" if isinstance(source, (bytes, bytearray, memoryview))
                             else "empty file (0 bytes)")
    return data


def _checked_array(image: np.ndarray, label: str) -> np.ndarray:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ImageLoadError(label, f"expected an (H, W, 3) uint8 RGB array, got {image.dtype} "
                                    f"{image.shape}")
    return image


def _upright(im: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says (no copy when it is upright already)."""
    if im.getexif().get(0x0112, 1) == 1:
        return im
    return ImageOps.exif_transpose(im)


def _to_rgb_image(im: Image.Image) -> Image.Image:
    """The image in RGB mode (itself when it is RGB already)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16-bit and float greyscale: Pillow's convert("RGB") clips instead of scaling.
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(arr[:, :, None], 3, axis=2))
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        # alpha, or a transparent colour (GIF's, PNG's tRNS in palette, RGB or greyscale images)
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im)
    return im if im.mode == "RGB" else im.convert("RGB")
