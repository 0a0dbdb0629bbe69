"""Crops for training and evaluation, computed once with the core's preprocessing and cached.

The cache key is the image's content (sha256) plus the crop parameters and a digest of the
preprocessing code, face models and decoding libraries, so moving a dataset or changing the
crop never serves a stale crop. Photos where no face was found keep the core's
fallback crop and are counted.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import importlib.metadata
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

import glasses_core
from glasses_core import CropConfig, Detectors, GlassesError, open_photo, preprocess
from glasses_core.crop import PREPROCESS_VERSION
from glasses_core.face_detect import model_dir
from research_and_train_nn.datasets import Record, load

DEFAULT_CACHE = Path(__file__).resolve().parent.parent / "cache" / "crops"
CORE = Path(glasses_core.__file__).resolve().parent
FACE_MODELS = ("face_detection_short_range.tflite", "face_detection_full_range.tflite", "face_landmark.tflite")


@dataclass
class CropSet:
    """Crops aligned with their records; ``face_found[i]`` is False for fallback crops and
    ``ok[i]`` False for files that could not be read (their crop is all zeros)."""
    records: list[Record]
    crops: np.ndarray
    face_found: np.ndarray
    ok: np.ndarray

    @property
    def labels(self) -> np.ndarray:
        return np.array([r.label for r in self.records], dtype=np.int32)

    def subset(self, index) -> "CropSet":
        index = np.asarray(index)
        return CropSet([self.records[i] for i in index], self.crops[index], self.face_found[index],
                       self.ok[index])

    def summary(self) -> dict:
        return {"images": len(self.records), "unreadable": int((~self.ok).sum()),
                "no_face": int((self.ok & ~self.face_found).sum()),
                "with_glasses": int(self.labels.sum())}


def crop_key(config: CropConfig, core: Path = CORE) -> str:
    """Cache folder name: the crop parameters and the preprocessing itself (preprocessing_digest)."""
    text = json.dumps({**dataclasses.asdict(config), "version": PREPROCESS_VERSION,
                       "code": preprocessing_digest(core)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def preprocessing_digest(core: Path = CORE) -> str:
    """A digest of everything that makes a crop's pixels: the core package's source, the face
    models it runs, and the versions of the libraries that decode and run them. Any change to
    one of them gives a new cache folder, so no stale crop is ever trained or tested on."""
    digest = hashlib.sha256()
    for path in sorted(core.glob("*.py")) + [model_dir() / name for name in FACE_MODELS]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for package in ("pillow", "pillow-heif", "numpy", "ai-edge-litert"):
        digest.update(f"{package}=={importlib.metadata.version(package)}".encode())
    return digest.hexdigest()[:16]


_worker = {}


def _init_worker(config: CropConfig, cache_dir: str):
    _worker.update(config=config, cache=Path(cache_dir), detectors=Detectors(config))


def _crop_one(path: str):
    """(crop, face_found, ok) for one file, from the cache when possible."""
    config, cache = _worker["config"], _worker["cache"]
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None, False, False
    digest = hashlib.sha256(data).hexdigest()
    for found, suffix in ((True, ".png"), (False, ".noface.png")):
        cached = cache / digest[:2] / (digest + suffix)
        if cached.is_file():
            return np.asarray(Image.open(cached).convert("RGB")), found, True
    try:
        crop = preprocess(open_photo(data, name=path), _worker["detectors"], config)[0]
    except GlassesError:
        return None, False, False
    found = crop.face is not None
    target = cache / digest[:2] / (digest + (".png" if found else ".noface.png"))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    Image.fromarray(crop.pixels).save(tmp, format="PNG")
    tmp.replace(target)  # atomic: a killed run never leaves a half-written crop
    return crop.pixels, found, True


ENGINES = ("local", "ray")  # a process pool on this machine, or Ray Data (prepare_on_ray.py)


def make_crops(records: list[Record], config: CropConfig, cache_dir: Path = DEFAULT_CACHE,
               workers: int | None = None, progress: bool = True, engine: str = "local") -> CropSet:
    """Crop every record with the core's ``preprocess`` (the largest face), using the cache.
    ``workers``: processes (local) or actors (ray; default one per CPU)."""
    cache = Path(cache_dir) / crop_key(config)
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "crop_config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))
    paths = [r.path for r in records]
    if engine == "ray":
        from research_and_train_nn.prepare_on_ray import crop_on_ray
        return _crop_set(records, config, crop_on_ray(paths, config, cache, workers), progress=False)
    if engine != "local":
        raise ValueError(f"unknown engine {engine!r}: one of {', '.join(ENGINES)}")
    workers = workers or min(2, os.cpu_count() or 1)
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(config, str(cache))) as pool:
        return _crop_set(records, config, pool.map(_crop_one, paths, chunksize=64), progress)


def _crop_set(records: list[Record], config: CropConfig, results, progress: bool) -> CropSet:
    """A CropSet from _crop_one's (crop, face_found, ok) of each record, in order."""
    crops = np.zeros((len(records), config.size, config.size, 3), dtype=np.uint8)
    found = np.zeros(len(records), dtype=bool)
    ok = np.zeros(len(records), dtype=bool)
    for i, (crop, face, good) in enumerate(_progress(results, len(records), progress)):
        if good:
            crops[i], found[i], ok[i] = crop, face, True
    return CropSet(records, crops, found, ok)


def _progress(iterable, total: int, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, total=total, desc="cropping", unit="img", disable=None)  # None: off when not a terminal


def main(argv=None):
    parser = argparse.ArgumentParser(description="Compute and cache the face crops of datasets "
                                     "(so that training starts at once). Prints what was found.")
    parser.add_argument("datasets", nargs="+", help="KIND:PATH, e.g. mtfl:../shared/data/mtfl "
                        "mtfl-test:../shared/data/mtfl celeba:../shared/data/celeba")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="crop cache folder")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes (default: 2), or with --engine ray actors (default: one per CPU)")
    parser.add_argument("--engine", choices=ENGINES, default="local",
                        help="local: a process pool; ray: Ray Data, on a local Ray or the cluster "
                             "RAY_ADDRESS names (default: local)")
    args = parser.parse_args(argv)
    with _engine_session(args.engine):
        for spec in args.datasets:
            crop_set = make_crops(load(spec), CropConfig(), args.cache, args.workers, engine=args.engine)
            print(spec, json.dumps(crop_set.summary()))


def _engine_session(engine: str):
    """One Ray session for all the datasets of a run (each make_crops would start its own)."""
    if engine != "ray":
        return contextlib.nullcontext()
    from deploy.ray_session import ray_session
    return ray_session()


if __name__ == "__main__":
    main()
