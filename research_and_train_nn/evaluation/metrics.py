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
