"""Crops for training and evaluation, made once with the core's preprocessing (crop_cache.py)
by a process pool on this machine or by Ray Data (crops_on_ray.py)."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
import dataclasses
import json
from pathlib import Path

import numpy as np

from glasses_core import CropConfig
from research_and_train_nn.data.crop_cache import DEFAULT_CACHE, crop_key, crop_one, init_worker
from research_and_train_nn.data.crop_variants import VARIANTS
from research_and_train_nn.data.crops_on_ray import crop_on_ray
from research_and_train_nn.data.datasets import Record


@dataclass
class CropSet:
    """Crops aligned with their records; ``face_found[i]`` is False for fallback crops and
    ``ok[i]`` False for files that could not be read (their crop is all zeros)."""
    records: list[Record]
    crops: np.ndarray
    face_found: np.ndarray
    ok: np.ndarray
    variants: np.ndarray | None = None  # (N, K, size, size, 3): each crop made other ways (crop_variants.py)

    @property
    def labels(self) -> np.ndarray:
        return np.array([r.label for r in self.records], dtype=np.int32)

    def subset(self, index) -> "CropSet":
        index = np.asarray(index)
        return CropSet([self.records[i] for i in index], self.crops[index], self.face_found[index],
                       self.ok[index], None if self.variants is None else self.variants[index])

    def summary(self) -> dict:
        return {"images": len(self.records), "unreadable": int((~self.ok).sum()),
                "no_face": int((self.ok & ~self.face_found).sum()),
                "with_glasses": int(self.labels.sum())}


ENGINES = ("local", "ray")  # a process pool on this machine, or Ray Data (prepare_on_ray.py)


def make_crops(records: list[Record], config: CropConfig, cache_dir: Path = DEFAULT_CACHE,
               workers: int | None = None, progress: bool = True, engine: str = "local",
               variants: bool = False) -> CropSet:
    """Crop every record with the core's ``preprocess`` (the largest face), using the cache; with
    ``variants``, also each crop made the ways of crop_variants.VARIANTS.
    ``workers``: processes (local) or actors (ray; default one per CPU)."""
    cache = Path(cache_dir) / crop_key(config)
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "crop_config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))
    paths = [r.path for r in records]
    if engine == "ray":
        return _crop_set(records, config, crop_on_ray(paths, config, cache, workers, variants=variants),
                         progress=False, variants=variants)
    if engine != "local":
        raise ValueError(f"unknown engine {engine!r}: one of {', '.join(ENGINES)}")
    workers = workers or min(2, os.cpu_count() or 1)
    with ProcessPoolExecutor(workers, initializer=init_worker, initargs=(config, str(cache), variants)) as pool:
        return _crop_set(records, config, pool.map(crop_one, paths, chunksize=64), progress, variants)


def _crop_set(records: list[Record], config: CropConfig, results, progress: bool, variants: bool = False) -> CropSet:
    """A CropSet from crop_one's (crop, face_found, ok, variants) of each record, in order."""
    size = config.size
    crops = np.zeros((len(records), size, size, 3), dtype=np.uint8)
    others = np.zeros((len(records), len(VARIANTS), size, size, 3), dtype=np.uint8) if variants else None
    found = np.zeros(len(records), dtype=bool)
    ok = np.zeros(len(records), dtype=bool)
    for i, (crop, face, good, made) in enumerate(_progress(results, len(records), progress)):
        if good:
            crops[i], found[i], ok[i] = crop, face, True
            if variants:
                others[i] = made
    return CropSet(records, crops, found, ok, others)


def _progress(iterable, total: int, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, total=total, desc="cropping", unit="img", disable=None)  # None: off when not a terminal
