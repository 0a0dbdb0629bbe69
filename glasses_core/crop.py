"""The crop: the one preprocessing function shared by training, converters' checks and serving.

A face becomes a square, eye-levelled crop centred between the eyes (moved down by
``centre_shift`` eye distances), ``scale`` eye distances wide, resized to ``size`` pixels.
When no face is found, the fallback is a centre square (``fallback_side`` of the shorter
image side, centred at ``fallback_centre_y`` of the height), reported as "no face".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .config import CropConfig
from .face_detect import Face, FaceDetector

# Bump whenever preprocess() can give different pixels for the same inputs: training caches
# crops under this version, so no stale crop is ever trained on.
PREPROCESS_VERSION = 2


@dataclass(frozen=True)
class CropGeometry:
    """Where a crop comes from: centre (x, y), side in pixels, and rotation in radians."""
    centre: tuple[float, float]
    side: float
    angle: float


@dataclass(frozen=True)
class FaceCrop:
    """A model input and where it came from; ``face`` is None for the no-face fallback."""
    pixels: np.ndarray  # (size, size, 3) uint8 RGB
    face: Face | None
    geometry: CropGeometry


def eye_geometry(right_eye, left_eye, config: CropConfig) -> CropGeometry:
    """Square around the eyes, levelled so that the subject's right eye is on the crop's left."""
    (x0, y0), (x1, y1) = right_eye, left_eye
    dx, dy = x1 - x0, y1 - y0
    distance = math.hypot(dx, dy)
    angle = math.atan2(dy, dx)
    shift = config.centre_shift * distance
    centre = ((x0 + x1) / 2.0 - math.sin(angle) * shift, (y0 + y1) / 2.0 + math.cos(angle) * shift)
    return CropGeometry(centre=centre, side=config.scale * distance, angle=angle)


def fallback_geometry(height: int, width: int, config: CropConfig) -> CropGeometry:
    side = config.fallback_side * min(height, width)
    return CropGeometry(centre=(width / 2.0, config.fallback_centre_y * height), side=side, angle=0.0)


def cut(image: np.ndarray, geometry: CropGeometry, size: int) -> np.ndarray:
    """Cut a rotated square out of an RGB uint8 image and resize it to size x size pixels.

    Large faces are first shrunk with a box filter so the final resize never aliases;
    pixels outside the image are black.
    """
    pil = Image.fromarray(image)
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


def crop_face(image: np.ndarray, face: Face | None, config: CropConfig) -> FaceCrop:
    """The model input for one face, or the fallback crop when ``face`` is None."""
    if face is None:
        geometry = fallback_geometry(image.shape[0], image.shape[1], config)
    else:
        geometry = eye_geometry(face.right_eye, face.left_eye, config)
    return FaceCrop(pixels=cut(image, geometry, config.size), face=face, geometry=geometry)


def usable_faces(faces: list[Face], config: CropConfig) -> list[Face]:
    """Drop detections whose eyes are too close together to crop."""
    return [f for f in faces
            if math.dist(f.right_eye, f.left_eye) >= config.min_eye_distance]


def preprocess(image: np.ndarray, detector: "Detectors", config: CropConfig) -> list[FaceCrop]:
    """THE preprocessing: every face in the photo as a model input, largest face first.

    With no usable face, one fallback crop (``face`` None). Training, the converters'
    checks, the folder runner and the server all call this function.
    """
    faces = usable_faces(detector.detect(image), config)
    if not faces:
        return [crop_face(image, None, config)]
    faces.sort(key=lambda f: -f.area)
    return [crop_face(image, face, config) for face in faces]


class Detectors:
    """The face detector a CropConfig asks for: "short", "full", or "auto".

    "auto" runs the short-range model and, when it finds no face or only faces narrower than
    ``SMALL_FACE`` of the photo (a group or distant shot), the full-range model too, keeping
    each face once.
    """
    SMALL_FACE = 0.2  # face width / longer image side under which a photo may hold more faces

    def __init__(self, config: CropConfig, num_threads: int = 1):
        names = ["short", "full"] if config.detector == "auto" else [config.detector]
        self._detectors = [FaceDetector(n, config.min_face_score, num_threads) for n in names]

    def detect(self, image: np.ndarray) -> list[Face]:
        faces = self._detectors[0].detect(image)
        if len(self._detectors) == 1:
            return faces
        longer = max(image.shape[:2])
        if faces and max(f.box[2] - f.box[0] for f in faces) >= self.SMALL_FACE * longer:
            return faces
        return merge_faces(faces, self._detectors[1].detect(image))


def merge_faces(first: list[Face], second: list[Face], iou: float = 0.3) -> list[Face]:
    """``first`` plus the faces of ``second`` that overlap none of them."""
    def overlap(a: Face, b: Face) -> float:
        w = min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])
        h = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
        inter = max(0.0, w) * max(0.0, h)
        return inter / max(a.area + b.area - inter, 1e-9)
    return first + [f for f in second if all(overlap(f, g) <= iou for g in first)]
