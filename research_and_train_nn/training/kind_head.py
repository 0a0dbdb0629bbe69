"""The second answer: which glasses, P(dark | glasses), from the same network as the first.

With ``TrainConfig.kind_weight`` = w > 0 the model ends in two logits (model.py): glasses, then
dark. The targets are (N, 2): the glasses label, then 1 for sunglasses, 0 for clear glasses and
-1 where the kind is not known (no glasses, or labelled unsure: those rows teach the first answer
only). The loss is the first answer's binary cross-entropy plus w times the second's on the rows
with a known kind, each kind weighted to the same total (sunglasses are a third of the labels).
The metrics read the first column, so a run's history keeps the names (and best-epoch rule) of a
one-answer run, plus ``kind_accuracy`` on the rows with a known kind.
"""
from __future__ import annotations

import keras
import numpy as np

UNKNOWN = -1.0  # the second target of a row whose kind is not known


def kind_targets(labels: np.ndarray, kinds: list) -> np.ndarray:
    """(N, 2) float32 targets from the glasses labels and each record's kind ("dark", "clear", None)."""
    dark = np.array([1.0 if k == "dark" else 0.0 if k == "clear" else UNKNOWN for k in kinds], dtype=np.float32)
    return np.stack([labels.astype(np.float32), np.where(labels == 1, dark, UNKNOWN)], axis=1)


def kind_class_weights(targets: np.ndarray) -> tuple[float, float]:
    """(clear, dark) weights giving both kinds the same total among the rows with a known kind."""
    known = targets[:, 1][targets[:, 1] != UNKNOWN]
    counts = np.array([(known == 0).sum(), (known == 1).sum()], dtype=float)
    return tuple(float(len(known) / (2 * max(c, 1.0))) for c in counts)


@keras.saving.register_keras_serializable(package="glasses")
class GlassesAndKindLoss(keras.losses.Loss):
    """Binary cross-entropy of the first logit, plus ``weight`` times the class-weighted binary
    cross-entropy of the second on rows whose second target is known."""

    def __init__(self, weight: float, kind_weights=(1.0, 1.0), label_smoothing: float = 0.0,
                 name: str = "glasses_and_kind", **kwargs):
        super().__init__(name=name, **kwargs)
        self.weight, self.kind_weights, self.label_smoothing = float(weight), tuple(kind_weights), float(label_smoothing)
        self._bce = keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=label_smoothing, reduction=None)

    def call(self, y_true, y_pred):
        glasses = self._bce(y_true[:, :1], y_pred[:, :1])
        kind = y_true[:, 1:]
        known = keras.ops.cast(kind >= 0.0, y_pred.dtype)[:, 0]
        target = keras.ops.maximum(kind, 0.0)
        per_kind = known * keras.ops.where(target[:, 0] > 0.5, self.kind_weights[1], self.kind_weights[0])
        return glasses + self.weight * per_kind * self._bce(target, y_pred[:, 1:])

    def get_config(self) -> dict:
        return {**super().get_config(), "weight": self.weight, "kind_weights": list(self.kind_weights),
                "label_smoothing": self.label_smoothing}


@keras.saving.register_keras_serializable(package="glasses")
class FirstColumnAUC(keras.metrics.AUC):
    """keras.metrics.AUC of the first answer (the first column of targets and logits)."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(y_true[:, :1], y_pred[:, :1], sample_weight)


@keras.saving.register_keras_serializable(package="glasses")
class FirstColumnAccuracy(keras.metrics.BinaryAccuracy):
    """keras.metrics.BinaryAccuracy of the first answer."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(y_true[:, :1], y_pred[:, :1], sample_weight)


@keras.saving.register_keras_serializable(package="glasses")
class KindAccuracy(keras.metrics.Mean):
    """Accuracy of the second answer (dark when its logit is above 0) on rows with a known kind."""

    def __init__(self, name: str = "kind_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        kind = y_true[:, 1]
        known = keras.ops.cast(kind >= 0.0, "float32")
        right = keras.ops.cast(keras.ops.equal(kind > 0.5, y_pred[:, 1] > 0.0), "float32")
        return super().update_state(right, sample_weight=known)


@keras.saving.register_keras_serializable(package="glasses")
class KindPRAUC(keras.metrics.AUC):
    """PR-AUC of the second answer on rows with a known kind (dark the positive class): what picks
    the best epoch of a run that trains the kind alone (``TrainConfig.kind_only``), whose first
    answer, and so its PR-AUC, never changes."""

    def __init__(self, name: str = "kind_pr_auc", **kwargs):
        super().__init__(curve="PR", from_logits=True, name=name, **{k: v for k, v in kwargs.items()
                                                                     if k not in ("curve", "from_logits")})

    def update_state(self, y_true, y_pred, sample_weight=None):
        kind = y_true[:, 1]
        known = keras.ops.cast(kind >= 0.0, "float32")
        return super().update_state(keras.ops.maximum(kind, 0.0), y_pred[:, 1], sample_weight=known)
