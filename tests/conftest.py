"""Shared fixtures: real photos from ../shared/data and a tiny, really trained model."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"{DATA} is missing: the tests read real photos from ../shared/data")
    return DATA


@pytest.fixture(scope="session")
def mtfl_records(data_dir):
    from research_and_train_nn.data.datasets import load_mtfl
    return load_mtfl(data_dir / "mtfl", "train")


# 600 real crops (half with glasses), 4 epochs at batch 8 and a peak learning rate of 1e-3:
# about a minute on 2 cores. Ad-hoc runs of these settings, scored on 600 held-out crops, gave
# ROC-AUCs of 0.64-0.67 after 2 epochs (too close to chance for a steady test), 0.70-0.74 after 4.
TINY_TRAIN = dict(max_train=600, balanced_subset=True, epochs=4, batch_size=8, peak_lr=1e-3, bn_momentum=0.9,
                  patience=5, test="", strength_start=0.0, strength_end=0.3, seed=3)


@pytest.fixture(scope="session")
def crop_cache(tmp_path_factory):
    """The repo's crop cache: crops are keyed by content, so sharing it is safe and fast."""
    from research_and_train_nn.data.crops import DEFAULT_CACHE
    return DEFAULT_CACHE


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, data_dir, crop_cache):
    """A run folder of a tiny model, really trained for 4 epochs on 600 real crops."""
    from research_and_train_nn.training.config import TrainConfig
    from research_and_train_nn.training.run import run
    config = TrainConfig(datasets=(f"mtfl:{data_dir / 'mtfl'}", f"celeba:{data_dir / 'celeba'}"),
                         **TINY_TRAIN)
    return run(config, tmp_path_factory.mktemp("tiny_run"), cache=crop_cache)


@pytest.fixture(scope="session")
def tiny_kind_run(tmp_path_factory, data_dir, crop_cache):
    """A run folder of a tiny two-answer model (glasses, and which: kind_weight), really trained
    like tiny_run on 600 real crops of all three pools, balanced within each pool."""
    from research_and_train_nn.training.config import TrainConfig
    from research_and_train_nn.training.run import run
    config = TrainConfig(datasets=(f"mtfl:{data_dir / 'mtfl'}", f"celeba:{data_dir / 'celeba'}",
                                   f"celeba:{data_dir / 'celeba_more'}"),
                         **{**TINY_TRAIN, "seed": 5}, kind_weight=1.0, source_balance=True)
    return run(config, tmp_path_factory.mktemp("tiny_kind_run"), cache=crop_cache)


@pytest.fixture(scope="session")
def tiny_exports(tiny_run, tmp_path_factory):
    """The tiny model exported to float32, float16 and int8 TFLite, each with its .json."""
    import keras
    import numpy as np

    from converters.to_tflite import export_tflite
    from glasses_core import ModelConfig
    model = keras.models.load_model(tiny_run / "model.keras", compile=False)
    with np.load(tiny_run / "train_crops.npz") as calibration:
        representative = calibration["crops"]
    return export_tflite(model, ModelConfig.load(tiny_run / "config.json"),
                         tmp_path_factory.mktemp("tiny_model"), representative=representative)


@pytest.fixture(scope="session")
def tiny_kind_model_json(tiny_kind_run, tmp_path_factory):
    """The tiny two-answer model exported to float32 TFLite: usable as GlassesClassifier(model=...)."""
    import keras

    from converters.to_tflite import export_tflite
    from glasses_core import ModelConfig
    model = keras.models.load_model(tiny_kind_run / "model.keras", compile=False)
    paths = export_tflite(model, ModelConfig.load(tiny_kind_run / "config.json"),
                          tmp_path_factory.mktemp("tiny_kind_model"), variants=("float32",))
    return paths["float32"].with_suffix(".json")


@pytest.fixture(scope="session")
def everyone_wears_glasses(tiny_kind_model_json, tmp_path_factory):
    """The tiny model that says which glasses, with threshold 0: every face wears glasses, so
    every face gets a kind."""
    folder = tmp_path_factory.mktemp("threshold_zero")
    for path in tiny_kind_model_json.parent.glob(tiny_kind_model_json.stem + "*"):
        shutil.copy(path, folder / path.name)
    model = folder / tiny_kind_model_json.name
    model.write_text(json.dumps({**json.loads(model.read_text()), "threshold": 0.0}))
    return model


@pytest.fixture(scope="session")
def tiny_model_json(tiny_exports):
    """Path of the tiny model's float32 metadata, usable as GlassesClassifier(model=...)."""
    return tiny_exports["float32"].with_suffix(".json")


@pytest.fixture(scope="session")
def local_ray():
    """A local Ray of 2 CPUs (CI's machine), its workers importing this checkout; stopped after."""
    import ray
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning",
             runtime_env={"env_vars": {"PYTHONPATH": python_path}})
    yield ray
    ray.shutdown()
