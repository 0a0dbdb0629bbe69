import numpy as np
import pytest
from PIL import Image

from glasses_core import CropConfig, Detectors, FaceDetector, load_image
from glasses_core.face_detect import ssd_anchors
from research_and_train_nn.datasets import load_celeba, mtfl_eyes

SAMPLE = 300


@pytest.fixture(scope="module")
def short_detector():
    return FaceDetector("short")


def every_nth(items, count):
    return items[:: max(1, len(items) // count)][:count]


def test_anchor_counts_match_the_models():
    assert ssd_anchors(128, (8, 16, 16, 16), 2).shape == (896, 2)
    assert ssd_anchors(192, (4,), 1).shape == (2304, 2)


def test_faces_found_in_mtfl_and_eyes_inside_box(data_dir, short_detector):
    eyes = mtfl_eyes(data_dir / "mtfl", "train")
    paths = every_nth(sorted(eyes), SAMPLE)
    found, eyes_inside = 0, 0
    for path in paths:
        faces = short_detector.detect(load_image(path))
        if not faces:
            continue
        found += 1
        x0, y0, x1, y1 = faces[0].box
        eyes_inside += all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in eyes[path])
    assert found >= 0.97 * SAMPLE
    assert eyes_inside >= 0.97 * found


def test_faces_found_in_celeba(data_dir, short_detector):
    records = every_nth(load_celeba(data_dir / "celeba"), SAMPLE)
    found = sum(bool(short_detector.detect(load_image(r.path))) for r in records)
    assert found >= 0.97 * SAMPLE


def test_detected_eyes_are_subject_right_then_left(data_dir, short_detector):
    """Keypoint 0 is the subject's right eye: on the image's left in frontal photos."""
    eyes = mtfl_eyes(data_dir / "mtfl", "train")
    paths = every_nth(sorted(eyes), 40)
    order_ok = [f.right_eye[0] < f.left_eye[0] for p in paths for f in short_detector.detect(load_image(p))[:1]]
    assert np.mean(order_ok) > 0.95


def group_photo(data_dir, count: int, face_size: int, canvas=(1280, 720)) -> np.ndarray:
    """Real faces pasted side by side on a grey canvas."""
    paths = sorted((data_dir / "mtfl" / "lfw_5590").glob("*.jpg"))[:count]
    canvas_im = Image.new("RGB", canvas, (128, 128, 128))
    step = canvas[0] // count
    for i, path in enumerate(paths):
        face = Image.open(path).convert("RGB").crop((50, 50, 200, 200)).resize((face_size, face_size))
        canvas_im.paste(face, (i * step + (step - face_size) // 2, (canvas[1] - face_size) // 2))
    return np.asarray(canvas_im)


def test_group_photo_finds_every_face(data_dir):
    image = group_photo(data_dir, 4, 240)
    faces = Detectors(CropConfig()).detect(image)
    assert len(faces) == 4
    centres = sorted((f.box[0] + f.box[2]) / 2 for f in faces)
    assert all(abs(c - (i + 0.5) * 320) < 60 for i, c in enumerate(centres))


def test_small_faces_are_found_in_tiles(data_dir):
    # 220-px faces in a 1920x1080 photo are ~15 px at the short-range model's 128-px input;
    # "auto" looks again on tiles a third of the photo wide
    image = group_photo(data_dir, 5, 220, canvas=(1920, 1080))
    assert len(FaceDetector("short").detect(image)) <= 1
    faces = Detectors(CropConfig(detector="auto")).detect(image)
    assert len(faces) >= 4
    boxes = sorted(f.box for f in faces)
    assert all(b[0] > a[2] for a, b in zip(boxes, boxes[1:]))  # each face once


def test_no_face_in_a_blank_image(short_detector):
    assert short_detector.detect(np.full((480, 640, 3), 200, np.uint8)) == []
