"""The Keras training loop: augmented batches, the LR/strength schedule, checkpoints, resume."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import keras
import numpy as np

from research_and_train_nn.training import schedule
from research_and_train_nn.training.augment import augment_batch, build_augmentation
from research_and_train_nn.training.consistency import ConsistentBinaryCrossentropy, jittered
from research_and_train_nn.training.kind_head import (FirstColumnAccuracy, FirstColumnAUC, GlassesAndKindLoss,
                                                      KindAccuracy, KindPRAUC, kind_class_weights, kind_targets)
from research_and_train_nn.training.model import freeze_all_but_kind_head, load_weights_into, make_model, multiply_adds
from research_and_train_nn.training.run_state import BEST, RunState, epochs_since_best, record_epoch, restore_random_states


class AugmentedCrops(keras.utils.PyDataset):
    """Shuffled, augmented training batches; ``strength`` is set by the schedule each epoch.

    Each batch draws its augmentation from a seed of (run seed, epoch, batch), so a run is
    repeatable; ``shadows`` and ``frame_cuts`` are the brim-shadow and frame-cut probabilities at
    full strength (augment.py). With
    ``pairs``, each batch is followed by its crops moved a little (consistency.py). With
    ``variants`` ((N, K, size, size, 3): each crop made other ways, crop_variants.py), a share
    ``variant_share`` x strength of the crops is replaced by one of its variants, drawn at random,
    before the augmentation. ``labels`` are (N,) or, with a kind head, (N, 2) targets
    (kind_head.py); ``weights``, when given, are each crop's loss weight.
    """

    def __init__(self, crops: np.ndarray, labels: np.ndarray, batch_size: int, seed: int,
                 shadows: float = 0.0, pairs: bool = False, variants: np.ndarray | None = None,
                 variant_share: float = 0.0, weights: np.ndarray | None = None, frame_cuts: float = 0.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.shadows, self.frame_cuts, self.pairs = shadows, frame_cuts, pairs
        self.crops, self.labels = crops, labels.astype(np.float32)
        self.variants, self.variant_share = variants, variant_share
        self.weights = None if weights is None else weights.astype(np.float32)
        self.batch_size, self.seed = batch_size, seed
        self.epoch, self.strength = 0, 0.0
        self._order = np.arange(len(crops))

    def __len__(self) -> int:
        return int(np.ceil(len(self.crops) / self.batch_size))

    def start_epoch(self, epoch: int, strength: float) -> None:
        self.epoch, self.strength = epoch, strength
        self._order = np.random.default_rng([self.seed, epoch]).permutation(len(self.crops))

    def __getitem__(self, index: int):
        rows = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        pipeline = build_augmentation(self.strength, self.shadows, self.frame_cuts)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        pipeline.set_random_seed(int(rng.integers(2**31)))
        images, labels = augment_batch(pipeline, self._crops(rows, rng)), self.labels[rows]
        if self.pairs:
            images = np.concatenate([images, jittered(images, int(rng.integers(2**31)))])
            labels = np.concatenate([labels, labels])
        if self.weights is not None:
            return images.astype(np.float32), labels, self.weights[rows]
        return images.astype(np.float32), labels

    def _crops(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The crops of ``rows``, some replaced by a variant (only then are random numbers drawn
        here: a run without variants repeats exactly as before)."""
        crops = self.crops[rows]
        if self.variants is None or not self.variant_share:
            return crops
        swap = rng.random(len(rows)) < self.variant_share * self.strength
        which = rng.integers(0, self.variants.shape[1], len(rows))
        crops = crops.copy()
        crops[swap] = self.variants[rows[swap], which[swap]]
        return crops


class PairedCopies(keras.utils.PyDataset):
    """Validation batches for a consistency run: each crop twice, so that the loss's pairs are
    the same crop (no consistency term) and every metric is what it is on the crops alone."""

    def __init__(self, crops: np.ndarray, labels: np.ndarray, batch_size: int, **kwargs):
        super().__init__(**kwargs)
        self.crops, self.labels, self.batch_size = crops.astype(np.float32), labels.astype(np.float32), batch_size

    def __len__(self) -> int:
        return int(np.ceil(len(self.crops) / self.batch_size))

    def __getitem__(self, index: int):
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return np.concatenate([self.crops[rows]] * 2), np.concatenate([self.labels[rows]] * 2)


