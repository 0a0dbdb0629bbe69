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

from .config import CropConfig
from .face_detect import Face
from .geometry import CropGeometry, cut
from .image_io import Photo, open_photo
from .locate import Detectors, find_faces, usable_faces

# Bump whenever preprocess() can give different pixels for the same inputs: training caches
# crops under this version, so no stale crop is ever trained on.
PREPROCESS_VERSION = 13  # 13: the turned looks read the upright look's detector copy turned (not each turn shrunk
#                           again), and the widened look the view shrunk straight into the detector's input (not a
#                           canvas twice the view's size shrunk): locate.Detectors.detect_turned, detect_widened
#                        12: an upright face the face mesh reads below locate.GIVE_UP on two passes in a row
#                           is refined no further, as a second look's face is (it is kept)
#                        11: the detailed look reads the first look's view when that is at least its input long
#                           (locate.Detectors._detect_small): one decode fewer for a large photo without a face
#                        10: a face of the widened look also counts under presence 2 when the mesh's eyes agree
#                           with the detector's (locate.counts_widened)
#                        9: a crop that leaves the photo holds its edge pixels there, not black (CROP_OUTSIDE)
#                        8: a face of the widened look (close-ups the frame cuts) counts from presence 2, not 12
#                        7: small faces looked for in one detailed pass of the resized detector, not on tiles
#                        6: faces the upright look doubts are looked for again, turned and widened (locate.py)

# Where the crop leaves the photo (a close-up the frame cuts), the photo's nearest edge pixels carry
# on there instead of a black band (geometry.cut's ``outside``). Chosen by
# research_and_train_nn/studies/frame_fill_study.py: on the composed close-ups recall rises and false
# alarms fall, and on the validation photos 41 of 3,654 crops change and no pool's F1. The face
# mesh's regions stay black (locate.REGION_OUTSIDE and its kin for the second looks): filled, they
# moved a third of ordinary photos' eyes and cost validation F1.
CROP_OUTSIDE = "edge"

__all__ = ["PREPROCESS_VERSION", "CROP_OUTSIDE", "CropGeometry", "FaceCrop", "Detectors", "cut", "eye_geometry",
           "fallback_geometry", "crop_face", "crop_pixels", "preprocess", "usable_faces"]


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


def crop_face(photo: Photo | np.ndarray, face: Face | None, config: CropConfig) -> FaceCrop:
    """The model input for one face (full-resolution coordinates), or the fallback crop when
    ``face`` is None; cut from the coarsest decode of the photo that holds the crop at
    ``config.size`` pixels or more."""
    photo = open_photo(photo)
    if face is None:
        geometry = fallback_geometry(photo.size[1], photo.size[0], config)
    else:
        geometry = eye_geometry(face.right_eye, face.left_eye, config)
    return FaceCrop(pixels=crop_pixels(photo, geometry, config.size), face=face, geometry=geometry)


def crop_pixels(photo: Photo, geometry: CropGeometry, size: int) -> np.ndarray:
    """The crop of ``geometry`` as size x size pixels, cut from the coarsest decode of the photo
    that holds it at ``size`` pixels or more, carried on past the photo's edges (CROP_OUTSIDE)."""
    view, reduction = photo.image(size / max(geometry.side, 1e-9))
    return cut(view, geometry.reduced(reduction), size, outside=CROP_OUTSIDE)


def preprocess(photo, detectors: Detectors, config: CropConfig) -> list[FaceCrop]:
    """THE preprocessing: every face in the photo as a model input, largest face first.

    ``photo``: a Photo (``open_photo``), a path, encoded bytes, a PIL image or an RGB array.
    Faces are found on a small copy and measured again at their own scale (locate.py); with no
    usable face, one fallback crop (``face`` None). Training, the converters' checks, the
    folder runner, the server and batch scoring all call this function.
    """
    photo = open_photo(photo)
    faces = find_faces(photo, detectors, config)
    if not faces:
        return [crop_face(photo, None, config)]
    return [crop_face(photo, face, config) for face in faces]
