"""A training run from start to finish: split, crop, fit, threshold, model files, evaluation.

Everything lands in the run folder: ``train_config.json`` (this run's settings),
``config.json`` (the model's metadata: crop, threshold chosen on validation, labels),
``model.keras`` (best epoch), ``checkpoint-NNN.keras`` (after the last finished epoch, N),
``state.json`` (what ``--resume`` trusts, see run_state.py), ``history.csv``, ``curves.png``,
``val_crops.npz``, ``train_crops.npz`` (int8 calibration sample) and, with a test set,
``evaluation_report.md`` / ``.json``, ``roc_pr.png``, ``errors.png`` and ``schedule.png``
(evaluation/report.py). The command is ``research_and_train_nn/train.py``.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from glasses_core import ModelConfig
from glasses_core.config import KINDS, model_id
from glasses_core.errors import ConfigError
from glasses_core.quiet import quiet
from research_and_train_nn.data.crops import DEFAULT_CACHE, CropSet, make_crops
from research_and_train_nn.data.datasets import load, with_looked_labels
from research_and_train_nn.data.splits import split_by_identity
from research_and_train_nn.evaluation.metrics import choose_kind_threshold, choose_threshold_on_pools
from research_and_train_nn.evaluation.probabilities import predict_answers
from research_and_train_nn.training.config import TrainConfig
from research_and_train_nn.training.run_state import (BEST, load_state, open_run, save_model_atomically,
                                                      write_text_atomically)


CALIBRATION_SAMPLE = 1000  # training crops kept in the run folder for int8 calibration
NEAR_CHANCE_AUC = 0.6  # a validation ROC-AUC below this gets a loud warning (chance is 0.5)
OUTPUTS = {  # what a run folder holds, in the order train.py lists it at the end
    "model.keras": "the model of the best epoch (by validation PR-AUC)",
    "config.json": "the model's metadata: crop, threshold, labels, version",
    "evaluation_report.md": "evaluation on the test set",
    "evaluation_report.json": "the same, as JSON",
    "roc_pr.png": "ROC and precision-recall curves on the test set",
    "errors.png": "the test set's most confident errors, as the model saw them",
    "history.csv": "loss and metrics per epoch",
    "curves.png": "history.csv drawn",
    "schedule.png": "learning rate and augmentation strength per epoch",
    "tensorboard": "TensorBoard logs: tensorboard --logdir <run folder>/tensorboard",
    "checkpoint-*.keras": "the model after the last finished epoch",
    "state.json": "the finished epochs, for --resume",
    "train_config.json": "this run's settings",
    "training_log.txt": "everything train.py printed",
    "val_crops.npz": "the validation crops (threshold, reports)",
    "train_crops.npz": "a sample of training crops (int8 calibration)",
}


def split_records(config: TrainConfig) -> tuple[list, np.ndarray, np.ndarray]:
    """The training pool's records and the indices of the training and validation photos
    (identity-disjoint; with ``max_train``, sampled). Deterministic from the config."""
    records = [r for spec in config.datasets for r in load(spec)]
    if config.looked_labels:
        records = with_looked_labels(records)
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
        crops = make_crops([records[i] for i in index], config.crop, cache,
                           variants=name == "train" and config.crop_variants > 0)
        print(f"{name}: {json.dumps(crops.summary())}")
        sets.append(crops.subset(np.flatnonzero(crops.ok)))
    if config.synthesis_share:  # TrainConfig refuses it with crop_variants
        from research_and_train_nn.synthesis.synthetic_set import add_synthetic, annotated_landmarks
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

        from research_and_train_nn.training.fit import fit
        from research_and_train_nn.training.model import thaw
    from research_and_train_nn.evaluation.figures import curves_figure
    if tensorboard:
        require_tensorboard()
    split = split_records(config)  # a missing dataset stops the run here, before its folder is made
    if config.test:
        load(config.test)  # and a missing test set too, rather than after hours of training
    if config.kind_only:
        starting_threshold(config)  # and a starting model whose threshold cannot be kept
    out.mkdir(parents=True, exist_ok=True)
    state = open_run(out, resume)
    write_text_atomically(out / "train_config.json", json.dumps(dataclasses.asdict(config), indent=2) + "\n")
    keras.utils.set_random_seed(config.run_seed)
    train, val = prepare_data(config, cache, split)
    print(f"train {len(train.records)} crops ({int(train.labels.sum())} with glasses), "
          f"val {len(val.records)} ({int(val.labels.sum())} with glasses)")
    started = time.time()
    model = fit(config, train, val, out, state, tensorboard)
    if config.kind_only:  # trained with all but the kind head frozen; saved for fine-tuning as a whole
        thaw(model)
        save_model_atomically(model, out / BEST)
    probabilities, dark = predict_answers(model, val.crops)
    threshold = save_model_files(config, out, train, val, probabilities, dark)
    curves_figure(load_state(out).history, out / "curves.png")
    print(f"training took {time.time() - started:.0f} s; threshold chosen on validation: {threshold:.4f}")
    warn_if_near_chance(val.labels, probabilities)
    if config.test:
        from research_and_train_nn.evaluation.report import evaluate_run
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
                     probabilities: np.ndarray, dark: np.ndarray | None = None) -> float:
    """``config.json`` (``save_model_config``: the threshold chosen on validation, returned), the
    validation crops and the int8 calibration sample."""
    pools, kinds = np.array([r.pool for r in val.records]), np.array([r.kind or "" for r in val.records])
    np.savez_compressed(out / "val_crops.npz", crops=val.crops, labels=val.labels,
                        sources=np.array([r.source for r in val.records]), pools=pools, kinds=kinds,
                        paths=np.array([r.path for r in val.records]),
                        dataset_labels=np.array([r.label if r.dataset_label is None else r.dataset_label
                                                 for r in val.records]))
    sample = np.random.default_rng(config.seed).permutation(len(train.crops))[:CALIBRATION_SAMPLE]
    np.savez_compressed(out / "train_crops.npz", crops=train.crops[sample], labels=train.labels[sample])
    return save_model_config(config, out, val.labels, pools, kinds, probabilities, dark)


def save_model_config(config: TrainConfig, out: Path, labels: np.ndarray, pools: np.ndarray, kinds: np.ndarray,
                      probabilities: np.ndarray, dark: np.ndarray | None = None) -> float:
    """``config.json`` for ``out/model.keras`` with the threshold chosen on the validation crops (their
    ``labels``, on ``config.threshold_pools`` only, when given; the starting model's in a kind-only run;
    returned) and, for a model that says which glasses (``dark``: its P(dark | glasses) on the validation
    crops), the kind's threshold chosen there too (``kinds``: each crop's kind label, "" unknown)."""
    # a run that trains the kind alone keeps the starting model's first answer, its threshold too
    threshold = starting_threshold(config) if config.kind_only else \
        choose_threshold_on_pools(labels, probabilities, pools, config.threshold_pools)
    # the kind's threshold balances the two kinds' accuracies, whatever their shares: every pool counts
    kind = {} if dark is None else {"kinds": KINDS, "kind_threshold": choose_kind_threshold(kinds, dark)}
    model_config = ModelConfig(crop=config.crop, threshold=threshold, version=config.version,
                               model_id=model_id(config.version, out / "model.keras"),
                               description=f"trained on {', '.join(config.datasets)}", **kind)
    model_config.save(out / "config.json")
    return threshold


def starting_threshold(config: TrainConfig) -> float:
    """The threshold of ``config.init_config`` (a kind-only run keeps it), which must crop as this run does."""
    start = ModelConfig.load(config.init_config)
    if start.crop != config.crop:
        raise ConfigError(f"{config.init_config} crops otherwise than this run ({start.crop} against {config.crop}): "
                          "its threshold would not fit this run's crops")
    return start.threshold


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
