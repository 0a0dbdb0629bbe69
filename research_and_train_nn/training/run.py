"""Train the compact CNN: ``python3 research_and_train_nn/train.py --out runs/NAME``.

Everything lands in the run folder: ``train_config.json`` (this run's settings),
``config.json`` (the model's metadata: crop, threshold chosen on validation, labels),
``model.keras`` (best epoch), ``checkpoint-NNN.keras`` (after the last finished epoch, N),
``state.json`` (what ``--resume`` trusts, see run_state.py), ``history.csv``, ``val_crops.npz``, ``train_crops.npz`` (int8 calibration sample) and
``evaluation_report.md`` / ``.json`` on the test set.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from glasses_core import CropConfig, ModelConfig  # noqa: E402
from glasses_core.config import from_dict, model_id  # noqa: E402
from glasses_core.errors import ConfigError, GlassesError  # noqa: E402
from glasses_core.quiet import quiet, set_verbose  # noqa: E402
from research_and_train_nn.datasets import load  # noqa: E402
from research_and_train_nn.distribute import STRATEGIES, strategy_scope  # noqa: E402
from research_and_train_nn.prepare import DEFAULT_CACHE, CropSet, make_crops  # noqa: E402
from research_and_train_nn.run_state import (RunFolderError, holds_a_run, load_state, open_run,  # noqa: E402
                                             write_text_atomically)
from research_and_train_nn.splits import split_by_identity  # noqa: E402


CALIBRATION_SAMPLE = 1000  # training crops kept in the run folder for int8 calibration
NEAR_CHANCE_AUC = 0.6  # a validation ROC-AUC below this gets a loud warning (chance is 0.5)
OUTPUTS = {  # what a run folder holds, in the order train.py lists it at the end
    "model.keras": "the model of the best epoch (by validation PR-AUC)",
    "config.json": "the model's metadata: crop, threshold, labels, version",
    "evaluation_report.md": "evaluation on the test set (also .json)",
    "history.csv": "loss and metrics per epoch",
    "curves.png": "history.csv drawn",
    "tensorboard": "TensorBoard logs: tensorboard --logdir <run folder>/tensorboard",
    "checkpoint-*.keras": "the model after the last finished epoch",
    "state.json": "the finished epochs, for --resume",
    "train_config.json": "this run's settings",
    "val_crops.npz": "the validation crops (threshold, reports)",
    "train_crops.npz": "a sample of training crops (int8 calibration)",
}


@dataclass(frozen=True)
class TrainConfig:
    """A training run's settings; saved as ``train_config.json`` in the run folder."""
    datasets: tuple[str, ...] = ("mtfl:../shared/data/mtfl", "celeba:../shared/data/celeba")
    test: str = "mtfl-test:../shared/data/mtfl"  # never trained on; "" for none
    val_fraction: float = 0.15  # share of identities held out for early stopping and the threshold
    max_train: int = 0  # use at most this many training crops (0 = all); for quick runs and tests
    balanced_subset: bool = False  # with max_train: sample both classes equally (tiny runs learn faster)
    epochs: int = 40
    batch_size: int = 64
    peak_lr: float = 3e-3  # AdamW, after a 1-epoch warm-up, cosine decay to 2 % of it
    weight_decay: float = 1e-4
    strength_start: float = 0.1  # augmentation strength at the first epoch...
    strength_end: float = 0.8  # ...rising linearly to this at the last
    shadows: float = 0.0  # probability of a brim shadow over the eyes at full strength (augment.py)
    label_smoothing: float = 0.0  # targets 0/1 become e/2 and 1 - e/2: keeps logits moderate
    consistency: float = 0.0  # weight of the squared logit gap between each crop and a copy moved by
    #                           about a refiner's error (consistency.py); 0: off
    synthesis_share: float = 0.0  # share of MTFL no-glasses training photos given glasses (synthetic_set.py)
    patience: int = 10  # early stopping: epochs without a better validation PR-AUC
    class_weights: bool = True  # balance the ~90 % no-glasses majority in the loss
    stem_filters: int = 24
    dropout: float = 0.2
    bn_momentum: float = 0.99  # batch-norm moving averages; ~0.9 for runs of a few dozen steps
    seed: int = 1337
    train_seed: int = 0  # seed of the weights, batch order and augmentation; 0: ``seed``. The split
    #                      stays ``seed``'s, so runs that differ only here compare on the same photos
    init_weights: str = ""  # start from this .keras model's weights (fine-tuning); "" for random
    version: str = "0.1.0"
    crop: CropConfig = field(default_factory=CropConfig)

    @property
    def run_seed(self) -> int:
        """The seed of everything random in training but the split (``train_seed``, else ``seed``)."""
        return self.train_seed or self.seed

    @classmethod
    def from_dict(cls, data: dict, source: str) -> "TrainConfig":
        data = dict(data)
        crop = from_dict(CropConfig, data.pop("crop", {}), f"{source}: crop")
        if isinstance(data.get("datasets"), list):
            data["datasets"] = tuple(data["datasets"])
        return from_dict(cls, {**data, "crop": crop}, source)


