"""A rotated square of an image, and the one function that cuts it out as model-sized pixels."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class CropGeometry:
    """A rotated square of an image: centre (x, y), side in pixels, rotation in radians."""
    centre: tuple[float, float]
    side: float
    angle: float

    def reduced(self, reduction: int) -> "CropGeometry":
        """The same square in an image shrunk ``reduction`` times."""
        return CropGeometry((self.centre[0] / reduction, self.centre[1] / reduction),
                            self.side / reduction, self.angle)

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Points (N, 2) given as fractions of the square (0..1, x right, y down) -> image pixels."""
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        offset = (np.asarray(points, dtype=np.float64) - 0.5) * self.side
        return np.stack([self.centre[0] + cos * offset[:, 0] - sin * offset[:, 1],
                         self.centre[1] + sin * offset[:, 0] + cos * offset[:, 1]], axis=1)

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Image pixels (N, 2) -> fractions of the square (the inverse of ``to_image``)."""
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        d = np.asarray(points, dtype=np.float64) - np.asarray(self.centre)
        return np.stack([cos * d[:, 0] + sin * d[:, 1], -sin * d[:, 0] + cos * d[:, 1]], axis=1) / self.side + 0.5


def as_pillow(image: np.ndarray | Image.Image) -> Image.Image:
    """A Pillow image as it is, or an (H, W, 3) uint8 array wrapped as one."""
    return image if isinstance(image, Image.Image) else Image.fromarray(image)


def cut(image: np.ndarray | Image.Image, geometry: CropGeometry, size: int) -> np.ndarray:
    """Cut a rotated square out of an RGB image (uint8 array or Pillow image) and resize it to
    size x size pixels.

    Large faces are first shrunk with a box filter so the final resize never aliases;
    pixels outside the image are black.
    """
    pil = as_pillow(image)
    reduce = max(1, int(geometry.side // (4 * size)))
    if reduce > 1:
        pil = pil.reduce(reduce)
    side = geometry.side / reduce
    native = max(size, int(math.ceil(side)))
    step = side / native
    cos, sin = math.cos(geometry.angle), math.sin(geometry.angle)
    cx, cy = geometry.centre[0] / reduce, geometry.centre[1] / reduce
    # Output pixel (u, v) -> input (x, y): centre + R(angle) @ ((u, v) - native / 2) * step.
    # Pillow samples at pixel centres, so the half-pixel offsets cancel out.
    a, b = cos * step, -sin * step
    d, e = sin * step, cos * step
    c = cx - (a + b) * native / 2.0
    f = cy - (d + e) * native / 2.0
    patch = pil.transform((native, native), Image.AFFINE, (a, b, c, d, e, f), resample=Image.BILINEAR)
    if native != size:
        patch = patch.resize((size, size), Image.BILINEAR, reducing_gap=None)
    return np.asarray(patch, dtype=np.uint8)
