"""The crop puts MTFL's annotated eye centres where the crop says they should be.

A marker is painted on each annotated eye after detection, the real crop function cuts the
photo, and the marker is found again in the crop's pixels: a flipped, rotated,
shifted or mis-scaled crop moves them and fails the test.
"""
import dataclasses
import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from glasses_core import CropConfig, Detectors, crop_face, load_image, preprocess
from glasses_core.crop import CropGeometry, cut, eye_geometry
from research_and_train_nn.datasets import mtfl_eyes

CONFIG = CropConfig()


def expected_eyes(config: CropConfig) -> np.ndarray:
    """Where the crop promises the eyes: level, centred, ``size / scale`` apart, the subject's
    right eye on the crop's left."""
    half = config.size / config.scale / 2
    y = config.size / 2 - config.centre_shift * config.size / config.scale
    return np.array([[config.size / 2 - half, y], [config.size / 2 + half, y]])


def with_marker(image: np.ndarray, centre, radius: float) -> np.ndarray:
    im = Image.fromarray(image)
    x, y = centre
    ImageDraw.Draw(im).ellipse((x - radius, y - radius, x + radius, y + radius), fill=(0, 255, 0))
    return np.asarray(im)


def centroid(weight: np.ndarray) -> np.ndarray:
    if weight.sum() < 1:
        return np.array([np.inf, np.inf])  # the marker fell outside the crop
    ys, xs = np.mgrid[: weight.shape[0], : weight.shape[1]]
    return np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum() + 0.5


@pytest.fixture(scope="module")
def detected(data_dir):
    """(image, annotated eyes, detected face) for 300 MTFL photos with a face found."""
    eyes = mtfl_eyes(data_dir / "mtfl", "train")
    paths = sorted(eyes)[:: len(eyes) // 300][:300]
    detectors = Detectors(CONFIG)
    out = []
    for path in paths:
        image = load_image(path)
        crops = preprocess(image, detectors, CONFIG)
        if crops[0].face is not None:
            out.append((image, eyes[path], crops[0].face))
    assert len(out) >= 291
    return out


def eye_errors(detected, make_crop=None, config=CONFIG) -> np.ndarray:
    """Distance between each eye marker in the crop and its promised place, in crop sides.

    Each annotated eye is painted on its own copy of the photo; the marker is where that
    copy's crop differs from the clean photo's crop.
    """
    make_crop = make_crop or (lambda image, face: crop_face(image, face, config).pixels)
    errors = []
    target = expected_eyes(config)
    for image, eyes, face in detected:
        radius = 1.2 * math.dist(*eyes) * config.scale / config.size  # ~1.2 crop pixels
        clean = make_crop(image, face).astype(int)
        # MTFL's first eye is the one on the image's left: the subject's right eye.
        for eye, promised in zip(eyes, target):
            diff = np.abs(make_crop(with_marker(image, eye, radius), face).astype(int) - clean).sum(2)
            errors.append(np.linalg.norm(centroid(diff) - promised) / config.size)
    return np.array(errors)


def test_annotated_eyes_land_where_the_crop_says(detected):
    errors = eye_errors(detected)
    print(f"annotated eyes in the crop: median error {np.median(errors):.4f}, "
          f"p95 {np.percentile(errors, 95):.4f} crop sides ({len(errors)} eyes)")
    assert np.median(errors) <= 0.04
    assert np.percentile(errors, 95) <= 0.10


def test_crop_output_shape_and_type(detected):
    image, _, face = detected[0]
    pixels = crop_face(image, face, CONFIG).pixels
    assert pixels.shape == (64, 64, 3) and pixels.dtype == np.uint8


def broken(kind: str):
    """A crop function with one geometry bug."""
    def make_crop(image, face):
        g = eye_geometry(face.right_eye, face.left_eye, CONFIG)
        if kind == "flipped":
            return np.ascontiguousarray(cut(image, g, CONFIG.size)[:, ::-1])
        if kind == "rotated":
            g = CropGeometry(g.centre, g.side, g.angle + math.radians(25))
        elif kind == "shifted":
            g = CropGeometry((g.centre[0] + 0.15 * g.side, g.centre[1]), g.side, g.angle)
        elif kind == "mis-scaled":
            g = CropGeometry(g.centre, g.side * 1.4, g.angle)
        return cut(image, g, CONFIG.size)
    return make_crop


@pytest.mark.parametrize("kind", ["flipped", "rotated", "shifted", "mis-scaled"])
def test_a_broken_crop_fails_the_check(detected, kind):
    errors = eye_errors(detected[:60], broken(kind))
    assert np.median(errors) > 0.04 or np.percentile(errors, 95) > 0.10


def test_upside_down_photo_gives_an_upright_crop(detected):
    image, eyes, face = detected[0]
    upright = crop_face(image, face, CONFIG).pixels
    flipped = np.ascontiguousarray(image[::-1, ::-1])
    h, w = image.shape[:2]
    mirrored_face = dataclasses.replace(
        face, right_eye=(w - face.right_eye[0], h - face.right_eye[1]),
        left_eye=(w - face.left_eye[0], h - face.left_eye[1]))
    rotated = crop_face(flipped, mirrored_face, CONFIG).pixels
    assert np.abs(rotated.astype(int) - upright).mean() < 6


def test_no_face_gives_the_documented_fallback(data_dir):
    image = np.zeros((400, 600, 3), np.uint8)
    image[100:220, 240:360] = 255  # the square the fallback covers: 0.6 * 400 = 240 wide at y = 160
    crops = preprocess(image, Detectors(CONFIG), CONFIG)
    assert len(crops) == 1 and crops[0].face is None
    assert crops[0].geometry.centre == (300.0, 160.0) and crops[0].geometry.side == 240.0
    assert (crops[0].pixels[18:46, 18:46] > 250).all() and (crops[0].pixels[:8] < 5).all()


def test_large_faces_are_shrunk_without_aliasing(detected):
    image, _, face = detected[0]
    big = np.asarray(Image.fromarray(image).resize((image.shape[1] * 8, image.shape[0] * 8), Image.BICUBIC))
    scaled = dataclasses.replace(face, right_eye=tuple(v * 8 for v in face.right_eye),
                                 left_eye=tuple(v * 8 for v in face.left_eye))
    small = crop_face(image, face, CONFIG).pixels.astype(int)
    large = crop_face(big, scaled, CONFIG).pixels.astype(int)
    assert np.abs(small - large).mean() < 8
