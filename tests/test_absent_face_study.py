"""The absent-face study (research_and_train_nn/studies/absent_face_study.py): its rules, switched on
and off around the product's preprocessing. The dropping rule drops the false face of the benchmarks'
1920 x 1080 frame without a face and also a real validation face the mesh reads absent; preprocessing
11's rule and the product's keep both, the product refining the false face no further."""
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
    with rule("refined no further"):
        assert glasses_core.crop.find_faces is find_faces  # the product's rule
    assert list(RULES) == ["refined in full", "refined no further", "dropped"]


def test_the_dropping_rule_drops_a_false_face_and_a_real_one_the_others_keep(data_dir):
    classifier = GlassesClassifier()
    photos = {"the benchmarks' 1080p frame without a face": benchmark_frame("1920x1080", face=False),
              "a real face tinted green (label: no glasses)": str(data_dir / "mtfl" / TINTED)}
    found = {}
    for name in RULES:
        with rule(name):
            found[name] = {what: classifier.predict(photo).face_found for what, photo in photos.items()}
    assert all(found["refined in full"].values()) and all(found["refined no further"].values())
    assert not any(found["dropped"].values())