FLAGS = (  # (TrainConfig field, type, help) of the settings that have a flag
    ("epochs", int, "epochs to train; the schedule spans them all"),
    ("batch_size", int, "crops per batch"),
    ("max_train", int, "use at most this many training crops, 0 = all (quick runs)"),
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
    ("label_smoothing", float, "label smoothing of the loss"),
    ("consistency", float, "weight of the squared logit gap between each training crop and a copy "
     "moved by about a refiner's error (0: off; doubles each batch)"),
    ("synthesis_share", float, "share of MTFL training photos without glasses replaced by synthesised "
     "ones: glasses drawn on (label 1) or pushed up onto the head (label 0)"),
    ("init_weights", str, "start from this .keras model's weights (fine-tuning; same architecture)"),
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
                             "(TF_CONFIG names the machines; README 'Scale out'); default none")
    parser.add_argument("--devices", type=lambda text: text.split(","), metavar="DEV,DEV",
                        help="with --strategy mirrored: e.g. /gpu:0,/gpu:1 (default: every GPU); "
                             "/cpu:0,/cpu:1 splits the CPU")
    for name, kind, text in FLAGS:
        parser.add_argument("--" + name.replace("_", "-"), type=kind,
                            help=f"{text} (default {getattr(TrainConfig, name)})")
    args = parser.parse_args(argv)
    data = {}
    if args.resume and (args.out / "train_config.json").is_file() and not args.config:
        data = json.loads((args.out / "train_config.json").read_text())
    elif args.config:
        data = json.loads(args.config.read_text())
    overrides = {k: v for k, v in vars(args).items()
                 if k in {f.name for f in dataclasses.fields(TrainConfig)} and v is not None}
    if args.dataset:
        overrides["datasets"] = tuple(args.dataset)
    return TrainConfig.from_dict({**data, **overrides}, str(args.config or "flags")), args