class Schedule(keras.callbacks.Callback):
    """Sets the learning rate and augmentation strength at each epoch and logs both."""

    def __init__(self, data: AugmentedCrops, config):
        super().__init__()
        self.data, self.config = data, config

    def on_epoch_begin(self, epoch, logs=None):
        c = self.config
        self.lr = schedule.learning_rate(epoch, c.epochs, c.peak_lr)
        self.s = schedule.strength(epoch, c.epochs, c.strength_start, c.strength_end)
        self.model.optimizer.learning_rate = self.lr
        self.data.start_epoch(epoch, self.s)
        print(f"epoch {epoch + 1}/{c.epochs}: learning rate {self.lr:.2e}, augmentation strength {self.s:.2f}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"], logs["strength"] = self.lr, self.s


def build(config, kind_weights=(1.0, 1.0)) -> keras.Model:
    """The model of ``config``, compiled; with ``config.kind_weight``, two answers (kind_head.py),
    the second's loss weighing the kinds by ``kind_weights`` (clear, dark). With
    ``config.kind_only``, only the eye-band kind head trains, and the kind's PR-AUC is recorded."""
    kind = config.kind_weight > 0
    model = make_model(config.crop.size, config.stem_filters, dropout=config.dropout,
                       bn_momentum=config.bn_momentum, kind_head=kind, kind_features=config.kind_features)
    if config.init_weights:
        print(f"starting from the weights of {config.init_weights}")
        load_weights_into(model, keras.models.load_model(config.init_weights, compile=False))
    if config.kind_only:
        freeze_all_but_kind_head(model)
        print(f"training the kind head alone: {sum(int(np.prod(w.shape)) for w in model.trainable_weights):,} "
              "weights; the first answer stays the starting model's")
    if kind:
        loss = GlassesAndKindLoss(config.kind_weight, kind_weights, config.label_smoothing)
        metrics = [FirstColumnAccuracy(threshold=0.0, name="accuracy"),
                   FirstColumnAUC(curve="PR", from_logits=True, name="pr_auc"), KindAccuracy()]
        metrics += [KindPRAUC()] if config.kind_only else []
    else:
        loss = ConsistentBinaryCrossentropy(config.consistency, config.label_smoothing) if config.consistency else \
            keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=config.label_smoothing)
        metrics = [keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy"),
                   keras.metrics.AUC(curve="PR", from_logits=True, name="pr_auc")]
    model.compile(optimizer=keras.optimizers.AdamW(config.peak_lr, weight_decay=config.weight_decay),
                  loss=loss, metrics=metrics,
                  jit_compile=False)  # XLA made training steps 5x slower on this CPU
    return model


def class_weights(labels: np.ndarray) -> dict[int, float]:
    """Loss weights that give both classes the same total weight."""
    counts = np.bincount(labels, minlength=2).astype(float)
    return {c: float(len(labels) / (2 * max(counts[c], 1))) for c in (0, 1)}


def source_class_weights(labels: np.ndarray, pools: list[str]) -> np.ndarray:
    """Each crop's loss weight such that, within each pool, both classes weigh the same, and each
    pool weighs as many crops as it has: no pool's share of glasses (CelebA-more's are nearly all
    glasses) can teach the model that a pool's look means glasses. Mean weight 1."""
    pools_arr = np.asarray(pools)
    weights = np.ones(len(labels), dtype=np.float64)
    for pool in sorted(set(pools)):
        here = pools_arr == pool
        for label in (0, 1):
            cell = here & (labels == label)
            if cell.any():
                weights[cell] = here.sum() / (2.0 * cell.sum()) if (here & (labels != label)).any() else 1.0
    return weights / weights.mean()


class EpochRecorder(keras.callbacks.Callback):
    """Records each finished epoch (run_state.py) and stops early after ``patience`` epochs
    without a better validation PR-AUC. A resumed run first gets back the random states its
    last finished epoch ended with."""

    def __init__(self, out: Path, patience: int, state: RunState | None):
        super().__init__()
        self.out, self.patience, self.state = out, patience, state

    def on_train_begin(self, logs=None):
        if self.state:
            restore_random_states(self.model, self.state.random_states)

    def on_epoch_end(self, epoch, logs=None):
        history = [*(self.state.history if self.state else []),
                   {"epoch": epoch, **{k: float(v) for k, v in logs.items()}}]
        self.state = record_epoch(self.out, self.model, history)
        if should_stop(history, self.patience):
            print(f"early stopping: no better validation PR-AUC in the last {self.patience} epochs")
            self.model.stop_training = True


