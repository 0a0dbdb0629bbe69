"""Arrays made once from photos and kept: a folder of .npz files named by what made them."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np

from research_and_train_nn.data.paths import PROJECT_ROOT

CACHE = PROJECT_ROOT / "cache"


def cached_arrays(folder: str, key: list, make: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``make()``'s arrays, from ``cache/<folder>/<digest of key>.npz`` when an earlier call with the
    same ``key`` (anything JSON can write: the crop cache key, the photos, the settings) made them."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = CACHE / folder / f"{digest}.npz"
    if path.is_file():
        with np.load(path) as data:
            return {name: data[name] for name in data.files}
    arrays = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)  # atomic: a killed run leaves no half file
    return arrays
