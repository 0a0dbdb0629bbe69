"""The crop cache: one model input per photo, made with the core's preprocessing and kept as PNG.

The cache key is the image's content (sha256) plus the crop parameters and a digest of the
preprocessing code, face models and decoding libraries, so moving a dataset or changing the
crop never serves a stale crop. Photos where no face was found keep the core's fallback crop
(``.noface.png``). ``init_worker`` and ``crop_one`` are what each worker process (crops.py) or
Ray actor (crops_on_ray.py) runs.
"""
from __future__ import annotations

import ast
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
from research_and_train_nn.data import crop_variants
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
    """A digest of everything that makes a crop's pixels: the source of the core modules that
    ``crop.py`` (``preprocess``) imports, directly or through others, the face models they run,
    and the versions of the libraries that decode and run them. Any change to one of them gives a
    new cache folder, so no stale crop is ever trained or tested on; a change to the rest of the
    core (the classifier's runtime, say) keeps the crops."""
    digest = hashlib.sha256()
    for path in preprocessing_modules(core) + [model_dir() / name for name in FACE_MODELS]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for package in ("pillow", "pillow-heif", "numpy", "ai-edge-litert"):
        digest.update(f"{package}=={importlib.metadata.version(package)}".encode())
    return digest.hexdigest()[:16]


def preprocessing_modules(core: Path = CORE) -> list[Path]:
    """crop.py and every module of the core package it imports, directly or through others."""
    found, todo = set(), ["crop"]
    while todo:
        name = todo.pop()
        if name in found or not (core / f"{name}.py").is_file():
            continue
        found.add(name)
        for node in ast.walk(ast.parse((core / f"{name}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                todo += [node.module] if node.module else [alias.name for alias in node.names]
    return sorted(core / f"{name}.py" for name in found)


_worker = {}


def init_worker(config: CropConfig, cache_dir: str, variants: bool = False):
    """Set up a worker process (or Ray actor): its face models, and whether it also makes each
    photo's crop variants (crop_variants.py)."""
    _worker.update(config=config, cache=Path(cache_dir), detectors=Detectors(config), variants=variants)


def crop_one(path: str):
    """(crop, face_found, ok, variants) for one file, from the cache when possible; ``variants`` is
    None unless the worker makes them (init_worker)."""
    config, cache, want = _worker["config"], _worker["cache"], _worker.get("variants", False)
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None, False, False, None
    digest = hashlib.sha256(data).hexdigest()
    folder = cache / digest[:2]
    strip = folder / f"{digest}.variants{crop_variants.VERSION}.png"
    for found, suffix in ((True, ".png"), (False, ".noface.png")):
        cached = folder / (digest + suffix)
        if cached.is_file() and (not want or strip.is_file()):
            return _png(cached), found, True, _unstrip(_png(strip), config.size) if want else None
    try:
        photo = open_photo(data, name=path)
        crop = preprocess(photo, _worker["detectors"], config)[0]
    except GlassesError:
        return None, False, False, None
    found = crop.face is not None
    _save(crop.pixels, folder / (digest + (".png" if found else ".noface.png")))
    if not want:
        return crop.pixels, found, True, None
    variants = crop_variants.variant_crops(photo, crop, config, seed=int(digest[:8], 16))
    _save(np.concatenate(list(variants), axis=1), strip)
    return crop.pixels, found, True, variants


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _unstrip(strip: np.ndarray, size: int) -> np.ndarray:
    """(K, size, size, 3) from the crops side by side in one PNG."""
    return strip.reshape(size, -1, size, 3).transpose(1, 0, 2, 3)


def _save(pixels: np.ndarray, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    Image.fromarray(pixels).save(tmp, format="PNG")
    tmp.replace(target)  # atomic: a killed run never leaves a half-written file