class Eta(keras.callbacks.Callback):
    """After each epoch: how long it took and about how long the remaining epochs will take (at
    the mean pace so far; early stopping may end the run sooner)."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs, self.durations = epochs, []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        self.durations.append(time.monotonic() - self.started)
        left = (self.epochs - epoch - 1) * float(np.mean(self.durations))
        finish = time.strftime("%H:%M", time.localtime(time.time() + left))
        print(f"epoch {epoch + 1}/{self.epochs} took {self.durations[-1]:.0f} s; "
              f"about {left / 60:.1f} min left (done around {finish})", flush=True)


def should_stop(history: list[dict], patience: int) -> bool:
    """Keras's EarlyStopping rule, from the history alone (so that a resumed run keeps counting):
    after the first epoch, stop at an epoch that is not the best when ``patience`` epochs have
    passed since the best."""
    return len(history) > 1 and epochs_since_best(history) >= max(patience, 1)


def training_targets(config, train, val) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(training targets, validation targets, each training crop's loss weight or None). Targets
    are the labels, or (N, 2) with the kind (kind_head.py) when the model answers it; weights are
    None when Keras's class weights do the balancing (one answer, no balance per pool)."""
    kind = config.kind_weight > 0
    targets = kind_targets(train.labels, [r.kind for r in train.records]) if kind else train.labels.astype(np.float32)
    val_targets = kind_targets(val.labels, [r.kind for r in val.records]) if kind else val.labels.astype(np.float32)
    if not config.class_weights:
        weights = np.ones(len(train.labels)) if kind else None
    elif config.source_balance:
        weights = source_class_weights(train.labels, [r.pool for r in train.records])
    elif kind:
        by_class = class_weights(train.labels)
        weights = np.array([by_class[int(label)] for label in train.labels])
    else:
        weights = None
    return targets, val_targets, weights


def fit(config, train, val, out: Path, state: RunState | None, tensorboard: bool = False) -> keras.Model:
    """Train from ``state`` (run_state.open_run), recording every finished epoch; returns the best
    model (by validation PR-AUC, the kind's in a kind-only run: run_state.monitored). With
    ``tensorboard``, logs to ``out/tensorboard`` too."""
    if state:
        print(f"resuming after epoch {state.epochs_done} from {out / state.checkpoint}")
    targets, val_targets, weights = training_targets(config, train, val)
    model = keras.models.load_model(out / state.checkpoint) if state else \
        build(config, kind_class_weights(targets) if targets.ndim == 2 else (1.0, 1.0))
    print(f"model: {model.count_params():,} parameters, {multiply_adds(model):,} multiply-adds per crop")
    done = state.history if state else []
    # One worker: batches are made in order, in step with the schedule. With several, Keras's
    # enqueuer keeps submitting indices past the end of an epoch and hands what it made to the
    # next one, before Schedule has set that epoch's order and strength, so a run could depend
    # on thread timing. On this 2-core machine two workers were no faster (about 26 s per epoch
    # of 4,000 crops either way).
    data = AugmentedCrops(train.crops, targets, config.batch_size, config.run_seed, config.shadows,
                          pairs=config.consistency > 0, variants=train.variants, variant_share=config.crop_variants,
                          weights=weights, frame_cuts=config.frame_cuts, workers=1, use_multiprocessing=False)
    validation = PairedCopies(val.crops, val.labels, 256) if config.consistency else \
        (val.crops.astype(np.float32), val_targets)
    callbacks = [Schedule(data, config), EpochRecorder(out, config.patience, state), Eta(config.epochs)]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(out / "tensorboard"))
    if len(done) < config.epochs and not should_stop(done, config.patience):
        model.fit(data, validation_data=validation,
                  epochs=config.epochs, initial_epoch=len(done), callbacks=callbacks,
                  class_weight=class_weights(train.labels) if config.class_weights and weights is None else None,
                  verbose=1 if sys.stdout.isatty() else 2)  # progress bar on a terminal, a line per epoch in logs
    return keras.models.load_model(out / BEST)
