"""Glasses synthesis on real MTFL training faces without glasses, placed by their annotated eyes."""
import math

import numpy as np
import pytest

from glasses_core import load_image
from research_and_train_nn.data.datasets import load_mtfl, mtfl_landmarks
from research_and_train_nn.synthesis.render import MAX_YAW, NOSE_DEPTH, FacePose
from research_and_train_nn.data.splits import split_by_identity
from research_and_train_nn.synthesis.draw import STYLES, TRAINING_STYLES, VALIDATION_STYLES, draw_forehead_glasses, draw_glasses, synthesis_rng, synthesis_sources
from research_and_train_nn.training.config import TrainConfig
from research_and_train_nn.training.run import split_records

CHANGED = 8  # a pixel counts as drawn on when a channel moved by more than this


@pytest.fixture(scope="module")
def landmarks(data_dir):
    return mtfl_landmarks(data_dir / "mtfl", "train")


@pytest.fixture(scope="module")
def faces(data_dir, landmarks):
    """Ten training photos without glasses, spread over MTFL (LFW and web photos, all sizes)."""
    records = load_mtfl(data_dir / "mtfl", "train")
    train_idx, _ = split_by_identity(records, TrainConfig.val_fraction, TrainConfig.seed)
    sources = synthesis_sources(records, train_idx, landmarks)
    return [(load_image(r.path), points) for r, points in sources[::len(sources) // 10][:10]]


def eye_distance(points) -> float:
    return math.dist(points[0], points[1])


def eye_box(image: np.ndarray, eye, radius: float) -> np.ndarray:
    x, y = int(round(eye[0])), int(round(eye[1]))
    r = int(math.ceil(radius))
    return image[y - r:y + r + 1, x - r:x + r + 1].astype(int)


def changed_pixels(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(n, 2) x, y of the pixels the drawing changed."""
    ys, xs = np.nonzero(np.abs(after.astype(int) - before).max(axis=2) > CHANGED)
    return np.stack([xs, ys], 1).astype(float)


@pytest.mark.parametrize("style", list(STYLES))
def test_glasses_lie_over_the_annotated_eyes(faces, style):
    """The drawing is centred on each eye and surrounds it, and stays near the eyes."""
    for index, (image, points) in enumerate(faces):
        out, name = draw_glasses(image, points[0], points[1], np.random.default_rng(index), style, nose=points[2])
        assert name == style and out.shape == image.shape and out.dtype == np.uint8
        drawn, distance = changed_pixels(image, out), eye_distance(points)
        middle = np.mean(points[:2], axis=0)
        assert np.mean(np.linalg.norm(drawn - middle, axis=1) > 1.8 * distance) < 0.1
        along = np.subtract(points[1], points[0]) / distance
        for eye in points[:2]:
            offset = drawn - eye
            near = np.linalg.norm(offset, axis=1) < 0.9 * distance
            assert np.linalg.norm(offset[near].mean(0)) < 0.35 * distance, (style, index)
            across, down = offset[near] @ along, offset[near] @ [-along[1], along[0]]
            ring = (np.hypot(across, down) > 0.2 * distance)
            for side in (across > 0, across < 0, down > 0, down < 0):  # drawn on all four sides
                assert (ring & side).sum() > 0.01 * distance ** 2, (style, index)


@pytest.mark.parametrize("style", list(STYLES))
def test_every_style_changes_the_eye_region(faces, style):
    for index, (image, points) in enumerate(faces[:4]):
        out, _ = draw_glasses(image, points[0], points[1], np.random.default_rng(100 + index), style)
        for eye in points[:2]:
            radius = 0.25 * eye_distance(points)
            assert np.abs(eye_box(out, eye, radius) - eye_box(image, eye, radius)).mean() > 1.0, (style, index)


def test_forehead_glasses_leave_the_eyes_untouched(faces):
    for index, (image, points) in enumerate(faces):
        for style in STYLES:
            rng = np.random.default_rng([index, len(style)])
            out, name = draw_forehead_glasses(image, points[0], points[1], rng, style, nose=points[2])
            assert name == f"forehead:{style}"
            radius = 0.3 * eye_distance(points)
            for eye in points[:2]:
                np.testing.assert_array_equal(eye_box(out, eye, radius), eye_box(image, eye, radius))
            drawn = changed_pixels(image, out)
            above = (drawn - np.mean(points[:2], axis=0)) @ [0.0, 1.0] < 0
            assert len(drawn) > 0.05 * eye_distance(points) ** 2 and above.all(), (style, index)


def test_a_seed_draws_the_same_glasses(faces):
    image, points = faces[0]
    first, name = draw_glasses(image, points[0], points[1], np.random.default_rng(7), nose=points[2])
    again, same = draw_glasses(image, points[0], points[1], np.random.default_rng(7), nose=points[2])
    other, _ = draw_glasses(image, points[0], points[1], np.random.default_rng(8), nose=points[2])
    assert name == same and np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_random_styles_are_training_styles_only(faces):
    image, points = faces[0]
    small = image[::2, ::2].copy()
    eyes = [(x / 2, y / 2) for x, y in points[:2]]
    names = {draw_glasses(small, *eyes, np.random.default_rng(i))[1] for i in range(60)}
    assert names <= set(TRAINING_STYLES) and len(names) > len(TRAINING_STYLES) // 2
    assert VALIDATION_STYLES and not set(VALIDATION_STYLES) & set(TRAINING_STYLES)
    train, val = synthesis_rng(5, 3, "train"), synthesis_rng(5, 3, "validation")
    assert train.integers(2**62) != val.integers(2**62)
    with pytest.raises(ValueError, match="unknown glasses style"):
        draw_glasses(image, points[0], points[1], np.random.default_rng(0), "monocle")


def test_pose_maps_the_eyes_and_the_nose_back(faces):
    """The projection puts face space's eyes on the photo's eyes at any roll and yaw, and the
    yaw estimated from the nose puts the nose tip back where it was seen."""
    for _, points in faces:
        pose = FacePose.from_eyes(points[0], points[1], points[2])
        eyes = pose.project(np.array([[-0.5, 0, 0], [0.5, 0, 0]]))
        np.testing.assert_allclose(eyes, points[:2], atol=1e-6)
        nose_across = pose.face_coordinates(np.array([points[2][0]]), np.array([points[2][1]]))[0][0]
        tip = pose.project(np.array([[0.0, 0.0, NOSE_DEPTH]]))
        expected = nose_across if abs(pose.yaw) < MAX_YAW else NOSE_DEPTH * math.tan(pose.yaw)
        assert pose.face_coordinates(tip[:, 0], tip[:, 1])[0][0] == pytest.approx(expected, abs=1e-6)


def test_sources_are_training_identities_without_glasses(data_dir, landmarks):
    config = TrainConfig(datasets=(f"mtfl:{data_dir / 'mtfl'}", f"celeba:{data_dir / 'celeba'}"))
    records, train_idx, val_idx = split_records(config)
    test_landmarks = mtfl_landmarks(data_dir / "mtfl", "test")
    sources = synthesis_sources(records, train_idx, {**landmarks, **test_landmarks})
    held_out = {records[i].group for i in val_idx}
    assert all(r.label == 0 and r.group not in held_out for r, _ in sources)
    assert not {r.path for r, _ in sources} & set(test_landmarks)
    expected = [records[i] for i in train_idx if records[i].label == 0 and records[i].path in landmarks]
    assert len(sources) == len(expected) > 5000
    assert all(points == landmarks[r.path] for r, points in sources[:50])


def test_synthesis_share_replaces_training_photos_only(data_dir, crop_cache):
    """The opt-in setting: a share of the training photos without glasses become synthesised
    crops, the same ones for the same seed; validation and the other photos stay as they were."""
    from research_and_train_nn.synthesis.synthetic_set import SOURCE
    from research_and_train_nn.training.run import prepare_data, split_records
    base = dict(datasets=(f"mtfl:{data_dir / 'mtfl'}",), max_train=40, test="")
    split = split_records(TrainConfig(**base))
    plain_train, plain_val = prepare_data(TrainConfig(**base), crop_cache, split)
    train, val = prepare_data(TrainConfig(**base, synthesis_share=0.5), crop_cache, split)
    again, _ = prepare_data(TrainConfig(**base, synthesis_share=0.5), crop_cache, split)
    assert np.array_equal(train.crops, again.crops) and train.records == again.records
    assert [r.path for r in train.records] == [r.path for r in plain_train.records]
    assert np.array_equal(val.crops, plain_val.crops) and val.records == plain_val.records
    synthetic = np.array([r.source == SOURCE for r in train.records])
    assert 5 <= synthetic.sum() <= 0.5 * len(train.records)
    assert (plain_train.labels[synthetic] == 0).all() and train.labels[synthetic].sum() > 0
    assert np.array_equal(train.crops[~synthetic], plain_train.crops[~synthetic])
    assert all(np.abs(a.astype(int) - b).mean() > 1 for a, b in zip(train.crops[synthetic],
                                                                   plain_train.crops[synthetic]))


def test_contact_sheet_shows_every_style(data_dir, tmp_path):
    from research_and_train_nn.make_synthesis_sheet import LABEL, MIN_EYE_DISTANCE, TILE, make_sheet, sheet_faces
    faces = sheet_faces(data_dir / "mtfl", 20, seed=1)
    assert all(eye_distance(points) >= MIN_EYE_DISTANCE for _, points in faces)
    make_sheet(data_dir / "mtfl", tmp_path / "sheet.png", draws=1)
    from PIL import Image
    sheet = np.asarray(Image.open(tmp_path / "sheet.png").convert("RGB"))
    assert sheet.shape == (18 + (len(STYLES) + 1) * TILE, LABEL + 3 * TILE, 3)
    assert (sheet[18:, LABEL:].reshape(len(STYLES) + 1, TILE, -1).std(axis=(1, 2)) > 10).all()  # no blank row
