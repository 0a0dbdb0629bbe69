"""The README's figures, each from the real code and files: one command makes them all.

    .venv/bin/python research_and_train_nn/make_figures.py [--out static]
        [--benchmarks benchmarks/results.json] [--model models/glasses.json]

- description.png: the pipeline on a real example photo (face box and keypoints, the 64x64
  crop the model sees, its answer);
- model_summary.png: the shipped architecture's layers (two answers, the kind from the eye band),
  output shapes and parameters;
- inference_time.png: time per stage and per model variant, from benchmarks/results.json
  (written by benchmarks/run_all.py);
- examples_grid.png: every photo in examples/ with the model's answer and the true label.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from glasses_core import GlassesClassifier, load_image  # noqa: E402
from glasses_core.errors import errors_exit_2  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DESCRIPTION_PHOTO = "0017-image27176.jpg"  # a frontal face with glasses
STAGE_COLOURS = {"decode": "tab:gray", "detect": "tab:blue", "refine": "tab:purple", "crop": "tab:orange",
                 "classify": "tab:green"}


def description(classifier: GlassesClassifier, photo: Path, path: Path) -> None:
    """Photo -> detected face and eyes -> 64x64 crop -> probability and answer."""
    image = load_image(photo)
    crop = classifier.crops(image)[0]
    probability = float(classifier.predict_crops(crop.pixels[None])[0])
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1.3, 1, 1]})
    _photo_panel(axes[0], image, crop.face, photo.name)
    axes[1].imshow(crop.pixels, interpolation="nearest")
    axes[1].set_title(f"2. crop_face: eyes levelled,\n{classifier.config.crop.scale} x eye distance, "
                      f"{classifier.config.crop.size}x{classifier.config.crop.size}", fontsize=9)
    axes[1].axis("off")
    _answer_panel(axes[2], classifier, probability)
    fig.suptitle("glasses or not: open_photo \u2192 BlazeFace \u2192 face mesh (eyes) \u2192 crop_face "
                 "\u2192 GlassesClassifier",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.94), w_pad=4)
    for before, after in zip(axes[:-1], axes[1:]):  # an arrow in each gap, once the layout is fixed
        x = (before.get_position().x1 + after.get_position().x0) / 2
        fig.text(x, 0.45, "\u2192", fontsize=28, ha="center", va="center")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _photo_panel(ax, image: np.ndarray, face, name: str) -> None:
    ax.imshow(image)
    ax.axis("off")
    if face is None:
        ax.set_title(f"1. {name}: no face found", fontsize=9)
        return
    x0, y0, x1, y1 = face.box
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="yellow", linewidth=1.5))
    others = np.array(face.keypoints[2:])
    ax.scatter(others[:, 0], others[:, 1], s=12, c="white", edgecolors="black", linewidths=0.5)
    eyes = np.array([face.right_eye, face.left_eye])
    ax.scatter(eyes[:, 0], eyes[:, 1], s=30, c="red", edgecolors="white", linewidths=0.8, label="eyes")
    ax.set_title(f"1. {name} ({image.shape[1]}x{image.shape[0]}):\nBlazeFace box and keypoints "
                 f"(score {face.score:.2f}; red: eyes from the face mesh)", fontsize=9)


def _answer_panel(ax, classifier: GlassesClassifier, probability: float) -> None:
    answer = classifier.answer(probability)
    ax.axis("off")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(f"3. CNN ({classifier.model_path.name})", fontsize=9)
    ax.text(0.5, 0.62, answer, ha="center", va="center", fontsize=26, weight="bold",
            color="tab:green" if answer == classifier.config.labels[1] else "tab:blue")
    ax.text(0.5, 0.38, f"P(glasses) = {probability:.3f}\nthreshold {classifier.threshold:.2f}",
            ha="center", va="center", fontsize=11)


def model_summary(path: Path) -> None:
    """The shipped architecture's layers as a table: name, type, output shape, parameters (two
    answers, the second from the eye band: make_model(kind_head=True, kind_features="eye_band"))."""
    from research_and_train_nn.training.model import make_model, multiply_adds
    model = make_model(kind_head=True, kind_features="eye_band")
    rows = [(layer.name, type(layer).__name__, str(tuple(layer.output.shape[1:])), f"{layer.count_params():,}")
            for layer in model.layers]
    rows.append(("total", "", "", f"{model.count_params():,}"))
    fig, ax = plt.subplots(figsize=(7.5, 0.22 * len(rows) + 0.9))
    ax.axis("off")
    table = ax.table(cellText=rows, colLabels=("layer", "type", "output shape", "parameters"),
                     bbox=(0, 0, 1, 1), cellLoc="left", colLoc="left", colWidths=(0.3, 0.3, 0.22, 0.18))
    table.auto_set_font_size(False)
    table.set_fontsize(7.5)
    for (row, _), cell in table.get_celld().items():
        cell.set_linewidth(0.3)
        if row == 0 or row == len(rows):
            cell.set_text_props(weight="bold")
            cell.set_facecolor("#e8e8e8")
    ax.set_title(f"The shipped architecture: {model.count_params():,} parameters, "
                 f"{multiply_adds(model) / 1e6:.1f} M multiply-adds per 64x64 crop", fontsize=10, pad=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def inference_time(results: dict, path: Path) -> None:
    """Stacked stage times per photo size, and the classifier alone per variant and threads."""
    model, pipeline = results["pipeline"]["model"], results["pipeline"]["photos"]
    latency = results["classifier_ms_per_crop"]
    sizes = list(pipeline)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.4, 1]})
    left = np.zeros(len(sizes))
    for stage, colour in STAGE_COLOURS.items():
        ms = np.array([pipeline[s][f"{stage}_ms"] for s in sizes])
        a.barh(sizes, ms, left=left, color=colour, label=stage)
        left += ms
    for y, total in enumerate(left):
        a.text(total, y, f" {total:.1f} ms", va="center", fontsize=9)
    a.set(xlabel="ms per photo (median, 1 thread)", xlim=(0, left.max() * 1.2),
          title=f"predict() per JPEG photo, by stage ({model})")
    a.legend(fontsize=8, loc="lower right")
    names = list(latency)
    b.bar(range(len(names)), [latency[n] for n in names],
          color=["tab:green" if n.endswith("1_thread") else "tab:olive" for n in names])
    b.set_xticks(range(len(names)), [n.replace("_thread", "\nthread").replace("_", " ") for n in names], fontsize=8)
    for x, n in enumerate(names):
        b.text(x, latency[n], f"{latency[n]:.2f}", ha="center", va="bottom", fontsize=8)
    b.set(ylabel="ms per crop (median)", title="classifier alone, batch 1 (TFLite)",
          ylim=(0, max(latency.values()) * 1.15))
    note = results.get("machine", {})
    fig.text(0.01, 0.01, f"{note.get('note') or 'this machine'}, {note.get('cores', '?')} cores "
             "- benchmarks/results.json", fontsize=7, color="gray")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def examples_grid(classifier: GlassesClassifier, examples: Path, path: Path, columns: int = 4) -> None:
    """Each example photo titled with the model's answer, its probability and the true label."""
    with open(examples / "labels.csv", newline="") as f:
        labels = {row["file"]: int(row["label"]) for row in csv.DictReader(f)}
    rows = int(np.ceil(len(labels) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 2.2, rows * 2.75))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, (name, label) in zip(np.ravel(axes), sorted(labels.items())):
        result = classifier.predict(examples / name).guessed()  # a photo without a face: its fallback guess
        truth = classifier.config.labels[label]
        ax.imshow(load_image(examples / name))
        ax.set_title(f"{name[:4]}: {result.answer} p={result.probability:.3f}\ntrue: {truth}", fontsize=8,
                     color="black" if result.answer == truth else "red")
    fig.suptitle(f"examples/ with the shipped model ({classifier.model_path.name}, "
                 f"threshold {classifier.threshold:.2f}); red = wrong", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97), h_pad=1.5)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "static", help="folder for the PNGs")
    parser.add_argument("--benchmarks", type=Path, default=ROOT / "benchmarks" / "results.json",
                        help="results of benchmarks/run_all.py")
    parser.add_argument("--model", type=Path, default=None, help="model .json (default: the shipped model)")
    parser.add_argument("--examples", type=Path, default=EXAMPLES, help="photos and labels.csv")
    args = parser.parse_args(argv)
    if not args.benchmarks.is_file():
        parser.error(f"{args.benchmarks} not found: run benchmarks/run_all.py first")
    classifier = GlassesClassifier(args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    paths = {name: args.out / f"{name}.png" for name in
             ("description", "model_summary", "inference_time", "examples_grid")}
    description(classifier, args.examples / DESCRIPTION_PHOTO, paths["description"])
    model_summary(paths["model_summary"])
    inference_time(json.loads(args.benchmarks.read_text()), paths["inference_time"])
    examples_grid(classifier, args.examples, paths["examples_grid"])
    for path in paths.values():
        print(path)
    return list(paths.values())


if __name__ == "__main__":
    sys.exit(errors_exit_2(main)())
