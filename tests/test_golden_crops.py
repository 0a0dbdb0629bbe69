"""The crop's pixels, bit for bit: cut() on real photos with fixed geometries against committed
golden crops, and the face detector's input (its letterbox) for a real photo against a golden one. The OpenCV reference (test_same_preprocessing.py) bounds how far the crop may be
from an independent one; this catches any change at all, so that a change to the model's input
is always deliberate: regenerate the golden files with

    python3 tests/test_golden_crops.py --write

and bump PREPROCESS_VERSION (glasses_core/crop.py) in the same commit, saying why.
Pillow is pinned (constraints.txt), and its resampling is integer arithmetic: the same
version gives the same bytes on every machine."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from glasses_core.crop import CROP_OUTSIDE  # noqa: E402
from glasses_core.face_detect import FaceDetector  # noqa: E402
from glasses_core.geometry import CropGeometry, cut  # noqa: E402
from glasses_core.image_io import load_image, open_photo  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
GOLDEN = Path(__file__).resolve().parent / "golden"
SIZE = 64
# (photo, centre, side, degrees): large squares that are box-reduced 2x and 3x before the
# resize, a turned one, one that runs off the photo (cut as the crop is: its edge carried on,
# CROP_OUTSIDE), one smaller than the output
CASES = {
    "meglass_side600": ("meglass/samples/8049225@N08_identity_4@8226921695_0.jpg", (430.0, 420.0), 600.0, 0.0),
    "meglass_side820_turned": ("meglass/samples/8049225@N08_identity_4@8226921695_0.jpg", (426.5, 451.0), 820.0, 12.0),
    "meglass_edge": ("meglass/samples/8101189@N07_identity_0@3356925158_2.jpg", (90.0, 700.0), 300.0, -25.0),
    "aflw_eyes": ("mtfl/AFLW/0001-image20056.jpg", (120.3, 101.7), 71.5, 8.5),
    "celeba_small": ("celeba/img_align_celeba/000001.jpg", (44.5, 52.0), 40.0, -3.0),
}

# A photo large enough that the shrink to the detector's 128 px first box-reduces it (by 2 for
# reducing_gap 3), and not square, so that it is padded on one side.
DETECTOR_PHOTO = "meglass/samples/8049225@N08_identity_4@8226921695_0.jpg"
DETECTOR_GOLDEN = "detector_input_meglass.png"


def crop(name: str) -> np.ndarray:
    path, centre, side, degrees = CASES[name]
    return cut(load_image(DATA / path), CropGeometry(centre, side, math.radians(degrees)), SIZE, outside=CROP_OUTSIDE)


@pytest.mark.parametrize("name", sorted(CASES))
def test_crops_are_the_golden_crops(name):
    golden = np.asarray(Image.open(GOLDEN / f"{name}.png"))
    made = crop(name)
    assert made.shape == golden.shape == (SIZE, SIZE, 3) and made.dtype == np.uint8
    differing = int(np.any(made != golden, axis=-1).sum())
    assert differing == 0, (f"{name}: {differing} of {SIZE * SIZE} pixels differ from the golden crop "
                            f"(largest difference {int(np.abs(made.astype(int) - golden).max())} levels): "
                            "if the change is deliberate, see this module's docstring")


def detector_input() -> np.ndarray:
    """BlazeFace's (128, 128, 3) float input for DETECTOR_PHOTO, in [-1, 1]."""
    tensor, _, _ = FaceDetector()._letterbox(load_image(DATA / DETECTOR_PHOTO))
    return tensor[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_cut_from_the_decoded_pillow_image_is_the_golden_crop(name):
    """What preprocessing cuts from (Photo.image, no numpy copy) gives the same pixels."""
    path, centre, side, degrees = CASES[name]
    view, reduction = open_photo(DATA / path, reduced_decode=False).image(1.0)
    made = cut(view, CropGeometry(centre, side, math.radians(degrees)), SIZE, outside=CROP_OUTSIDE)
    assert reduction == 1 and np.array_equal(made, np.asarray(Image.open(GOLDEN / f"{name}.png")))


def test_the_detector_input_is_the_golden_one():
    # stored as 8-bit levels: the input is level / 127.5 - 1, so the levels give it back exactly
    golden = np.asarray(Image.open(GOLDEN / DETECTOR_GOLDEN), np.float32) / 127.5 - 1.0
    made = detector_input()
    assert made.shape == golden.shape == (128, 128, 3) and made.dtype == np.float32
    differing = int(np.any(made != golden, axis=-1).sum())
    assert differing == 0, (f"{differing} of 128 * 128 detector input pixels differ from the golden one "
                            f"(largest difference {float(np.abs(made - golden).max()):.4f}): "
                            "if the change is deliberate, see this module's docstring")
    from_pillow, _, _ = FaceDetector()._letterbox(open_photo(DATA / DETECTOR_PHOTO).image(1.0)[0])
    assert np.array_equal(from_pillow[0], made)  # what detection reads (Photo.image, no numpy copy)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    GOLDEN.mkdir(exist_ok=True)
    for case in sorted(CASES):
        Image.fromarray(crop(case)).save(GOLDEN / f"{case}.png", optimize=True)
        print(f"wrote {GOLDEN / case}.png")
    levels = np.rint((detector_input().astype(np.float64) + 1.0) * 127.5).astype(np.uint8)
    Image.fromarray(levels).save(GOLDEN / DETECTOR_GOLDEN, optimize=True)
    print(f"wrote {GOLDEN / DETECTOR_GOLDEN}")
