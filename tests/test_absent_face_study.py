"""The absent-face study (research_and_train_nn/studies/absent_face_study.py): its rule, switched on
and off around the product's preprocessing, drops the false face of the benchmarks' 1920 x 1080 frame
without a face and also a real validation face the mesh reads absent; the product keeps both."""
import pytest

import glasses_core.crop
from glasses_core import GlassesClassifier
from glasses_core.locate import find_faces
from research_and_train_nn.studies.absent_face_study import RULES, rule
from test_locate import benchmark_frame
from test_presence_study import TINTED


def test_the_rule_is_switched_off_again_even_after_an_error():
    with pytest.raises(RuntimeError), rule("dropped"):
        assert glasses_core.crop.find_faces is not find_faces
        raise RuntimeError
    assert glasses_core.crop.find_faces is find_faces
    with rule("product"):
        assert glasses_core.crop.find_faces is find_faces
    assert RULES == ("product", "dropped")


def test_the_rule_drops_a_false_face_and_a_real_one_the_product_keeps(data_dir):
    classifier = GlassesClassifier()
    photos = {"the benchmarks' 1080p frame without a face": benchmark_frame("1920x1080", face=False),
              "a real face tinted green (label: no glasses)": str(data_dir / "mtfl" / TINTED)}
    found = {}
    for name in RULES:
        with rule(name):
            found[name] = {what: classifier.predict(photo).face_found for what, photo in photos.items()}
    assert all(found["product"].values()) and not any(found["dropped"].values())
