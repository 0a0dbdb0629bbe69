"""A training run folder, as train.py writes it and every converter reads it."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glasses_core import ModelConfig
from glasses_core.errors import GlassesError

MODEL = "model.keras"  # the training model: raw RGB crops in, one logit out
CONFIG = "config.json"  # its ModelConfig
VAL_CROPS = "val_crops.npz"  # `crops` uint8 (N, size, size, 3) and `labels` (N,) of validation faces
TRAIN_CROPS = "train_crops.npz"  # optional: `crops` of training faces, to calibrate int8


@dataclass
class Run:
    """A trained model with what is needed to export and check it."""
    model: object  # keras.Model
    config: ModelConfig
    crops: np.ndarray  # validation crops, for the parity check
    labels: np.ndarray
    calibration: np.ndarray  # crops for int8 calibration
    calibration_source: str


def load_run(run_dir: str | Path) -> Run:
    """Load a run folder: model.keras, config.json, val_crops.npz and, if there, train_crops.npz.

    Without train_crops.npz, int8 is calibrated on the validation crops (and the report says so).
    """
    import keras

    run_dir = Path(run_dir)
    for required in (MODEL, CONFIG, VAL_CROPS):
        if not (run_dir / required).is_file():
            raise GlassesError(f"{run_dir}: no {required} (expected a training run folder with "
                               f"{MODEL}, {CONFIG} and {VAL_CROPS})")
    model = keras.models.load_model(run_dir / MODEL, compile=False)
    config = ModelConfig.load(run_dir / CONFIG)
    crops, labels = _crops(run_dir / VAL_CROPS, with_labels=True)
    calibration, source = crops, f"{VAL_CROPS} (the run has no {TRAIN_CROPS})"
    if (run_dir / TRAIN_CROPS).is_file():
        calibration, _ = _crops(run_dir / TRAIN_CROPS, with_labels=False)
        source = TRAIN_CROPS
    return Run(model, config, crops, labels, calibration, source)


def _crops(path: Path, with_labels: bool):
    with np.load(path) as data:
        if "crops" not in data or with_labels and "labels" not in data:
            raise GlassesError(f"{path}: expected arrays 'crops'{' and labels' if with_labels else ''}, "
                               f"found {sorted(data.files)}")
        crops = data["crops"]
        labels = data["labels"].astype(np.int64) if with_labels else None
    if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[-1] != 3:
        raise GlassesError(f"{path}: crops must be uint8 (N, H, W, 3), got {crops.dtype} {crops.shape}")
    if with_labels and labels.shape != (len(crops),):
        raise GlassesError(f"{path}: {len(crops)} crops but labels of shape {labels.shape}")
    return crops, labels


def export_main(description: str, argv, export, add_arguments=lambda parser: None) -> int:
    """The command line every single-format exporter shares: RUN_DIR, ``--out``, ``--name``
    (plus ``add_arguments``'s). ``export(run, args)`` writes the files and returns the lines to
    print; a bad run folder or export prints the error and gives exit status 2."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("run_dir", help="training run: model.keras, config.json, val_crops.npz")
    parser.add_argument("--out", default="models", help="output folder (default: models)")
    parser.add_argument("--name", default="glasses", help="file name stem (default: glasses)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        lines = export(load_run(args.run_dir), args)
    except GlassesError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0
