"""Train the compact CNN: ``python3 research_and_train_nn/train.py --out runs/NAME``.

The run itself is research_and_train_nn/training/run.py; this is its command line. What it
prints also goes to the run folder's ``training_log.txt`` (appended to on ``--resume``), which
converters/release.py ships beside the model.

Exit status: 0 trained; 2 refused before any work (a missing or wrong config file, settings that
cannot train together, a missing dataset, a run already in --out without --resume or --overwrite).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from glasses_core.config import read_json  # noqa: E402
from glasses_core.errors import ConfigError, GlassesError  # noqa: E402
from glasses_core.quiet import set_verbose  # noqa: E402
from research_and_train_nn.data.crops import DEFAULT_CACHE  # noqa: E402
from research_and_train_nn.training.config import TrainConfig  # noqa: E402
from research_and_train_nn.training.distribute import STRATEGIES, strategy_scope  # noqa: E402
from research_and_train_nn.training.run import run  # noqa: E402
from research_and_train_nn.training.run_state import holds_a_run  # noqa: E402


LOG = "training_log.txt"  # in the run folder: everything train.py printed (release.py ships it)


class RunLog:
    """``out / LOG``, written from the moment ``out`` exists (until then what is printed waits;
    a run that stops before making its folder leaves no log). ``append`` keeps a resumed run's
    earlier lines."""

    def __init__(self, out: Path, append: bool):
        self._out, self._mode = out, "a" if append else "w"
        self._pending, self._file = [], None

    def write(self, text: str) -> None:
        self._pending.append(text)
        if self._file is None and self._out.is_dir():
            self._file = open(self._out / LOG, self._mode, encoding="utf-8")
        if self._file is not None:
            self._file.write("".join(self._pending))
            self._file.flush()
            self._pending.clear()

    def close(self) -> None:
        self.write("")
        if self._file is not None:
            self._file.close()


class Tee:
    """A text stream that also writes to a RunLog; everything else is the stream's own."""

    def __init__(self, stream, log: RunLog):
        self._stream, self._log = stream, log

    def write(self, text: str) -> int:
        self._log.write(text)
        return self._stream.write(text)

    def __getattr__(self, name):  # flush, isatty, fileno, encoding, ...
        return getattr(self._stream, name)


@contextlib.contextmanager
def logged(out: Path, append: bool):
    """stdout and stderr as they are, and both in the run folder's training_log.txt."""
    log, saved = RunLog(out, append), (sys.stdout, sys.stderr)
    sys.stdout, sys.stderr = Tee(sys.stdout, log), Tee(sys.stderr, log)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
        log.close()


FLAGS = (  # (TrainConfig field, type, help) of the settings that have a flag
    ("epochs", int, "epochs to train; the schedule spans them all"),
    ("batch_size", int, "crops per batch"),
    ("max_train", int, "use at most this many training crops, and as many validation crops, 0 = all "
     "(quick runs; converters/convert_all.py needs 500 validation crops or more)"),
    ("seed", int, "seed of the split and the sampling, and of the weights, batch order and "
     "augmentation unless --train-seed is given"),
    ("train_seed", int, "another seed for the weights, batch order and augmentation only, keeping the "
     "split and the validation photos (repeat a run to see the spread between seeds); 0: --seed"),
    ("patience", int, "early stopping: epochs without a better validation PR-AUC"),
    ("peak_lr", float, "AdamW learning rate after the 1-epoch warm-up"),
    ("val_fraction", float, "share of identities held out for validation"),
    ("strength_start", float, "augmentation strength at the first epoch"),
    ("strength_end", float, "augmentation strength at the last epoch"),
    ("shadows", float, "probability of a brim shadow over the eyes at full strength"),
    ("frame_cuts", float, "probability of the photo's frame cutting the crop above the brows or under the "
     "nose (a close-up: black beyond it) at full strength"),
    ("label_smoothing", float, "label smoothing of the loss"),
    ("consistency", float, "weight of the squared logit gap between each training crop and a copy "
     "moved by about a refiner's error (0: off; doubles each batch)"),
    ("synthesis_share", float, "share of MTFL training photos without glasses replaced by synthesised "
     "ones: glasses drawn on (label 1) or pushed up onto the head (label 0)"),
    ("init_weights", str, "start from this .keras model's weights (fine-tuning; a one-answer model's weights "
     "also start a two-answer one)"),
    ("init_config", str, "with --kind-only true: the starting model's config JSON (its glasses.json), whose "
     "threshold the run keeps"),
    ("kind_weight", float, "weight of the second answer's loss, P(dark | glasses) from the kind labels "
     "(research_and_train_nn/data/kind_labels); 0: one answer"),
    ("kind_features", str, "what the second answer reads: pooled (the first answer's features, default) or "
     "eye_band (the middle rows of the 8 x 8 feature map, position by position)"),
    ("kind_only", lambda text: {"true": True, "false": False}[text.lower()],
     "true: train the eye-band kind head alone from --init-weights; the first answer stays that model's"),
    ("source_balance", lambda text: {"true": True, "false": False}[text.lower()],
     "true: balance the classes within each pool (a pool of nearly all glasses must not teach its look)"),
    ("threshold_pools", lambda text: tuple(filter(None, text.split(","))),
     "validation pools the thresholds are chosen on, comma-separated (e.g. mtfl_train,celeba; default all); "
     "with --resume on a finished run, only its model files are made again"),
    ("crop_variants", float, "share of training crops, at full augmentation strength, replaced by the photo cut "
     "with other eyes or filters, as an app would cut it (data/crop_variants.py)"),
)


