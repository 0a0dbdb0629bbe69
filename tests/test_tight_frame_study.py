"""The tight-frame study (research_and_train_nn/studies/tight_frame_study.py): its frames are cut where
they say, on real MTFL photos, with the eyes carried along; a frame that would leave the photo is
skipped, not filled; skipping a photo does not move another photo's frame; framing is measured in eye
distances; turned heads are counted by MTFL's pose column."""
import io

import numpy as np
import pytest
from PIL import Image

from glasses_core import CropConfig, Detectors, preprocess
from research_and_train_nn.data.composed import TIGHT, right_face_of, tight_frame
from research_and_train_nn.data.datasets import Record, mtfl_eyes
from research_and_train_nn.studies.tight_frame_study import framing, tight_photos, turned_share


@pytest.fixture(scope="module")
def lfw(data_dir):
    """Four annotated LFW photos of MTFL's training pool: (record, eyes)."""
    eyes = mtfl_eyes(data_dir / "mtfl", "train")
    paths = sorted(p for p in eyes if "/lfw_5590/" in p)[::400][:4]
    return [(Record(path=p, label=0, identity=None, source="mtfl_train"), np.asarray(eyes[p], np.float64)) for p in paths]


def test_a_tight_frame_puts_the_eyes_where_it_says_and_the_product_finds_them_there(lfw):
    config = CropConfig()
    detectors = Detectors(config)
    for record, eyes in lfw:
        image = Image.open(record.path).convert("RGB")
        framed, moved = tight_frame(image, eyes, side=3.4, x=0.45, y=0.35)
        assert framed.size == (150, 150)
        assert np.linalg.norm(moved[1] - moved[0]) == pytest.approx(150 / 3.4)
        assert moved.mean(0) == pytest.approx([0.45 * 150, 0.35 * 150])
        face = preprocess(framed, detectors, config)[0].face
        # the right face: each eye within a quarter of an eye distance (MTFL's annotated eye centres and
        # the face mesh's differ by up to about 0.2 of one, tests/test_locate.py)
        assert face is not None and right_face_of(face, moved), record.path


def test_a_frame_that_would_leave_the_photo_is_skipped_not_filled(lfw):
    record, eyes = lfw[0]
    image = Image.open(record.path).convert("RGB")
    assert tight_frame(image, eyes, side=3.4, x=0.5, y=0.35) is not None
    assert tight_frame(image, eyes, side=30.0, x=0.5, y=0.35) is None  # far wider than the photo
    left_edge = eyes.mean(0)[0] / np.linalg.norm(eyes[1] - eyes[0])  # room left of the eyes, in eye distances
    assert tight_frame(image, eyes, side=3.4, x=(left_edge + 0.1) / 3.4, y=0.35) is None


def test_skipping_a_photo_does_not_move_the_other_photos_frames(lfw):
    records = [r for r, _ in lfw]
    eyes = {r.path: e for r, e in lfw}
    kept, jpegs, frames = tight_photos(records, eyes)
    assert kept == records and len(jpegs) == len(frames) == len(records)
    assert all(Image.open(io.BytesIO(j)).size == (150, 150) for j in jpegs)
    for width, height, right, left in frames:  # each frame within TIGHT's spans
        side = width / np.linalg.norm(np.subtract(left, right))
        assert TIGHT["side"][0] - 1e-6 <= side <= TIGHT["side"][1] + 1e-6
    unknown = Record(path=records[1].path, label=0, identity=None, source="mtfl_train")
    again, again_jpegs, _ = tight_photos([records[0], unknown, *records[2:]], {p: e for p, e in eyes.items()
                                                                                if p != records[1].path})
    assert again == [records[0], *records[2:]]
    assert again_jpegs == [jpegs[0], *jpegs[2:]]


def test_framing_is_measured_in_eye_distances():
    # a 300 x 240 photo, eyes 100 pixels apart at height 120, their midpoint 150 from the left
    assert framing([(300, 240, (100, 120), (200, 120))]) == {
        "photos": 1, "width": 3.0, "above": 1.2, "below": 1.2, "beside": 1.5}
    rows = [(300, 240, (100, 120), (200, 120)), (400, 400, (100, 100), (200, 100)), (200, 200, (50, 50), (150, 50))]
    assert framing(rows)["width"] == 3.0 and framing(rows)["above"] == 1.0  # medians of each measure


def test_turned_heads_are_counted_by_mtfl_pose_column():
    poses = {"a": 3, "b": 1, "c": 2, "d": 3, "e": 5}  # 1 and 5 profiles, 2 and 4 turned, 3 frontal
    assert turned_share(poses) == {"turned": 0.6, "profile": 0.4}
