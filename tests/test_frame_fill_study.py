"""The frame-fill study's candidate cut (research_and_train_nn/studies/frame_fill_study.py): the
product's pixels for a square inside the photo, the photo's edge instead of black for one crossing
its frame, and the product's own cut again once the study is done with it."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import glasses_core.crop
import glasses_core.locate
from glasses_core import CropConfig, Detectors, preprocess
from glasses_core.geometry import CropGeometry, cut
from research_and_train_nn.studies.frame_fill_study import edge_filled, edge_filled_cut

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def photo():
    with Image.open(sorted(EXAMPLES.glob("*.jpg"))[0]) as image:  # a real face photo the README's demo reads
        return image.convert("RGB")


def test_a_square_inside_the_photo_keeps_the_product_s_pixels(photo):
    width, height = photo.size
    inside = CropGeometry((width / 2, height / 2), 0.5 * min(width, height), 0.3)
    np.testing.assert_array_equal(edge_filled_cut(photo, inside, 64), cut(photo, inside, 64))


def test_a_square_crossing_the_frame_carries_the_edge_on_instead_of_black(photo):
    width, height = photo.size
    side = 0.6 * min(width, height)
    low = CropGeometry((width / 2, height - side / 4), side, 0.0)  # its lower quarter is below the photo
    black, edge = cut(photo, low, 64), edge_filled_cut(photo, low, 64)
    np.testing.assert_array_equal(edge[:40], black[:40])  # the rows inside the photo: the product's
    assert black[-8:].max() == 0  # below the frame the product cuts black
    bottom = np.asarray(photo)[-1].astype(int)  # the photo's last row, carried on downwards
    assert edge[-8:].max() > 0  # not black: the photo's colours, each row below the frame the same
    assert np.abs(edge[-8:].astype(int) - edge[-1].astype(int)).max() <= 1
    lo, hi = bottom.min(axis=0), bottom.max(axis=0)
    assert np.all((edge[-8:] >= lo - 1) & (edge[-8:] <= hi + 1))  # the colours of that row, no others


def test_the_product_cuts_as_before_outside_the_study_even_after_an_error(photo):
    config = CropConfig()
    before = [c.pixels for c in preprocess(photo, Detectors(config), config)]
    with pytest.raises(RuntimeError):
        with edge_filled():
            assert glasses_core.crop.cut is edge_filled_cut and glasses_core.locate.cut is edge_filled_cut
            raise RuntimeError("a study that fails halfway")
    assert glasses_core.crop.cut is cut and glasses_core.locate.cut is cut
    with edge_filled(mesh_regions=False):  # the crop alone: the face mesh reads the product's regions
        assert glasses_core.crop.cut is edge_filled_cut and glasses_core.locate.cut is cut
    assert glasses_core.crop.cut is cut
    after = [c.pixels for c in preprocess(photo, Detectors(config), config)]
    assert len(after) == len(before) and all(np.array_equal(a, b) for a, b in zip(after, before))
