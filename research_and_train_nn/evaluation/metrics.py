"""Metrics of a binary answer (glasses = positive class), and the threshold chosen on validation."""
from __future__ import annotations

import numpy as np


def metrics(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict:
    """Threshold metrics and ranking metrics (AUCs) for glasses = positive class."""
    from sklearn.metrics import (accuracy_score, average_precision_score, balanced_accuracy_score,
                                 confusion_matrix, precision_recall_fscore_support, roc_auc_score)
    predicted = (probabilities >= threshold).astype(int)
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, predicted, average="binary", zero_division=0)
    both = len(np.unique(labels)) == 2
    return {
        "images": int(len(labels)), "with_glasses": int(labels.sum()), "threshold": float(threshold),
        "accuracy": float(accuracy_score(labels, predicted)),
        "balanced_accuracy": float(balanced_accuracy_score(labels, predicted)) if both else None,
        "precision": float(precision), "recall": float(recall), "f1": float(f1),
        "roc_auc": float(roc_auc_score(labels, probabilities)) if both else None,
        "pr_auc": float(average_precision_score(labels, probabilities)) if both else None,
        "confusion_matrix": confusion_matrix(labels, predicted, labels=[0, 1]).tolist(),
    }


def choose_threshold(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The probability threshold that maximises F1 on validation."""
    from sklearn.metrics import precision_recall_curve
    precision, recall, thresholds = precision_recall_curve(labels, probabilities)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))])


def choose_threshold_on_pools(labels: np.ndarray, probabilities: np.ndarray, pools: np.ndarray,
                              threshold_pools) -> float:
    """``choose_threshold`` on the photos of ``threshold_pools`` only (every photo when it is empty):
    how a run chooses its threshold (TrainConfig.threshold_pools)."""
    chosen = np.array([not threshold_pools or pool in threshold_pools for pool in pools], dtype=bool)
    return choose_threshold(labels[chosen], probabilities[chosen])


def choose_kind_threshold(kinds: np.ndarray, dark: np.ndarray) -> float:
    """The P(dark | glasses) threshold that maximises the mean of the accuracies on clear and on
    dark glasses, over the validation crops with a known kind ("clear", "dark"; others ignored)."""
    known = (kinds == "clear") | (kinds == "dark")
    truth, p = kinds[known] == "dark", dark[known]
    if truth.all() or not truth.any():
        return 0.5
    candidates = np.unique(p)
    scores = [((p[truth] >= t).mean() + (p[~truth] < t).mean()) / 2 for t in candidates]
    return float(candidates[int(np.argmax(scores))])


def kind_metrics(kinds: np.ndarray, dark: np.ndarray, threshold: float) -> dict:
    """Accuracy of the second answer on clear and on dark glasses (crops with a known kind), and
    the confusion between them (rows: true clear, dark; columns: said clear, dark)."""
    known = (kinds == "clear") | (kinds == "dark")
    truth, said = kinds[known] == "dark", dark[known] >= threshold
    confusion = [[int((~truth & ~said).sum()), int((~truth & said).sum())],
                 [int((truth & ~said).sum()), int((truth & said).sum())]]
    rate = lambda right, n: float(right / n) if n else None  # noqa: E731
    return {"threshold": float(threshold), "clear": int((~truth).sum()), "dark": int(truth.sum()),
            "clear_accuracy": rate(confusion[0][0], (~truth).sum()), "dark_accuracy": rate(confusion[1][1], truth.sum()),
            "confusion": confusion}
