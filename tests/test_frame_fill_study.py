"""The frame-fill study (research_and_train_nn/studies/frame_fill_study.py) fills each column as it
says: the crop and the face mesh's regions (of the upright and the turned look's faces) each as its
column has them, the product's column is the product's own preprocessing (9), and the product's fills are back once the study is done with them,
even after an error."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import glasses_core.crop
import glasses_core.locate
from glasses_core import CropConfig, Detectors, preprocess
from glasses_core.geometry import CropGeometry, cut
from glasses_core.image_io import open_photo
from research_and_train_nn.studies.frame_fill_study import FILLS, PRODUCT, filled

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def photo():
    with Image.open(sorted(EXAMPLES.glob("*.jpg"))[0]) as image:  # a real face photo the README's demo reads
        return image.convert("RGB")


def crops(photo):
    config = CropConfig()
    return [c.pixels for c in preprocess(photo, Detectors(config), config)]


def test_each_column_fills_the_crop_and_the_regions_as_it_says(photo, monkeypatch):
    width, height = photo.size
    side = 0.6 * min(width, height)
    low = CropGeometry((width / 2, height - side / 4), side, 0.0)  # its lower quarter is below the photo
    calls = []
    monkeypatch.setattr(glasses_core.crop, "cut", lambda *a, **k: calls.append(("crop", k["outside"])) or cut(*a, **k))
    monkeypatch.setattr(glasses_core.locate, "cut", lambda *a, **k: calls.append(("regions", k["outside"])) or cut(*a, **k))
    config = CropConfig()
    on_its_side = photo.transpose(Image.Transpose.ROTATE_90)  # found by the turned look only
    for name, (crop, upright, turned, widened) in FILLS.items():
        calls.clear()
        with filled(crop, upright, turned, widened):
            pixels = glasses_core.crop.crop_pixels(open_photo(photo), low, 64)
            assert (pixels[-8:].max() == 0) == (crop == "black"), name
            preprocess(photo, Detectors(config), config)
            assert set(calls) == {("crop", crop), ("regions", upright)}, name
            calls.clear()
            faces = glasses_core.locate.find_faces(open_photo(on_its_side), Detectors(config), config)
            assert faces and ("regions", turned) in calls, name
            assert set(calls) <= {("regions", upright), ("regions", turned), ("regions", widened)}, name


def test_the_product_column_is_the_product_and_the_product_fills_as_before_after_an_error(photo):
    product = (glasses_core.crop.CROP_OUTSIDE, glasses_core.locate.REGION_OUTSIDE,
               glasses_core.locate.TURNED_REGION_OUTSIDE, glasses_core.locate.WIDENED_REGION_OUTSIDE)
    assert FILLS[PRODUCT] == product == ("edge", "black", "black", "black")
    assert next(iter(FILLS)) == "black"  # first: the study compares every other fill's crops with its
    before = crops(photo)
    with filled(*FILLS[PRODUCT]):
        assert all(np.array_equal(a, b) for a, b in zip(crops(photo), before))
    with pytest.raises(RuntimeError):
        with filled("black", "edge", "black", "edge"):
            raise RuntimeError("a study that fails halfway")
    assert (glasses_core.crop.CROP_OUTSIDE, glasses_core.locate.REGION_OUTSIDE, glasses_core.locate.TURNED_REGION_OUTSIDE,
            glasses_core.locate.WIDENED_REGION_OUTSIDE) == product
    after = crops(photo)
    assert len(after) == len(before) and all(np.array_equal(a, b) for a, b in zip(after, before))
