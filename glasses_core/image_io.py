"""Load any image Pillow reads into an upright RGB uint8 array, or raise ImageLoadError."""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageLoadError

MAX_PIXELS = 40_000_000  # refuse larger images before decoding them (decompression bombs)

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview]


def load_image(source: ImageSource, name: str | None = None) -> np.ndarray:
    """Decode a path or raw bytes into an (H, W, 3) uint8 RGB array.

    EXIF orientation is applied; greyscale, palette, RGBA, CMYK and 16-bit images are
    converted; animated images give their first frame. Anything else raises
    ImageLoadError naming the input (``name`` or the path) and the reason.
    """
    label = name or (str(source) if isinstance(source, (str, os.PathLike)) else "<bytes>")
    fp = _open_source(source, label)
    try:
        with warnings.catch_warnings():
            # Pillow warns before it raises on bombs; we check the size ourselves below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(fp) as im:
                width, height = im.size
                if width * height > MAX_PIXELS:
                    raise ImageLoadError(
                        label, f"{width}x{height} is over the {MAX_PIXELS // 1_000_000} megapixel limit")
                im.seek(0)  # first frame of an animation
                im.load()
                return _to_rgb_array(ImageOps.exif_transpose(im))
    except ImageLoadError:
        raise
    except UnidentifiedImageError as err:
        raise ImageLoadError(label, "not a recognised image format") from err
    except Image.DecompressionBombError as err:
        raise ImageLoadError(label, f"over the {MAX_PIXELS // 1_000_000} megapixel limit ({err})") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        # Pillow signals undecodable or truncated data with these; say which input it was.
        raise ImageLoadError(label, f"not a readable image ({err})") from err
    finally:
        if fp is not source and hasattr(fp, "close"):
            fp.close()


def _open_source(source: ImageSource, label: str):
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageLoadError(label, "empty input (0 bytes)")
        return io.BytesIO(bytes(source))
    path = Path(source)
    if not path.is_file():
        raise ImageLoadError(label, "no such file")
    if path.stat().st_size == 0:
        raise ImageLoadError(label, "empty file (0 bytes)")
    return open(path, "rb")


def _to_rgb_array(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16-bit and float greyscale: Pillow's convert("RGB") clips instead of scaling.
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(arr[:, :, None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
