"""How a model's answers hold when the crop is made another way: its eyes moved, other filters.

For each validation photo whose face is found, the core's crop is made again with each eye moved by
Gaussian noise of NOISES eye distances (seeded per photo: every run sees the same moves), and with
the filters an app might use instead of the core's (data/crop_variants.py). A model is scored on
each set at its own threshold; issue 28's aims are F1 at noise 0.06 within 0.01 of the unmoved
crops', at 0.10 within 0.03, and every filter within 0.01. The crops depend on the photos and the
crop settings only, so they are made once and cached (cache/robustness/).
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np

from glasses_core import CropConfig, Detectors, GlassesError, open_photo, preprocess
from glasses_core.crop import eye_geometry
from research_and_train_nn.data.crop_cache import crop_key
from research_and_train_nn.data.crop_variants import moved_eyes, resampled
from research_and_train_nn.data.npz_cache import cached_arrays
from research_and_train_nn.evaluation.metrics import metrics

NOISES = (0.03, 0.06, 0.10)  # eye moves, in eye distances (each eye, x and y)
FILTERS = ("bilinear", "area", "lanczos")
_worker: dict = {}


def variant_names() -> list[str]:
    return ["core"] + [f"eyes moved {n:.2f}" for n in NOISES] + [f"filter {f}" for f in FILTERS]


def robustness_crops(paths: list[str], config: CropConfig, workers: int = 2) -> dict:
    """{"found": (N,) bool, name: (N, size, size, 3) crops for each of variant_names()}; a photo
    whose face is not found (or unreadable) keeps the core's crop in every set. Cached."""
    def make() -> dict:
        with ProcessPoolExecutor(workers, initializer=_init, initargs=(config,)) as pool:
            rows = list(pool.map(_one, enumerate(paths), chunksize=32))
        out = {"found": np.array([found for found, _ in rows])}
        for i, name in enumerate(variant_names()):
            out[name] = np.stack([crops[i] for _, crops in rows])
        return out
    return cached_arrays("robustness", [crop_key(config), NOISES, FILTERS, paths], make)


def _init(config: CropConfig) -> None:
    _worker.update(config=config, detectors=Detectors(config))


def _one(item) -> tuple[bool, list[np.ndarray]]:
    index, path = item
    config = _worker["config"]
    blank = np.zeros((config.size, config.size, 3), np.uint8)
    try:
        photo = open_photo(path)
        crop = preprocess(photo, _worker["detectors"], config)[0]
    except GlassesError:
        return False, [blank] * len(variant_names())
    if crop.face is None:
        return False, [crop.pixels] * len(variant_names())
    rng = np.random.default_rng([index, 28])
    eyes = np.array([crop.face.right_eye, crop.face.left_eye])
    crops = [crop.pixels]
    crops += [resampled(photo, eye_geometry(*moved_eyes(eyes, noise, rng), config), config, "core") for noise in NOISES]
    crops += [resampled(photo, crop.geometry, config, method) for method in FILTERS]
    return True, crops


def robustness_metrics(probabilities: dict[str, np.ndarray], labels: np.ndarray, threshold: float) -> dict:
    """F1 (and the change from the core's crops) of each variant, at ``threshold``."""
    base = metrics(labels, probabilities["core"], threshold)["f1"]
    out = {}
    for name, p in probabilities.items():
        f1 = metrics(labels, p, threshold)["f1"]
        out[name] = {"f1": f1, "change": f1 - base}
    return out
