"""The mirror-average study (research_and_train_nn/studies/mirror_average_study.py): its way is switched
off again even after an error; within it a real crop and its mirror image get the same P(glasses), the
mean of the two the product gives, and the same P(dark | glasses) as the crop alone (its report:
tests/test_ways.py)."""
from pathlib import Path

import numpy as np
import pytest

from glasses_core import GlassesClassifier
from research_and_train_nn.studies.mirror_average_study import WAYS

ROOT = Path(__file__).resolve().parent.parent


def test_the_way_is_switched_off_again_even_after_an_error():
    product = GlassesClassifier.predict_crops_and_kinds
    with pytest.raises(RuntimeError), WAYS["the crop and its mirror, averaged"]():
        assert GlassesClassifier.predict_crops_and_kinds is not product
        raise RuntimeError
    assert GlassesClassifier.predict_crops_and_kinds is product


def test_a_crop_and_its_mirror_get_the_mean_of_their_answers():
    classifier = GlassesClassifier()
    crops = np.stack([c.pixels for path in sorted((ROOT / "examples").glob("*.jpg"))[:6]
                      for c in classifier.crops(path)])
    mirrored = np.ascontiguousarray(crops[:, :, ::-1])
    alone, dark = classifier.predict_crops_and_kinds(crops)
    alone_mirrored = classifier.predict_crops(mirrored)
    with WAYS["the crop and its mirror, averaged"]():
        both, both_dark = classifier.predict_crops_and_kinds(crops)
        both_mirrored = classifier.predict_crops(mirrored)
    assert np.array_equal(both, both_mirrored)
    assert np.allclose(both, (alone + alone_mirrored) / 2)
    assert np.abs(alone - alone_mirrored).max() > 0  # the model alone does answer a mirror image otherwise
    assert (dark is None and both_dark is None) or np.array_equal(dark, both_dark)
