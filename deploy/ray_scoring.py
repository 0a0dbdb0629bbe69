"""What score_on_ray.py runs on Ray's workers: a batch of photo paths in, a table of rows out.

Ray Data runs ``score_batch`` as tasks, at most one per CPU at a time. Each worker process
loads the classifier on its first batch (LiteRT on one thread) and keeps it for the next
ones, so a run on a started Ray begins at once: an actor pool would start a process per
actor and load the model in each, every run (seconds here: benchmarks/ray_results.md).
This is its own module, not part of score_on_ray.py (which runs as ``__main__``), so that Ray
pickles the function by reference and the worker's classifier outlives a task.
"""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from glasses_core import GlassesClassifier

from deploy import ray_output
from deploy.memory import keep_freed_memory
from deploy.ray_inputs import read_bytes
from deploy.run_on_folder import classify_one

_classifiers: dict[tuple, GlassesClassifier] = {}  # this worker process's, by model file and threshold


def classifier(model: Path | None, threshold: float | None) -> GlassesClassifier:
    """This process's classifier for ``model`` (None: the shipped one), loaded once; a model
    file changed since (same path, new contents) is loaded again."""
    key = (str(model), Path(model).stat().st_mtime_ns if model else None, threshold)
    if key not in _classifiers:
        keep_freed_memory()  # this worker process classifies photo after photo from now on
        _classifiers[key] = GlassesClassifier(model, threshold, num_threads=1)
    return _classifiers[key]


def score_batch(batch: dict, model: Path | None, threshold: float | None, fmt: str,
                fallback_guess: bool = False) -> pa.Table:
    """The output rows of a batch of paths (Ray Data's {"path": array}), one per photo, in order;
    ``fallback_guess``: a photo without a face gets its fallback crop's answer, not no_face."""
    scorer = classifier(model, threshold)
    rows = [classify_one(scorer, str(path), read=read_bytes) for path in batch["path"]]
    return ray_output.table([row.guessed() for row in rows] if fallback_guess else rows, fmt)
