"""The crop as others might make it: eyes from another source or moved a little, and other filters.

An app rebuilds our crop on the device with its own landmarker (Apple Vision, ML Kit, BlazeFace's
own keypoints) and its own resampling (one bilinear step straight to 64 px, area averaging,
Lanczos). Its eyes land within about 0.1 eye distances of ours, and its pixels differ from ours
even where the eyes agree. A model trained only on the core's own crops is fragile to both, so
training also sees each photo cut those ways (``VARIANTS``, made once per photo and cached with its
crop: crop_cache.py), and the evaluation measures the same shifts (``moved_eyes``, ``resampled``).
None of this is the product's preprocessing: ``glasses_core.preprocess`` stays the one crop.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

from glasses_core import CropConfig, FaceCrop, crop_face
from glasses_core.crop import eye_geometry
from glasses_core.face_detect import make_face
from glasses_core.geometry import CropGeometry
from glasses_core.image_io import Photo

VERSION = 1  # bump when VARIANTS or the filters change: cached variants are named by it
# (eyes, noise in eye distances per eye, filter) of each variant: the face mesh's eyes moved by
# Gaussian noise, or the detector's own eye keypoints; the filters an app might use.
VARIANTS = (("mesh", 0.04, "bilinear"), ("detector", 0.0, "area"), ("mesh", 0.07, "lanczos"), ("mesh", 0.10, "core"))
FILTERS = ("core", "bilinear", "area", "lanczos")


def variant_crops(photo: Photo, crop: FaceCrop, config: CropConfig, seed: int) -> np.ndarray:
    """(len(VARIANTS), size, size, 3) uint8: the photo's crop (the core's, ``crop``) made each way
    of VARIANTS; a crop without a face (the fallback) keeps its square and changes filter only."""
    rng = np.random.default_rng(seed)
    out = []
    for source, sigma, method in VARIANTS:
        if crop.face is None:
            geometry = crop.geometry
        else:
            eyes = np.array(crop.face.detected_eyes if source == "detector" and crop.face.detected_eyes
                            else (crop.face.right_eye, crop.face.left_eye), dtype=np.float64)
            geometry = eye_geometry(*moved_eyes(eyes, sigma, rng), config)
        out.append(resampled(photo, geometry, config, method))
    return np.stack(out)


def moved_eyes(eyes: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Each eye moved by Gaussian noise of ``sigma`` eye distances in x and y."""
    distance = float(np.linalg.norm(eyes[1] - eyes[0]))
    return eyes + rng.normal(0.0, sigma * distance, size=(2, 2)) if sigma else eyes


def resampled(photo: Photo, geometry: CropGeometry, config: CropConfig, method: str) -> np.ndarray:
    """The square ``geometry`` of the photo as size x size pixels, made with ``method``: "core" (the
    product's crop), "bilinear" (one bilinear step from the full-size photo straight to the output,
    as a canvas draw with filtering does), "area" (the square at full resolution, then area
    averaging) or "lanczos" (the square at full resolution by bicubic, then Lanczos)."""
    size = config.size
    if method == "core":
        return crop_face(photo, _face_for(geometry, config), config).pixels
    full, _ = photo.image(1.0)
    if method == "bilinear":
        return np.asarray(warp(full, geometry, size, Image.Resampling.BILINEAR), dtype=np.uint8)
    native = max(size, int(math.ceil(geometry.side)))
    if method == "area":
        return np.asarray(warp(full, geometry, native, Image.Resampling.BILINEAR).resize((size, size), Image.Resampling.BOX),
                          dtype=np.uint8)
    if method == "lanczos":
        return np.asarray(warp(full, geometry, native, Image.Resampling.BICUBIC).resize((size, size), Image.Resampling.LANCZOS),
                          dtype=np.uint8)
    raise ValueError(f"unknown filter {method!r}; one of {FILTERS}")


def warp(image: Image.Image, geometry: CropGeometry, out: int, resample) -> Image.Image:
    """The rotated square as out x out pixels in one affine step (pixels outside are black)."""
    step = geometry.side / out
    cos, sin = math.cos(geometry.angle), math.sin(geometry.angle)
    a, b, d, e = cos * step, -sin * step, sin * step, cos * step
    c = geometry.centre[0] - (a + b) * out / 2.0
    f = geometry.centre[1] - (d + e) * out / 2.0
    return image.transform((out, out), Image.Transform.AFFINE, (a, b, c, d, e, f), resample=resample)


def _face_for(geometry: CropGeometry, config: CropConfig):
    """A face whose eyes give ``geometry`` (eye_geometry's inverse), for crop_face to cut."""
    distance = geometry.side / config.scale
    shift = config.centre_shift * distance
    cos, sin = math.cos(geometry.angle), math.sin(geometry.angle)
    mid = (geometry.centre[0] + sin * shift, geometry.centre[1] - cos * shift)
    half = (cos * distance / 2.0, sin * distance / 2.0)
    right, left = (mid[0] - half[0], mid[1] - half[1]), (mid[0] + half[0], mid[1] + half[1])
    return make_face((0, 0, 1, 1), [right, left], 1.0)
