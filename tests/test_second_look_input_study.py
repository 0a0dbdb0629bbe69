"""The second-look input study (research_and_train_nn/studies/second_look_input_study.py): its ways,
switched on and off around the product's looks, really read what preprocessing 12 read (each turn
resized again, a canvas twice the view's size) and 13 (no image over the detector's input); both find
a conformance close-up's face and a head on its side in the same place (its report: tests/test_ways.py)."""
from pathlib import Path

import pytest

from glasses_core import CropConfig, Detectors
from glasses_core.image_io import open_photo
from research_and_train_nn.studies.second_look_input_study import WAYS
from test_locate import benchmark_frame, resizes_and_canvases

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "conformance" / "photos"


def test_each_way_is_switched_off_again_even_after_an_error():
    product = Detectors.detect_turned, Detectors.detect_widened
    with pytest.raises(RuntimeError), WAYS["preprocessing 12"]():
        assert (Detectors.detect_turned, Detectors.detect_widened) != product
        raise RuntimeError
    assert (Detectors.detect_turned, Detectors.detect_widened) == product
    with WAYS["turned copy only"]():
        assert Detectors.detect_turned is product[0] and Detectors.detect_widened is not product[1]
    assert list(WAYS) == ["preprocessing 12", "turned copy only", "preprocessing 13"]


def test_preprocessing_12_resized_each_turn_and_a_canvas_twice_the_view(monkeypatch):
    detectors = Detectors(CropConfig(detector="short"))
    made = {}
    for name in ("preprocessing 12", "preprocessing 13"):
        photo = open_photo(benchmark_frame("640x480", face=False))
        detectors.detect(photo)
        with WAYS[name]():
            made[name] = resizes_and_canvases(monkeypatch)
            detectors.detect_turned(photo)
            detectors.detect_widened(photo)
        monkeypatch.undo()
    assert made["preprocessing 12"]["new"] == [(640, 640)]
    assert made["preprocessing 12"]["resized"] == [((240, 320), (96, 128))] * 2 + [((320, 240), (128, 96)),
                                                                                  ((640, 640), (128, 128))]
    assert made["preprocessing 13"] == {"new": [(128, 128)], "resized": [((320, 240), (64, 48))]}


@pytest.mark.parametrize("photo, look", [("close_up.jpg", "detect_widened"), ("lying.jpg", "detect_turned")])
def test_both_ways_find_the_conformance_faces_in_the_same_place(photo, look):
    detectors, boxes = Detectors(CropConfig()), {}
    for name in ("preprocessing 12", "preprocessing 13"):
        with WAYS[name]():
            found = getattr(detectors, look)(open_photo(PHOTOS / photo))
        faces = found if look == "detect_widened" else [f for _, turn in found for f in turn]
        boxes[name] = max(faces, key=lambda f: f.score).box
    old, new = boxes.values()
    side = old[2] - old[0]
    assert max(abs(a - b) for a, b in zip(old, new)) < 0.05 * side, boxes
