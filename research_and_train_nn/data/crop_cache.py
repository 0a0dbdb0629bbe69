"""The crop cache: one model input per photo, made with the core's preprocessing and kept as PNG.

The cache key is the image's content (sha256) plus the crop parameters and a digest of the
preprocessing code, face models and decoding libraries, so moving a dataset or changing the
crop never serves a stale crop. Photos where no face was found keep the core's fallback crop
(``.noface.png``). ``init_worker`` and ``crop_one`` are what each worker process (crops.py) or
Ray actor (crops_on_ray.py) runs.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

import glasses_core
from glasses_core import CropConfig, Detectors, GlassesError, open_photo, preprocess
from glasses_core.crop import PREPROCESS_VERSION
from glasses_core.face_detect import model_dir
from research_and_train_nn.data.paths import PROJECT_ROOT

DEFAULT_CACHE = PROJECT_ROOT / "cache" / "crops"
CORE = Path(glasses_core.__file__).resolve().parent
FACE_MODELS = ("face_detection_short_range.tflite", "face_detection_full_range.tflite", "face_landmark.tflite")


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


def init_worker(config: CropConfig, cache_dir: str):
    _worker.update(config=config, cache=Path(cache_dir), detectors=Detectors(config))


def crop_one(path: str):
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
