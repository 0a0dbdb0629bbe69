"""One schedule for the learning rate (falls) and the augmentation strength (rises).

Early epochs learn from clean crops at a high learning rate; as the rate anneals, harder
augmented crops regularise the fine-tuning.
"""
from __future__ import annotations

import math


def learning_rate(epoch: int, epochs: int, peak: float, warmup: int = 1, floor: float = 0.02) -> float:
    """Linear warm-up for ``warmup`` epochs, then cosine decay from ``peak`` to ``floor * peak``."""
    if epoch < warmup:
        return peak * (epoch + 1) / (warmup + 1)
    progress = (epoch - warmup) / max(1, epochs - warmup - 1)
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def strength(epoch: int, epochs: int, start: float, end: float) -> float:
    """Augmentation strength: rises linearly from ``start`` (first epoch) to ``end`` (last)."""
    progress = epoch / max(1, epochs - 1)
    return start + (end - start) * min(1.0, progress)