def parse_args(argv=None) -> tuple[TrainConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        description="Train the glasses classifier. Settings come from the defaults, then "
        "--config FILE (JSON, keys of TrainConfig), then the flags below.")
    parser.add_argument("--out", type=Path, required=True, help="run folder (created)")
    parser.add_argument("--config", type=Path, help="JSON file of TrainConfig settings")
    parser.add_argument("--dataset", action="append", metavar="KIND:PATH",
                        help="training pool (repeatable): mtfl:, celeba:, meglass:, folder:PATH")
    parser.add_argument("--test", metavar="KIND:PATH", help="test set ('' for none)")
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue after the last finished epoch in --out "
                       "(as if never interrupted)")
    again.add_argument("--overwrite", action="store_true", help="train a new run in --out even if it holds one")
    parser.add_argument("--tensorboard", action="store_true", help="also write TensorBoard logs to --out/tensorboard")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="crop cache folder")
    parser.add_argument("--verbose", action="store_true", help="let TensorFlow's own notes through to stderr")
    parser.add_argument("--strategy", choices=STRATEGIES, default="none",
                        help="tf.distribute: mirrored (this machine's GPUs, or --devices), multi-worker "
                             "(TF_CONFIG names the machines; docs/scale-out.md); default none")
    parser.add_argument("--devices", type=lambda text: text.split(","), metavar="DEV,DEV",
                        help="with --strategy mirrored: e.g. /gpu:0,/gpu:1 (default: every GPU); "
                             "/cpu:0,/cpu:1 splits the CPU")
    for name, kind, text in FLAGS:
        parser.add_argument("--" + name.replace("_", "-"), type=kind,
                            help=f"{text} (default {getattr(TrainConfig, name)})")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items()
                 if k in {f.name for f in dataclasses.fields(TrainConfig)} and v is not None}
    if args.dataset:
        overrides["datasets"] = tuple(args.dataset)
    try:  # a missing or wrong config file, or settings that cannot train together: usage error, exit 2
        data = {}
        if args.resume and (args.out / "train_config.json").is_file() and not args.config:
            data = read_json(args.out / "train_config.json", "missing")
        elif args.config:
            data = read_json(args.config, "no such config file")
        return TrainConfig.from_dict({**data, **overrides}, str(args.config or "flags")), args
    except ConfigError as err:
        parser.error(str(err))


def main(argv=None) -> int:
    config, args = parse_args(argv)
    set_verbose(args.verbose)
    if not (args.resume or args.overwrite) and holds_a_run(args.out):
        print(f"error: {args.out} already holds a run: --resume to continue it, "
              "--overwrite to train a new one in its place", file=sys.stderr)
        return 2
    with logged(args.out, append=args.resume):
        try:
            with strategy_scope(args.strategy, args.devices):
                run(config, args.out, args.resume, args.cache, args.tensorboard)
        except GlassesError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
