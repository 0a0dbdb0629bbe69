"""Figures for reports and the README (matplotlib, no display needed)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def roc_pr_curves(labels: np.ndarray, probabilities: np.ndarray, path: Path) -> None:
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve
    fpr, tpr, _ = roc_curve(labels, probabilities)
    precision, recall, _ = precision_recall_curve(labels, probabilities)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 4))
    a.plot(fpr, tpr)
    a.set(xlabel="false positive rate", ylabel="true positive rate",
          title=f"ROC (AUC {roc_auc_score(labels, probabilities):.4f})")
    b.plot(recall, precision)
    b.set(xlabel="recall", ylabel="precision",
          title=f"precision-recall (AP {average_precision_score(labels, probabilities):.4f})")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def contact_sheet(crop_set, errors: list[dict], path: Path, columns: int = 6) -> None:
    """The crops the model saw for each error, titled with label and probability (or, for an
    error of the second answer, the kind and P(dark))."""
    rows = max(1, int(np.ceil(len(errors) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.7, rows * 1.9))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, e in zip(np.ravel(axes), errors):
        ax.imshow(crop_set.crops[e["index"]])
        if "kind" in e:  # an error of the second answer: which glasses
            what = f"{e['kind']} called {'clear' if e['kind'] == 'dark' else 'dark'} p(dark)={e['dark_probability']:.2f}"
        else:
            what = f"{'missed glasses' if e['label'] == 1 else 'false glasses'} p={e['probability']:.2f}"
        ax.set_title(f"{Path(e['path']).name[:14]}\n{what}" + ("" if e["face_found"] else "\n(no face)"), fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def schedule_figure(history_rows: list[dict], path: Path) -> None:
    """Learning rate and augmentation strength per epoch, from a run's history.csv."""
    epochs = [int(r["epoch"]) + 1 for r in history_rows]
    fig, a = plt.subplots(figsize=(6, 3.4))
    a.plot(epochs, [float(r["lr"]) for r in history_rows], color="tab:blue", label="learning rate")
    a.set(xlabel="epoch", ylabel="learning rate")
    b = a.twinx()
    b.plot(epochs, [float(r["strength"]) for r in history_rows], color="tab:red", label="augmentation strength")
    b.set(ylabel="augmentation strength s", ylim=(0, 1))
    fig.legend(loc="upper center", ncol=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def curves_figure(history_rows: list[dict], path: Path) -> None:
    """Loss, PR-AUC and accuracy per epoch on training and validation crops, from a run's history."""
    epochs = [int(r["epoch"]) + 1 for r in history_rows]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    for ax, metric in zip(axes, ("loss", "pr_auc", "accuracy")):
        for prefix, label in (("", "training"), ("val_", "validation")):
            ax.plot(epochs, [float(r[prefix + metric]) for r in history_rows], marker=".", label=label)
        ax.set(xlabel="epoch", title=metric.replace("_", "-").replace("pr-auc", "PR-AUC"))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
