"""A Ray scoring function whose worker process dies on every photo whose path holds "dies":
what a photo that kills the decoder (or gets it killed for memory) does to a Ray task. Pickled
by value (ray.cloudpickle.register_pickle_by_value), so that Ray's workers need not import tests/."""
from __future__ import annotations

import os

from deploy.ray_scoring import score_batch


def dies_on_marked_photos(batch: dict, **kwargs):
    if any("dies" in str(path) for path in batch["path"]):
        os._exit(1)  # no exception, no cleanup: the worker is gone, as when the kernel kills it
    return score_batch(batch, **kwargs)
