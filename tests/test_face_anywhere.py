"""A face's answer depends on the face, not on the rest of the photo.

Real MTFL test faces (AFLW, annotated eyes) are placed in wider and taller canvases at the
edge, in the middle of a larger canvas, at a fifth of a 4032x3024 phone frame, and beside
another real face (research_and_train_nn/studies/placements.py); every photo is a JPEG. For each
placement the shipped model's crop must keep the annotated eyes where the crop geometry
promises them, and its probability must stay within 0.05 of the face alone.
"""
import numpy as np
import pytest

from glasses_core import DEFAULT_MODEL, GlassesClassifier, ModelConfig
from research_and_train_nn.studies.placements import aflw_faces, eye_error, placed_crops, probability

FACES = 60  # half of them with glasses
MAX_PROBABILITY_MOVE = 0.05


@pytest.fixture(scope="module")
def measured(data_dir):
    """(placement, eye error in crop sides, |probability - the face alone's|) per placed face."""
    classifier = GlassesClassifier()
    crop = classifier.config.crop
    rows = []
    for _, placement, alone, found in placed_crops(classifier.crops, aflw_faces(data_dir / "mtfl", FACES)):
        assert alone is not None, f"a face was not found in its own photo ({placement.name})"
        if found is None:
            rows.append((placement.name, np.inf, np.inf))
            continue
        rows.append((placement.name, eye_error(found, placement.eyes, crop.scale, crop.centre_shift),
                     abs(probability(classifier, found) - probability(classifier, alone))))
    return rows


def test_every_placed_face_is_found(measured):
    missed = [name for name, error, _ in measured if not np.isfinite(error)]
    assert not missed, f"faces not found in: {missed}"


def test_placed_faces_keep_their_eyes_where_the_crop_says(measured):
    errors = np.array([e for _, e, _ in measured])
    print(f"eye error of placed faces: median {np.median(errors):.4f}, p95 {np.percentile(errors, 95):.4f} "
          f"crop sides over {len(errors)} placements")
    assert np.median(errors) <= 0.04
    assert np.percentile(errors, 95) <= 0.10


@pytest.mark.xfail(ModelConfig.load(DEFAULT_MODEL).version in ("0.1.0", "0.2.0", "0.3.0", "0.3.1"), strict=True,
                   reason="issues 11 and 28, open: the crops keep their eyes (the tests above), but models "
                          "0.1.0 to 0.3.1 still move by more than 0.05 on 4 to 6 % of placements (0.3.0 and 0.3.1, "
                          "whose int8 files give the same first answer: 18 of 300 with preprocessing 8 to 12, 16 with 13)")
def test_a_face_answer_does_not_depend_on_the_photo_around_it(measured):
    moves = np.array([m for _, _, m in measured])
    worst = max(measured, key=lambda row: row[2])
    print(f"probability change from the face alone: median {np.median(moves):.4f}, "
          f"max {moves.max():.4f} ({worst[0]}); over 0.05: {(moves > MAX_PROBABILITY_MOVE).sum()} "
          f"of {len(moves)}")
    assert moves.max() <= MAX_PROBABILITY_MOVE
