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


OUTSIDE = ("edge", "black")  # what a square that leaves the image holds there (``cut``'s ``outside``)


def cut(image: np.ndarray | Image.Image, geometry: CropGeometry, size: int, outside: str = "black") -> np.ndarray:
    """Cut a rotated square out of an RGB image (uint8 array or Pillow image) and resize it to
    size x size pixels.

    Large faces are first shrunk with a box filter so the final resize never aliases. Where the
    square leaves the image it is black, or with ``outside="edge"`` the image carried on by its
    nearest edge pixels, as if its border rows and columns went on forever (the crop's, since
    PREPROCESS_VERSION 9: crop.CROP_OUTSIDE). A square inside the image gets the same pixels
    either way.
    """
    if outside not in OUTSIDE:
        raise ValueError(f"outside must be one of {OUTSIDE}, not {outside!r}")
    pil = as_pillow(image)
    reduce = max(1, int(geometry.side // (4 * size)))
    if reduce > 1:
        pil = pil.reduce(reduce)
    side = geometry.side / reduce
    native = max(size, int(math.ceil(side)))
    step = side / native
    cos, sin = math.cos(geometry.angle), math.sin(geometry.angle)
    cx, cy = geometry.centre[0] / reduce, geometry.centre[1] / reduce
    if outside == "edge":
        pil, (cx, cy) = _edge_extended(pil, (cx, cy), side * (abs(cos) + abs(sin)) / 2.0)
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


def _edge_extended(pil: Image.Image, centre: tuple[float, float], reach: float):
    """The image as it is when the square centred at ``centre`` (reaching ``reach`` pixels from it
    along x and y) lies inside it; otherwise the part of the image that square covers, carried on
    past the image's edges by edge replication, and the centre in that part's pixels."""
    width, height = pil.size
    x0, y0 = math.floor(centre[0] - reach) - 2, math.floor(centre[1] - reach) - 2
    x1, y1 = math.ceil(centre[0] + reach) + 2, math.ceil(centre[1] + reach) + 2
    if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height:
        return pil, centre
    # The pixels the box covers (at least one), then each row and column index clamped to them.
    inside = (min(max(x0, 0), width - 1), min(max(y0, 0), height - 1))
    inside = inside + (max(min(x1, width), inside[0] + 1), max(min(y1, height), inside[1] + 1))
    pixels = np.asarray(pil.crop(inside))
    columns = np.clip(np.arange(x0, x1), inside[0], inside[2] - 1) - inside[0]
    rows = np.clip(np.arange(y0, y1), inside[1], inside[3] - 1) - inside[1]
    return Image.fromarray(pixels[np.ix_(rows, columns)]), (centre[0] - x0, centre[1] - y0)
