"""What the studies that score runs and the shipped model by the look at the validation labels share:
their command-line inputs, checked before any scoring, and a run's crops with the look's labels."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from glasses_core.errors import ConfigError
from research_and_train_nn.data.datasets import GLASSES_AUDIT, audited_labels
from research_and_train_nn.evaluation.report import datasets_validation_crops
from research_and_train_nn.training.run_state import check_run_folder


def add_inputs(parser: argparse.ArgumentParser) -> None:
    """The runs, the shipped model's folder, the look's labels and the report's folder."""
    parser.add_argument("runs", type=Path, nargs="+", help="finished run folders (train.py); the shipped model is "
                                                          "scored on the first one's validation crops")
    parser.add_argument("--shipped", type=Path, default=Path("models"), help="folder of the shipped model")
    parser.add_argument("--audit", type=Path, default=GLASSES_AUDIT / "validation.csv", help="the look's labels")
    parser.add_argument("--out", type=Path, required=True)


def check_inputs(args: argparse.Namespace) -> None:
    """Every run finished, the shipped model and the look's labels there, or ConfigError."""
    for run in args.runs:
        check_run_folder(run)
    if not (args.shipped / "glasses.keras").is_file():
        raise ConfigError(f"{args.shipped}: no glasses.keras (the shipped model's folder)")
    if not args.audit.is_file():
        raise ConfigError(f"{args.audit}: no such file (label_audit.py collect writes it)")


def looked_at(run: Path, audit: Path) -> tuple[dict, np.ndarray]:
    """A run's validation crops (the datasets' labels) and their labels by the look (1 glasses, 0 none,
    -1 where it could not tell or did not see the photo)."""
    val = datasets_validation_crops(run)
    return val, np.array(audited_labels(val["paths"], val["pools"], audit))
