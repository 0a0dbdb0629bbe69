"""The crop cache built on Ray Data: ``prepare.py --engine ray``.

Each photo goes through crop_cache.py's own ``crop_one`` inside an actor set up by its own
``init_worker``, so the cache holds byte for byte the crops of the local process pool, in the
same layout. On a cluster, ``--cache`` must be a folder every node sees (NFS, a mounted
bucket): each node writes the crops it makes there, and the driver gets them back in order.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from deploy.ray_session import ray_session
from glasses_core import CropConfig
from research_and_train_nn.data.crop_cache import crop_one, init_worker
from research_and_train_nn.data.crop_variants import VARIANTS

BATCH = 32  # photos per actor call
BLOCK = 256  # photos per Ray Data block


class Cropper:
    """Ray Data actor: a crop-cache worker (face detectors loaded once) cropping batches of paths."""

    def __init__(self, config: CropConfig, cache: str, variants: bool = False):
        init_worker(config, cache, variants)
        self.blank = np.zeros((config.size, config.size, 3), dtype=np.uint8)
        self.blanks = np.zeros((len(VARIANTS), config.size, config.size, 3), dtype=np.uint8) if variants else None

    def __call__(self, batch: dict) -> dict:
        results = [crop_one(str(path)) for path in batch["path"]]
        out = {"index": batch["index"],
               "crop": np.stack([self.blank if crop is None else crop for crop, _, _, _ in results]),
               "found": np.array([found for _, found, _, _ in results]),
               "ok": np.array([ok for _, _, ok, _ in results])}
        if self.blanks is not None:
            out["variants"] = np.stack([self.blanks if made is None else made for _, _, _, made in results])
        return out


def crop_on_ray(paths: list[str], config: CropConfig, cache: Path, actors: int | None = None,
                address: str | None = None, variants: bool = False) -> list[tuple]:
    """(crop or None, face_found, ok, variants or None) for each path, in order, as
    crop_cache.crop_one gives them."""
    import ray
    results: list[tuple] = [(None, False, False, None)] * len(paths)
    with ray_session(address) as cpus:
        actors = actors or cpus
        items = [{"index": i, "path": path} for i, path in enumerate(paths)]
        dataset = ray.data.from_items(items, override_num_blocks=max(actors, math.ceil(len(paths) / BLOCK)))
        dataset = dataset.map_batches(Cropper, fn_constructor_args=(config, str(cache), variants), batch_size=BATCH,
                                      batch_format="numpy", num_cpus=1,
                                      compute=ray.data.ActorPoolStrategy(size=actors))
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            made = batch["variants"] if variants else [None] * len(batch["index"])
            for i, crop, found, ok, more in zip(batch["index"], batch["crop"], batch["found"], batch["ok"], made):
                results[int(i)] = (crop if ok else None, bool(found), bool(ok), more if ok else None)
    return results
