"""Average the weights of several runs of one recipe into a run folder of its own (a "model soup").

    python3 research_and_train_nn/average_runs.py runs/glasses-0.3.0.keras runs/r28_... runs/r29_... \\
        runs/r30_... --out runs/r45_average_of_4

Each input is a run folder made by train.py (its model.keras) or a .keras model file; every one
must be the same network, fine-tuned from the same starting weights (runs of one recipe at other
seeds): research_and_train_nn/training/average.py says why. The averaged model is then treated as
a run of the base (``--base``, one of the run folders given; by default the first): the base's
settings, split, validation crops and int8 calibration sample are copied, and its threshold (and
kind threshold) is chosen on those validation crops the way train.py chooses a run's, the kinds
read from the label CSVs as they are now; a base that trained its kind head alone keeps its starting
model's threshold, as such a run does. Every run folder given must share the base's split (datasets,
seed, validation share) and crops and its starting point (``init_weights``, ``kind_only``,
``init_config``); a bare .keras file cannot be checked, so give only files made by runs of the same
recipe. ``averaged.json`` lists what was averaged; the folder is a finished run for compare_runs.py
and converters/release.py (history.csv is the base's).

Exit status: 0 written; 2 refused before anything is written (a missing input, different networks,
splits or starting points, a base that is not among the run folders given or lacks what a threshold is
chosen from, an --out that is an input, an existing --out without --overwrite).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from glasses_core.errors import ConfigError, errors_exit_2  # noqa: E402
from glasses_core.quiet import quiet  # noqa: E402
from research_and_train_nn.data.datasets import kinds_now  # noqa: E402
from research_and_train_nn.evaluation.report import validation_crops  # noqa: E402
from research_and_train_nn.training.config import TrainConfig  # noqa: E402
from research_and_train_nn.training.run import save_model_config, starting_threshold  # noqa: E402
from research_and_train_nn.training.run_state import BEST, HISTORY, check_run_folder  # noqa: E402

AVERAGED = "averaged.json"  # in the out folder: what was averaged, and the base
SPLIT = ("datasets", "seed", "val_fraction", "max_train", "balanced_subset", "looked_labels", "crop")  # what makes
#                                                                  a run's validation crops (run.split_records, crops)
START = ("init_weights", "kind_only", "init_config")  # where a run's training started, and what it trained
COPIED = ("train_config.json", "val_crops.npz", "train_crops.npz", HISTORY)  # the base's, as they are
SAVED = ("crops", "labels", "pools", "kinds", "paths")  # what a threshold is chosen from (train.py since 0.3)


def model_file(source: Path) -> Path:
    """A run folder's model.keras, or a .keras file itself."""
    if source.is_dir():
        check_run_folder(source)
        return source / BEST
    if source.suffix == ".keras" and source.is_file():
        return source
    raise ConfigError(f"{source}: neither a run folder made by train.py nor a .keras model file")


def check_same_recipe(folders: list[Path], base: Path, paths: np.ndarray) -> None:
    """ConfigError unless every run folder was split and cropped as ``base`` (whose validation photos
    are ``paths``), from the same start."""
    settings = lambda folder: json.loads((folder / "train_config.json").read_text())  # noqa: E731
    ours = settings(base)
    for folder in folders:
        theirs = settings(folder)
        differs = [k for k in SPLIT if theirs.get(k) != ours.get(k)]
        if differs:
            raise ConfigError(f"{folder} was not split or cropped as {base} ({', '.join(differs)} differ): "
                              "average runs of one recipe only")
        differs = [k for k in START if theirs.get(k) != ours.get(k)]
        if differs:
            raise ConfigError(f"{folder} did not start as {base} did ({', '.join(differs)} differ): "
                              "average runs of one recipe only")
        with np.load(folder / "val_crops.npz") as theirs:  # the paths alone, not every crop
            same = np.array_equal(theirs["paths"], paths)
        if not same:
            raise ConfigError(f"{folder} holds other validation photos than {base}")


def base_of(models: list[Path], base: Path | None) -> Path:
    """The run folder whose settings and validation crops the average keeps: ``base``, which must be
    one of ``models``, or the first run folder among them."""
    folders = [m for m in models if m.is_dir()]
    if base is None:
        if not folders:
            raise ConfigError("no run folder given: the average keeps one run's settings and validation crops")
        return folders[0]
    if base.resolve() not in {m.resolve() for m in folders}:
        raise ConfigError(f"--base {base} is not one of the run folders given: the average keeps the settings and "
                          "history of one of the runs it averages")
    return base


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("models", nargs="+", type=Path, help="run folders (their model.keras) or .keras files")
    parser.add_argument("--out", type=Path, required=True, help="the new run folder")
    parser.add_argument("--base", type=Path, help="the run folder (one of those given) whose settings, history "
                        "and validation crops the average keeps (default: the first run folder given)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    args = parser.parse_args(argv)
    if len(args.models) < 2:
        raise ConfigError("give at least two models to average")
    files = [model_file(m) for m in args.models]
    base = base_of(args.models, args.base)
    val = validation_crops(base)
    check_same_recipe([m for m in args.models if m.is_dir()], base, val["paths"])
    missing = [key for key in SAVED if key not in val]
    if missing:
        raise ConfigError(f"{base}: its val_crops.npz has no {', '.join(missing)} (a run older than the kinds): "
                          "train it again to choose a threshold from it")
    config = TrainConfig.from_dict(json.loads((base / "train_config.json").read_text()), str(base))
    if config.kind_only:
        starting_threshold(config)  # the starting model's threshold, kept: its config must exist and fit
    if args.out.resolve() in {m.resolve() for m in args.models} | {f.parent.resolve() for f in files} | {base.resolve()}:
        raise ConfigError(f"{args.out} is one of the models to average: choose another --out")
    if args.out.exists() and not args.overwrite:
        raise ConfigError(f"{args.out} exists: choose another --out or pass --overwrite")
    with quiet():
        import keras

        from research_and_train_nn.evaluation.probabilities import predict_answers
        from research_and_train_nn.training.average import average_weights
    models = [keras.saving.load_model(f, compile=False) for f in files]
    averaged = average_weights(models, [str(m) for m in args.models])
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    for name in COPIED:
        if (base / name).is_file():
            shutil.copyfile(base / name, args.out / name)
    averaged.save(args.out / BEST)
    probabilities, dark = predict_answers(averaged, val["crops"])
    kinds = np.array(kinds_now(val["paths"], val["pools"], val["labels"]))  # the kind labels as they are now
    threshold = save_model_config(config, args.out, val["labels"], val["pools"], kinds, probabilities, dark)
    record = {"averaged": [str(m) for m in args.models], "base": str(base),
              "command": "python3 research_and_train_nn/average_runs.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    (args.out / AVERAGED).write_text(json.dumps(record, indent=2) + "\n")
    how = "kept from the starting model" if config.kind_only else "chosen on validation"
    log = (f"weights averaged over {len(files)} models: {', '.join(record['averaged'])}\n"
           f"settings, validation crops and history.csv: {base}'s\n"
           f"threshold {how}: {threshold:.4f}\n")
    (args.out / "training_log.txt").write_text(record["command"] + "\n" + log)
    print(log, end="")
    print(f"run folder: {args.out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
