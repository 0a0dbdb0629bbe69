"""A face's answer depends on the face, not on the rest of the photo.

Real MTFL test faces (AFLW, annotated eyes) are placed in wider and taller canvases at the
edge, in the middle of a larger canvas, at a fifth of a 4032x3024 phone frame, and beside
another real face; every photo is a JPEG, as users send them. For each placement the shipped
model's crop must keep the annotated eyes where the crop geometry promises them, and its
probability must stay within 0.05 of the face alone.
"""
import io

import numpy as np
import pytest
from PIL import Image

from glasses_core import DEFAULT_MODEL, GlassesClassifier, ModelConfig, open_photo
from research_and_train_nn.datasets import load_mtfl, mtfl_eyes

FACES = 60  # half of them with glasses
MAX_PROBABILITY_MOVE = 0.05
GREY = (118, 118, 118)


def jpeg(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def placements(face: Image.Image, other: Image.Image):
    """(name, canvas, where the face's top-left corner went, its scale) for one face."""
    w, h = face.size
    wide = Image.new("RGB", (3 * w, h), GREY)
    wide.paste(face, (2 * w, 0))
    yield "wide canvas, right edge", wide, (2 * w, 0), 1.0
    tall = Image.new("RGB", (w, 3 * h), GREY)
    tall.paste(face, (0, 0))
    yield "tall canvas, top edge", tall, (0, 0), 1.0
    big = Image.new("RGB", (1280, 960), GREY)
    big.paste(face, ((1280 - w) // 2, (960 - h) // 2))
    yield "middle of 1280x960", big, ((1280 - w) // 2, (960 - h) // 2), 1.0
    scale = 4032 / 5 / w
    phone = Image.new("RGB", (4032, 3024), GREY)
    phone.paste(face.resize((round(w * scale), round(h * scale)), Image.BICUBIC), (2500, 900))
    yield "a fifth of a 4032x3024 frame", phone, (2500, 900), scale
    pair = Image.new("RGB", (w + other.width, max(h, other.height)), GREY)
    pair.paste(other, (0, 0))
    pair.paste(face, (other.width, 0))
    yield "beside another face", pair, (other.width, 0), 1.0


@pytest.fixture(scope="module")
def faces(data_dir):
    """(photo, annotated eyes) for FACES AFLW test photos, half with glasses."""
    root = data_dir / "mtfl"
    eyes = mtfl_eyes(root, "test")
    records = load_mtfl(root, "test")
    chosen = []
    for label in (1, 0):
        pool = [r for r in records if r.label == label]
        chosen += pool[:: len(pool) // (FACES // 2)][: FACES // 2]
    return [(Image.open(r.path).convert("RGB"), np.array(eyes[r.path])) for r in chosen]


def face_at(result_crops, eyes: np.ndarray):
    """The crop whose eyes are nearest the annotated ones, if within half an eye distance of
    them (None: the face was not found)."""
    found = [c for c in result_crops if c.face is not None]
    if not found:
        return None
    def distance(crop):
        return np.linalg.norm(np.array([crop.face.right_eye, crop.face.left_eye]) - eyes, axis=1).max()
    best = min(found, key=distance)
    return best if distance(best) <= 0.5 * np.linalg.norm(eyes[1] - eyes[0]) else None


@pytest.fixture(scope="module")
def measured(faces):
    """Per face and placement: the eye error of the crop (in crop sides) and the probability."""
    classifier = GlassesClassifier()
    config = classifier.config.crop
    promised = np.array([[0.5 - 0.5 / config.scale, 0.5 - config.centre_shift / config.scale],
                         [0.5 + 0.5 / config.scale, 0.5 - config.centre_shift / config.scale]])
    rows = []
    for i, (face, eyes) in enumerate(faces):
        other = faces[(i + 1) % len(faces)][0]
        alone = face_at(classifier.crops(open_photo(jpeg(face))), eyes)
        assert alone is not None, f"face {i} not found in its own photo"
        alone_p = float(classifier.predict_crops(alone.pixels[None])[0])
        for name, canvas, corner, scale in placements(face, other):
            placed_eyes = eyes * scale + np.array(corner)
            crop = face_at(classifier.crops(open_photo(jpeg(canvas))), placed_eyes)
            if crop is None:
                rows.append((name, np.inf, np.inf))
                continue
            error = np.linalg.norm(crop.geometry.to_crop(placed_eyes) - promised, axis=1)
            p = float(classifier.predict_crops(crop.pixels[None])[0])
            rows.append((name, error.max(), abs(p - alone_p)))
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


@pytest.mark.xfail(ModelConfig.load(DEFAULT_MODEL).version == "0.1.0", strict=True,
                   reason="issue 11: model 0.1.0, trained on whole-photo keypoints, moves by more than "
                          "0.05 on about 5 % of placements; the retrained model must pass")
def test_a_face_answer_does_not_depend_on_the_photo_around_it(measured):
    moves = np.array([m for _, _, m in measured])
    worst = max(measured, key=lambda row: row[2])
    print(f"probability change from the face alone: median {np.median(moves):.4f}, "
          f"max {moves.max():.4f} ({worst[0]}); over 0.05: {(moves > MAX_PROBABILITY_MOVE).sum()} "
          f"of {len(moves)}")
    assert moves.max() <= MAX_PROBABILITY_MOVE
