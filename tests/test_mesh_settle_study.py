"""The mesh-settling study's refiner (research_and_train_nn/studies/mesh_settle_study.py): the
product's rule gives the product's eyes, and its count of face-mesh looks is the rule's."""
from pathlib import Path

import numpy as np

from glasses_core import CropConfig, Detectors, preprocess
from glasses_core.locate import MESH_PASSES, MESH_SETTLED
from research_and_train_nn.studies.mesh_settle_study import CountingRefiner


def eyes_and_looks(photo, passes, settled):
    detectors = Detectors(CropConfig())
    detectors.refiner = refiner = CountingRefiner(CropConfig(), passes, settled)
    faces = [c.face for c in preprocess(photo, detectors, CropConfig()) if c.face is not None]
    return np.array([[f.right_eye, f.left_eye] for f in faces]), refiner.looks, len(faces)


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_the_product_rule_gives_the_product_eyes_and_one_look_a_pass():
    photo = str(sorted(EXAMPLES.glob("*.jpg"))[0])  # a real face photo the README's demo reads
    product = [c.face for c in preprocess(photo, Detectors(CropConfig()), CropConfig()) if c.face is not None]
    eyes, looks, faces = eyes_and_looks(photo, MESH_PASSES, MESH_SETTLED)
    assert faces == len(product) >= 1
    np.testing.assert_array_equal(eyes, [[f.right_eye, f.left_eye] for f in product])
    assert faces <= looks <= MESH_PASSES * faces
    _, one_look, found = eyes_and_looks(photo, 1, MESH_SETTLED)
    assert one_look == found  # at most one look a face: the count is the refiner's own
    _, many, _ = eyes_and_looks(photo, 8, 0.0)  # never settled: every face looked at 8 times
    assert many == 8 * faces
