"""Pure red, green and blue discs painted on a photo, and found again in a crop by colour alone.

The crop tests paint red on the subject's right eye, green on the left eye and blue on the nose
(MTFL's annotated points), cut the photo, and look for each colour in the crop's pixels: a crop
with its channels swapped puts "red" where the blue nose was, a mirrored one puts it on the
right, a mis-rotated, shifted or mis-scaled one moves the discs off their promised places.
Nothing here calls the core: where the discs must land is worked out from the annotation.
"""
from __future__ import annotations

import numpy as np

SUBSAMPLES = 4  # per pixel side: the disc's edge is anti-aliased, so its centroid is its centre


def paint(image: np.ndarray, points, radius: float) -> np.ndarray:
    """A copy of an (H, W, 3) uint8 RGB image with a disc of pure red, green and blue centred
    on ``points[0]``, ``[1]`` and ``[2]`` (x, y in continuous pixel coordinates: pixel (i, j)
    covers [i, i + 1] x [j, j + 1])."""
    out = image.astype(np.float64)
    for channel, centre in enumerate(points):
        colour = np.eye(3)[channel] * 255.0
        (y0, y1), (x0, x1), cover = _disc(image.shape[:2], centre, radius)
        window = out[y0:y1, x0:x1]
        window += cover[..., None] * (colour - window)
    return np.round(out).astype(np.uint8)


def _disc(shape, centre, radius: float):
    """(rows, columns, coverage): the fraction of each pixel of a window that the disc covers."""
    x, y = centre
    y0, y1 = max(0, int(y - radius) - 1), min(shape[0], int(y + radius) + 2)
    x0, x1 = max(0, int(x - radius) - 1), min(shape[1], int(x + radius) + 2)
    ys = y0 + (np.arange((y1 - y0) * SUBSAMPLES) + 0.5) / SUBSAMPLES
    xs = x0 + (np.arange((x1 - x0) * SUBSAMPLES) + 0.5) / SUBSAMPLES
    inside = (xs[None, :] - x) ** 2 + (ys[:, None] - y) ** 2 <= radius ** 2
    cover = inside.reshape(y1 - y0, SUBSAMPLES, x1 - x0, SUBSAMPLES).mean((1, 3))
    return (y0, y1), (x0, x1), cover


def coverage(marked: np.ndarray, clean: np.ndarray, channel: int) -> np.ndarray:
    """How much of each pixel of ``marked`` the pure colour of ``channel`` covers, against
    ``clean`` (the same crop of the unpainted photo).

    Painting, bilinear sampling and box filters are all linear, so a crop pixel is
    c * colour + (1 - c) * clean: each channel gives c, and the smallest of them is kept, so a
    pixel that moved towards another colour (a channel went the wrong way) counts as 0.
    Channels where the clean pixel is already near the colour say nothing and are skipped.
    """
    m, b = marked.astype(np.float64), clean.astype(np.float64)
    span = np.eye(3)[channel] * 255.0 - b
    usable = np.abs(span) >= 30
    ratio = np.where(usable, (m - b) / np.where(usable, span, 1.0), np.inf).min(axis=2)
    return np.clip(np.where(np.isfinite(ratio), ratio, 0.0), 0.0, 1.0)


def found(marked: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """(3, 2): where red, green and blue appeared in ``marked`` against ``clean``, as the
    centroid of each colour's coverage, in continuous pixel coordinates; inf for a colour
    that did not appear."""
    return np.array([centroid(coverage(marked, clean, c)) for c in range(3)])


def centroid(weight: np.ndarray) -> np.ndarray:
    if weight.sum() < 0.2:  # under a fifth of a pixel: the disc is not in the crop
        return np.array([np.inf, np.inf])
    ys, xs = np.mgrid[: weight.shape[0], : weight.shape[1]]
    return np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum() + 0.5


def promised(points, size: int, scale: float, centre_shift: float) -> np.ndarray:
    """Where the crop must put ``points`` (right eye, left eye, then any others): the similarity
    that takes the eyes level, ``size / scale`` apart, the subject's right eye on the left,
    centred and ``centre_shift`` eye distances above the middle, applied to every point."""
    z = np.array([complex(x, y) for x, y in points])
    half = size / scale / 2
    y = size / 2 - centre_shift * size / scale
    target = np.array([complex(size / 2 - half, y), complex(size / 2 + half, y)])
    a = (target[1] - target[0]) / (z[1] - z[0])
    mapped = a * (z - z[0]) + target[0]
    return np.stack([mapped.real, mapped.imag], axis=1)
