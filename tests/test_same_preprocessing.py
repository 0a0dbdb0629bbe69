"""What every front end feeds the model is the photo's pixels, the same at training and serving.

Every peer project we studied broke here (x/255 at training and raw pixels at serving, RGB
against BGR, centre crops against aligned crops). A short reference that shares no code with
the core — OpenCV decodes the photo and cuts the face's square out of it with ``warpAffine``,
from the geometry the core reports — gives the expected model input of real photos; what
training's crop cache and its batches, the runtime, the REST server (in process) and the folder
runner feed the model is compared with it, and with each other.
"""
import contextlib
import io
import math

import cv2
import numpy as np
import pytest

from glasses_core import GlassesClassifier, ModelConfig
from research_and_train_nn.data.datasets import Record
from research_and_train_nn.data.crops import make_crops
from serving import ROOT, FedInputs, post_in_process

PHOTOS = ["mtfl/lfw_5590/Aaron_Eckhart_0001.jpg", "mtfl/AFLW/0001-image20056.jpg",
          "mtfl/AFLW/0002-image04733.jpg", "celeba/img_align_celeba/000001.jpg",
          "celeba/img_align_celeba/000053.jpg"]
FLOAT_MODEL = ROOT / "models" / "glasses_float32.json"  # float input: a stray /255 shows in what it is fed
INT8_MODEL = ROOT / "models" / "glasses.json"  # the default, uint8 input
# Pillow's bilinear (a triangle filter when it shrinks) and the reference's (bilinear samples
# averaged over boxes), and the two JPEG decoders, differ a little. Measured on these 8 photos:
# mean |difference| 0.81-1.40 levels of 255 per photo, 99th percentile 3-9. Limits: about 1.8x
# the worst. Swapping red and blue alone gives a mean of 27-57 on the same photos; x/255, a BGR
# decode or a centre crop differ by more.
MAX_MEAN_DIFFERENCE = 2.5
MAX_P99_DIFFERENCE = 16.0


@pytest.fixture(scope="module")
def photos(data_dir):
    """Photos of every size and source we train on, plus three from MTFL's web part."""
    paths = [data_dir / p for p in PHOTOS] + sorted((data_dir / "mtfl" / "net_7876").glob("*.jpg"))[:3]
    return [str(p) for p in paths]