def choose_threshold(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The probability threshold that maximises F1 on validation."""
    from sklearn.metrics import precision_recall_curve
    precision, recall, thresholds = precision_recall_curve(labels, probabilities)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))])


def split_records(config: TrainConfig) -> tuple[list, np.ndarray, np.ndarray]:
    """The training pool's records and the indices of the training and validation photos
    (identity-disjoint; with ``max_train``, sampled). Deterministic from the config."""
    records = [r for spec in config.datasets for r in load(spec)]
    train_idx, val_idx = split_by_identity(records, config.val_fraction, config.seed)
    if config.max_train and len(train_idx) > config.max_train:
        rng = np.random.default_rng(config.seed)
        train_idx = _sample(rng, train_idx, records, config.max_train, config.balanced_subset)
        # as many validation crops as training ones: enough to tell a tiny model from chance
        val_idx = _sample(rng, val_idx, records, config.max_train, config.balanced_subset)
    return records, train_idx, val_idx


def prepare_data(config: TrainConfig, cache: Path, split: tuple) -> tuple[CropSet, CropSet]:
    """Cropped training and validation sets of ``split_records(config)``; readable photos only.

    With ``max_train``, the records are sampled before cropping, so quick runs crop little.
    """
    records, train_idx, val_idx = split
    sets = []
    for name, index in (("train", train_idx), ("validation", val_idx)):
        crops = make_crops([records[i] for i in index], config.crop, cache)
        print(f"{name}: {json.dumps(crops.summary())}")
        sets.append(crops.subset(np.flatnonzero(crops.ok)))
    if config.synthesis_share:
        from research_and_train_nn.synthetic_set import add_synthetic, annotated_landmarks
        sets[0] = add_synthetic(sets[0], config.synthesis_share, config.seed, config.crop,
                                annotated_landmarks(config.datasets))
        print(f"train with synthesised glasses: {json.dumps(sets[0].summary())}")
    return sets[0], sets[1]


def _sample(rng, index: np.ndarray, records, count: int, balanced: bool) -> np.ndarray:
    """``count`` of ``index`` at random; with ``balanced``, half of each class where possible."""
    if len(index) <= count:
        return index
    if not balanced:
        return np.sort(rng.choice(index, count, replace=False))
    labels = np.array([records[i].label for i in index])
    positives, negatives = index[labels == 1], index[labels == 0]
    take = min(len(positives), count // 2)
    return np.sort(np.concatenate([rng.choice(positives, take, replace=False),
                                   rng.choice(negatives, count - take, replace=False)]))


def run(config: TrainConfig, out: Path, resume: bool = False, cache: Path = DEFAULT_CACHE,
        tensorboard: bool = False) -> Path:
    """Train (or resume) a run in ``out``; returns the run folder. With ``tensorboard``, also
    writes TensorBoard logs to ``out/tensorboard``."""
    with quiet():  # TensorFlow's and absl's start-up notes on stderr (--verbose shows them)
        import keras

        from research_and_train_nn.fit import fit
    from research_and_train_nn.figures import curves_figure
    if tensorboard:
        require_tensorboard()
    split = split_records(config)  # a missing dataset stops the run here, before its folder is made
    if config.test:
        load(config.test)  # and a missing test set too, rather than after hours of training
    out.mkdir(parents=True, exist_ok=True)
    state = open_run(out, resume)
    write_text_atomically(out / "train_config.json", json.dumps(dataclasses.asdict(config), indent=2) + "\n")
    keras.utils.set_random_seed(config.run_seed)
    train, val = prepare_data(config, cache, split)
    print(f"train {len(train.records)} crops ({int(train.labels.sum())} with glasses), "
          f"val {len(val.records)} ({int(val.labels.sum())} with glasses)")
    started = time.time()
    model = fit(config, train, val, out, state, tensorboard)
    probabilities = predict_probabilities(model, val.crops)
    threshold = save_model_files(config, out, train, val, probabilities)
    curves_figure(load_state(out).history, out / "curves.png")
    print(f"training took {time.time() - started:.0f} s; threshold chosen on validation: {threshold:.4f}")
    warn_if_near_chance(val.labels, probabilities)
    if config.test:
        from research_and_train_nn.evaluate import evaluate_run
        evaluate_run(out, config.test, cache)
    print_outputs(out)
    return out


def require_tensorboard() -> None:
    try:
        import tensorboard  # noqa: F401  (tf.summary writes scalars through it)
    except ImportError:
        raise ConfigError("--tensorboard needs the tensorboard package: "
                          "pip install tensorboard==2.21.0") from None


def save_model_files(config: TrainConfig, out: Path, train: CropSet, val: CropSet,
                     probabilities: np.ndarray) -> float:
    """``config.json`` with the threshold chosen on validation (returned), the validation crops
    and the int8 calibration sample."""
    threshold = choose_threshold(val.labels, probabilities)
    np.savez_compressed(out / "val_crops.npz", crops=val.crops, labels=val.labels,
                        sources=np.array([r.source for r in val.records]),
                        paths=np.array([r.path for r in val.records]))
    sample = np.random.default_rng(config.seed).permutation(len(train.crops))[:CALIBRATION_SAMPLE]
    np.savez_compressed(out / "train_crops.npz", crops=train.crops[sample], labels=train.labels[sample])
    model_config = ModelConfig(crop=config.crop, threshold=threshold, version=config.version,
                               model_id=model_id(config.version, out / "model.keras"),
                               description=f"trained on {', '.join(config.datasets)}")
    model_config.save(out / "config.json")
    return threshold


def warn_if_near_chance(labels: np.ndarray, probabilities: np.ndarray) -> float | None:
    """Prints the validation ROC-AUC, with a loud warning on stderr when it is near chance;
    returns it (None when validation holds only one class)."""
    from sklearn.metrics import roc_auc_score
    if len(set(labels.tolist())) < 2:
        print("warning: the validation crops hold one class only; no ROC-AUC", file=sys.stderr)
        return None
    auc = float(roc_auc_score(labels, probabilities))
    print(f"validation ROC-AUC: {auc:.4f}")
    if auc < NEAR_CHANCE_AUC:
        print(f"\n{'!' * 72}\nWARNING: validation ROC-AUC {auc:.3f} is near chance (0.5): this model "
              f"barely tells glasses\nfrom no glasses. Train longer, on more crops, or check the labels.\n"
              f"{'!' * 72}\n", file=sys.stderr)
    return auc


def print_outputs(out: Path) -> None:
    """Where everything went: each file of the run folder that exists, with what it holds."""
    print(f"\nrun folder: {out.resolve()}")
    for pattern, meaning in OUTPUTS.items():
        for path in sorted(out.glob(pattern)):
            print(f"  {path.name:<22} {meaning}")


def predict_probabilities(model, crops: np.ndarray) -> np.ndarray:
    logits = model.predict(crops.astype(np.float32), batch_size=256, verbose=0).reshape(-1)
    return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))


def main(argv=None) -> int:
    config, args = parse_args(argv)
    set_verbose(args.verbose)
    try:
        if not (args.resume or args.overwrite) and holds_a_run(args.out):
            raise RunFolderError(f"{args.out} already holds a run: --resume to continue it, "
                                 "--overwrite to train a new one in its place")
        with strategy_scope(args.strategy, args.devices):
            run(config, args.out, args.resume, args.cache, args.tensorboard)
    except GlassesError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
