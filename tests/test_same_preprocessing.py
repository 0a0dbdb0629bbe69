"""Train-time and serve-time inputs are identical.

Every peer project we studied broke here (trained on x/255 and served raw pixels, trained on
aligned crops and served centre crops). Training crops come from research_and_train_nn.prepare
(through its cache); serving crops from the runtime that the folder runner and server call.
"""

import numpy as np
import pytest

from glasses_core import GlassesClassifier, ModelConfig
from research_and_train_nn.datasets import Record
from research_and_train_nn.prepare import make_crops

PHOTOS = ["mtfl/lfw_5590/Aaron_Eckhart_0001.jpg", "mtfl/AFLW/0001-image20056.jpg",
          "mtfl/AFLW/0002-image04733.jpg", "celeba/img_align_celeba/000001.jpg",
          "celeba/img_align_celeba/000053.jpg"]


@pytest.fixture(scope="module")
def photos(data_dir):
    """Photos of every size and source we train on, plus three from MTFL's web part."""
    paths = [data_dir / p for p in PHOTOS] + sorted((data_dir / "mtfl" / "net_7876").glob("*.jpg"))[:3]
    return [str(p) for p in paths]


@pytest.fixture(scope="module")
def training_crops(photos, tiny_model_json, tmp_path_factory):
    """The crops training would use, computed fresh and then read back from the cache."""
    config = ModelConfig.load(tiny_model_json)
    records = [Record(p, 0, None, "test") for p in photos]
    cache = tmp_path_factory.mktemp("cache")
    fresh = make_crops(records, config.crop, cache, workers=1, progress=False)
    cached = make_crops(records, config.crop, cache, workers=1, progress=False)
    np.testing.assert_array_equal(fresh.crops, cached.crops)
    assert fresh.ok.all()
    return fresh.crops


def test_runtime_feeds_the_model_the_training_crops(photos, training_crops, tiny_model_json):
    classifier = GlassesClassifier(tiny_model_json)
    fed = []
    original = classifier.predict_crops
    classifier.predict_crops = lambda crops: fed.append(np.array(crops)) or original(crops)
    for path in photos:
        classifier.predict(path)
    for path, crops, expected in zip(photos, fed, training_crops):
        assert crops.dtype == np.uint8
        np.testing.assert_array_equal(crops[0], expected, err_msg=path)  # largest face first


def test_probabilities_match_between_training_crops_and_photos(photos, training_crops, tiny_model_json):
    classifier = GlassesClassifier(tiny_model_json)
    from_crops = classifier.predict_crops(training_crops)
    from_photos = [max(f.probability for f in classifier.predict(p).faces[:1]) for p in photos]
    np.testing.assert_allclose(from_photos, from_crops, atol=1e-6)