def reference_crop(path: str, geometry, size: int) -> np.ndarray:
    """The model input by OpenCV alone: the rotated square (centre, side, angle) sampled
    bilinearly on a grid of at least one point per photo pixel (past the photo's edges, its edge
    pixels carried on, as the crop has them since preprocessing 9), averaged down to size x size."""
    image = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    fine = size * max(2, math.ceil(geometry.side / size))
    step = geometry.side / fine
    cos, sin = math.cos(geometry.angle), math.sin(geometry.angle)
    # fine pixel (u, v) -> photo point centre + R(angle) (u + 1/2 - fine/2, v + 1/2 - fine/2) step;
    # OpenCV puts pixel centres at whole numbers, hence the -1/2 on both sides.
    offset = 0.5 - fine / 2
    matrix = np.array([[cos * step, -sin * step, geometry.centre[0] - 0.5 + (cos - sin) * step * offset],
                       [sin * step, cos * step, geometry.centre[1] - 0.5 + (sin + cos) * step * offset]])
    patch = cv2.warpAffine(image, matrix, (fine, fine), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def references(photos):
    """The reference input of each photo's largest face (where the core says that face is)."""
    classifier = GlassesClassifier(INT8_MODEL)
    size = classifier.config.crop.size
    return np.stack([reference_crop(p, classifier.crops(p)[0].geometry, size) for p in photos])


def difference(fed: np.ndarray, references: np.ndarray) -> tuple[float, float]:
    """(worst photo's mean |difference|, worst photo's 99th percentile), in levels of 255."""
    d = np.abs(np.asarray(fed, np.float64) - references).reshape(len(references), -1)
    return float(d.mean(1).max()), float(np.percentile(d, 99, axis=1).max())


def assert_like_reference(fed: np.ndarray, references: np.ndarray, what: str) -> None:
    mean, p99 = difference(fed, references)
    print(f"\n{what} against the OpenCV reference, per photo: mean |difference| "
          f"{np.round(np.abs(np.asarray(fed, np.float64) - references).mean((1, 2, 3)), 2)}, worst p99 {p99:.1f}")
    assert fed.shape == references.shape
    assert mean <= MAX_MEAN_DIFFERENCE and p99 <= MAX_P99_DIFFERENCE, what


@pytest.fixture(scope="module")
def training_crops(photos, tmp_path_factory):
    """The crops training would use, computed fresh and then read back from the cache."""
    config = ModelConfig.load(INT8_MODEL)
    records = [Record(p, 0, None, "test") for p in photos]
    cache = tmp_path_factory.mktemp("cache")
    fresh = make_crops(records, config.crop, cache, workers=1, progress=False)
    cached = make_crops(records, config.crop, cache, workers=1, progress=False)
    np.testing.assert_array_equal(fresh.crops, cached.crops)
    assert fresh.ok.all() and fresh.face_found.all()
    return fresh.crops


def test_the_training_crops_are_the_reference_crops(training_crops, references):
    assert_like_reference(training_crops, references, "training's crop cache")


def test_training_batches_are_the_crops_unscaled(training_crops):
    """What Keras is fed (research_and_train_nn/training/fit.py): at augmentation strength 0, the crops
    as they are, 0-255 in float32 (the model rescales them itself)."""
    from research_and_train_nn.training.fit import AugmentedCrops
    data = AugmentedCrops(training_crops, np.zeros(len(training_crops)), batch_size=3, seed=0)
    data.start_epoch(0, 0.0)
    images = np.concatenate([data[i][0] for i in range(len(data))])
    assert images.dtype == np.float32
    np.testing.assert_array_equal(images, training_crops[data._order].astype(np.float32))


@pytest.mark.parametrize("model", [FLOAT_MODEL, INT8_MODEL], ids=["float32", "int8"])
def test_the_runtime_feeds_the_model_the_reference_crops(photos, references, training_crops, model):
    with FedInputs() as fed:
        classifier = GlassesClassifier(model)
        for path in photos:
            classifier.predict(path)
    inputs = np.stack([tensor[0] for tensor in fed.tensors])  # each photo's largest face
    assert len(inputs) == len(photos) and inputs.dtype == classifier._interpreter().get_input_details()[0]["dtype"]
    assert_like_reference(inputs, references, f"the runtime ({model.name})")
    np.testing.assert_array_equal(inputs, training_crops)


def test_the_server_feeds_the_model_the_reference_crops(photos, references, training_crops):
    from deploy.rest_server.server import make_serving
    with FedInputs() as fed:
        serving = make_serving(GlassesClassifier(FLOAT_MODEL))
        for path in photos:  # one at a time: the fed tensors come in the photos' order
            (response,) = post_in_process(serving, [(path.rsplit("/", 1)[1], open(path, "rb").read())])
            assert response.code == 200, response.body
    inputs = np.stack([tensor[0] for tensor in fed.tensors])
    assert_like_reference(inputs, references, "the server")
    np.testing.assert_array_equal(inputs, training_crops)


def test_the_folder_runner_feeds_the_model_the_reference_crops(photos, references, training_crops):
    from deploy.run_on_folder import main as run_on_folder
    with FedInputs() as fed, contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        for path in photos:
            assert run_on_folder([path, "--model", str(FLOAT_MODEL), "--workers", "1", "--all"]) == 0
    inputs = np.stack([tensor[0] for tensor in fed.tensors])
    assert_like_reference(inputs, references, "the folder runner")
    np.testing.assert_array_equal(inputs, training_crops)
