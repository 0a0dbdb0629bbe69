"""A training run folder, as train.py writes it and every converter reads it."""
from __future__ import annotations

import argparse
import dataclasses
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glasses_core import ModelConfig
from glasses_core.config import model_id
from glasses_core.errors import GlassesError, errors_exit_2
from glasses_core.quiet import quiet, set_verbose

MODEL = "model.keras"  # the training model: raw RGB crops in, one logit out
CONFIG = "config.json"  # its ModelConfig
VAL_CROPS = "val_crops.npz"  # `crops` uint8 (N, size, size, 3) and `labels` (N,) of validation faces
TRAIN_CROPS = "train_crops.npz"  # optional: `crops` of training faces, to calibrate int8
EXPORT_DIR = "export"  # where the exports go by default, inside the run folder


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
    A config without a model id (a run trained before ids) gets one from model.keras.
    """
    import keras

    run_dir = Path(run_dir)
    for required in (MODEL, CONFIG, VAL_CROPS):
        if not (run_dir / required).is_file():
            raise GlassesError(f"{run_dir}: no {required} (expected a training run folder with "
                               f"{MODEL}, {CONFIG} and {VAL_CROPS})")
    model = keras.models.load_model(run_dir / MODEL, compile=False)
    config = ModelConfig.load(run_dir / CONFIG)
    if not config.model_id:
        config = dataclasses.replace(config, model_id=model_id(config.version, run_dir / MODEL))
    crops, labels = _crops(run_dir / VAL_CROPS, with_labels=True)
    calibration, source = crops, f"{VAL_CROPS} (the run has no {TRAIN_CROPS})"
    if (run_dir / TRAIN_CROPS).is_file():
        calibration, _ = _crops(run_dir / TRAIN_CROPS, with_labels=False)
        source = TRAIN_CROPS
    return Run(model, config, crops, labels, calibration, source)


def check_run(run_dir: str | Path, min_crops: int) -> int:
    """What can be checked before any export starts, without TensorFlow: the run folder's files,
    its metadata, and enough validation crops for the parity check (``min_crops``). Returns how
    many validation crops there are; raises GlassesError saying what is wrong and what to do."""
    run_dir = Path(run_dir)
    for required in (MODEL, CONFIG, VAL_CROPS):
        if not (run_dir / required).is_file():
            raise GlassesError(f"{run_dir}: no {required} (expected a training run folder with "
                               f"{MODEL}, {CONFIG} and {VAL_CROPS})")
    ModelConfig.load(run_dir / CONFIG)
    crops, _ = _crops(run_dir / VAL_CROPS, with_labels=True)
    if len(crops) < min_crops:
        raise GlassesError(
            f"{run_dir}: {len(crops)} validation crops in {VAL_CROPS}; the parity check needs at least "
            f"{min_crops} (--min-crops), so nothing was exported. train.py --max-train N keeps at most N "
            f"validation crops (as many as training ones): train again with --max-train {min_crops} or "
            f"more, or without it")
    return len(crops)


def _crops(path: Path, with_labels: bool):
    try:
        data = np.load(path)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise GlassesError(f"{path}: not a readable .npz file ({err})") from None
    with data:
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


def output_problem(out_dir: Path, force: bool) -> str | None:
    """Why an export must not write into ``out_dir`` (None: it may)."""
    if out_dir.exists() and not out_dir.is_dir():
        return f"{out_dir}: exists and is not a folder"
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        return f"{out_dir}: not empty; choose another --out, or --force to write over what is there"
    return None


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """RUN_DIR, ``--out``, ``--force``, ``--name`` and ``--verbose``: what every exporter takes."""
    parser.add_argument("run_dir", type=Path, help="training run: model.keras, config.json, "
                                                   "val_crops.npz (and train_crops.npz for int8 calibration)")
    parser.add_argument("--out", type=Path, help=f"output folder (default: RUN_DIR/{EXPORT_DIR})")
    parser.add_argument("--force", action="store_true", help="write into a folder that is not empty")
    parser.add_argument("--name", default="glasses", help="file name stem (default: glasses)")
    parser.add_argument("--verbose", action="store_true",
                        help="also show TensorFlow's, coremltools' and LiteRT's own messages")


@errors_exit_2
def export_main(description: str, argv, export, add_arguments=lambda parser: None) -> int:
    """The command line every single-format exporter shares (``add_output_arguments``, plus
    ``add_arguments``'s). ``export(run, args)`` writes the files into ``args.out`` and returns
    the lines to print; a bad run folder, export or output folder gives exit status 2."""
    parser = argparse.ArgumentParser(description=description)
    add_output_arguments(parser)
    add_arguments(parser)
    args = parser.parse_args(argv)
    set_verbose(args.verbose)
    args.out = args.out or args.run_dir / EXPORT_DIR
    problem = output_problem(args.out, args.force)
    if problem:
        raise GlassesError(problem)
    with quiet():
        lines = export(load_run(args.run_dir), args)
    print("\n".join(lines))
    return 0
