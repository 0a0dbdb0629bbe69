"""Compute and cache the face crops of datasets, so that training starts at once:
``python3 research_and_train_nn/prepare.py mtfl:../shared/data/mtfl celeba:../shared/data/celeba``
(research_and_train_nn/data/crops.py does the work).
"""
from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path

from glasses_core import CropConfig
from research_and_train_nn.data.crops import DEFAULT_CACHE, ENGINES, make_crops
from research_and_train_nn.data.datasets import load


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
