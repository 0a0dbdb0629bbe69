"""Ports of the pipeline that differ from the core in one way each, made by patching the core for
the length of a ``with``: two that a conformant port may differ by (another JPEG decoder, another
resampling filter) and three deliberately broken ones (swapped eyes, no levelling, x / 255 pixels).
measure.py measures them all; tests/test_conformance.py holds the first to pass and the broken
ones to fail. Nothing outside the suite uses them.
"""
from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

import glasses_core.crop
import glasses_core.face_detect
import glasses_core.geometry
from conformance import stages
from glasses_core import GlassesClassifier, open_photo
from glasses_core.face_detect import make_face


class _Filters:
    """Pillow's ``Image`` module as the core sees it, but its bilinear filter is bicubic."""

    def __init__(self, other):
        self._other = other

    def __getattr__(self, name):
        return self._other if name == "BILINEAR" else getattr(Image, name)


def _opencv_photo(path, **_):
    """The photo decoded by OpenCV at full size (EXIF applied; alpha over white), not by Pillow
    at a reduced scale: every view is then the full image shrunk by a box filter."""
    import cv2

    path = Path(path)
    flags = cv2.IMREAD_UNCHANGED if path.suffix == ".png" else cv2.IMREAD_COLOR
    image = cv2.imread(str(path), flags)
    if image.ndim == 3 and image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float64) / 255.0
        image = np.round(image[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return open_photo(np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)), path.name)


class _SwappedEyes:
    def __init__(self, refiner):
        self._refiner = refiner

    def refine(self, photo, face, **settings):
        face = self._refiner.refine(photo, face, **settings)
        points = np.asarray(face.keypoints)
        return make_face(face.box, np.concatenate([points[[1, 0]], points[2:]]), face.score, face.presence,
                         face.detected_eyes)


def _unlevelled(right_eye, left_eye, config):
    return dataclasses.replace(_EYE_GEOMETRY(right_eye, left_eye, config), angle=0.0)


_EYE_GEOMETRY = glasses_core.crop.eye_geometry


@contextlib.contextmanager
def port(name: str, classifier: GlassesClassifier):
    """The core changed into the port ``name`` (one of PORTS) while the block runs."""
    patch = _Patches()
    try:
        if name == "full_decode":
            patch.set(stages, "open_photo", lambda p: open_photo(p, reduced_decode=False))
        elif name == "opencv_decode":
            patch.set(stages, "open_photo", _opencv_photo)
        elif name == "bicubic":
            for module in (glasses_core.geometry, glasses_core.face_detect):
                patch.set(module, "Image", _Filters(Image.BICUBIC))
        elif name == "swap_eyes":
            patch.set(classifier._detectors, "refiner", _SwappedEyes(classifier._detectors.refiner))
        elif name == "no_levelling":
            patch.set(glasses_core.crop, "eye_geometry", _unlevelled)
        elif name == "pixels_255":
            real = classifier.predict_crops_and_kinds
            patch.set(classifier, "predict_crops_and_kinds",
                      lambda crops: real((np.asarray(crops) / 255.0).astype(np.uint8)))
        elif name != "core":
            raise ValueError(f"unknown port {name!r}; choose one of {PORTS}")
        yield
    finally:
        patch.undo()


class _Patches:
    def __init__(self):
        self._saved = []

    def set(self, owner, name, value):
        self._saved.append((owner, name, owner.__dict__.get(name, _MISSING)))
        setattr(owner, name, value)

    def undo(self):
        for owner, name, value in reversed(self._saved):
            if value is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, value)


_MISSING = object()
CONFORMANT = ("full_decode", "opencv_decode", "bicubic")  # must pass
BROKEN = ("swap_eyes", "no_levelling", "pixels_255")  # must fail
PORTS = ("core", *CONFORMANT, *BROKEN)


def run_port(name: str, vectors: dict, classifier: GlassesClassifier | None = None) -> tuple[dict, dict]:
    """(stage by stage, end to end): what the port ``name`` makes of the vectors' photos."""
    classifier = classifier or GlassesClassifier()
    with port(name, classifier):
        return ({photo: stages.run_stages(classifier, photo, expected) for photo, expected in vectors["photos"].items()},
                {photo: stages.run_core(classifier, photo) for photo in vectors["photos"]})


