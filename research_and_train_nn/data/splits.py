"""Identity-disjoint, deterministic train/validation splits."""
from __future__ import annotations

import hashlib

import numpy as np

from research_and_train_nn.data.datasets import Record


def split_by_identity(records: list[Record], val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val): every identity (``Record.group``) lands wholly on one side.

    A group's side depends only on its name and the seed, so adding a dataset never moves
    the people already split.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    def bucket(group: str) -> float:
        digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2.0 ** 64
    is_val = np.array([bucket(r.group) < val_fraction for r in records], dtype=bool)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)
