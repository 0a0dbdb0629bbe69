"""Compare crop and training variants on a small budget before a full run.

``python3 research_and_train_nn/sweep.py --out runs/sweep`` trains each variant of
``VARIANTS`` with the same seed, the same identity-disjoint split and the same photos (a
subset of the training pool, a few epochs), scores each on its validation crops, and writes
``sweep_report.md`` / ``.json`` into ``--out`` (or ``--report``). The test set is never touched: choices made
here must not be tuned on it. A variant whose run folder already holds a model is not
trained again, so an interrupted sweep continues where it stopped.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
from pathlib import Path


from glasses_core import ModelConfig
from glasses_core.errors import errors_exit_2
from research_and_train_nn.data.crops import DEFAULT_CACHE
from research_and_train_nn.training.config import TrainConfig

# name -> changes from the base settings (``crop`` entries change the crop).
VARIANTS = {
    "base": {},
    "scale 2.0": {"crop": {"scale": 2.0}},
    "scale 2.8": {"crop": {"scale": 2.8}},
    "80 px": {"crop": {"size": 80}},
    "80 px, scale 2.0": {"crop": {"size": 80, "scale": 2.0}},
    "brim shadows 0.5": {"shadows": 0.5},
    "label smoothing 0.1": {"label_smoothing": 0.1},
}


def variant_config(base: TrainConfig, changes: dict) -> TrainConfig:
    changes = dict(changes)
    crop = dataclasses.replace(base.crop, **changes.pop("crop", {}))
    return dataclasses.replace(base, crop=crop, **changes)


def score(run: Path) -> dict:
    """Validation metrics of a finished run (its own threshold, chosen on the same crops)."""
    from research_and_train_nn.evaluation.report import validation_crops, hard_cases
    from research_and_train_nn.evaluation.probabilities import keras_probabilities
    from research_and_train_nn.evaluation.metrics import metrics
    val = validation_crops(run)
    probabilities = keras_probabilities(run, val["crops"])
    threshold = ModelConfig.load(run / "config.json").threshold
    result = metrics(val["labels"], probabilities, threshold)
    hard = hard_cases(val, probabilities, threshold)
    celeba_negatives = hard.get("all CelebA", {}).get("no_glasses", 0)
    hard_negatives = {k: v for k, v in hard.items() if k != "all CelebA"}
    result["hard_false_positives"] = sum(v["false_positives"] for v in hard_negatives.values())
    result["hard_no_glasses"] = sum(v["no_glasses"] for v in hard_negatives.values())
    result["celeba_no_glasses"] = celeba_negatives
    result["epochs_run"] = len((run / "history.csv").read_text().splitlines()) - 1  # less the header
    return result


def markdown(report: dict) -> str:
    lines = ["# Sweep of crop and training variants (validation crops only)", "",
             f"Command: `{report['command']}`", "",
             f"Each variant: {report['base']['max_train']} training crops, {report['base']['epochs']} epochs, "
             f"seed {report['base']['seed']}; the same validation photos "
             f"({report['variants'][next(iter(report['variants']))]['images']} crops) for all. "
             "F1 at each run's own validation-chosen threshold, so F1 is optimistic; compare "
             "variants with each other, not with the test report. One seed per variant, and the "
             "spread between seeds was not measured: read small differences with care.", "",
             "| variant | PR-AUC | ROC-AUC | F1 | precision | recall | false positives on hard CelebA attributes |",
             "|---|---|---|---|---|---|---|"]
    for name, m in report["variants"].items():
        lines.append(f"| {name} | {m['pr_auc']:.4f} | {m['roc_auc']:.4f} | {m['f1']:.4f} | "
                     f"{m['precision']:.4f} | {m['recall']:.4f} | "
                     f"{m['hard_false_positives']} of {m['hard_no_glasses']} |")
    lines += ["", "Hard CelebA attributes: " + ", ".join(report["hard_attributes"]) +
              " (a photo with several counts once per attribute)."]
    return "\n".join(lines) + "\n"


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] + " Variants: "
                                     + "; ".join(VARIANTS) + ".")
    parser.add_argument("--out", type=Path, required=True, help="sweep folder (a run folder per variant)")
    parser.add_argument("--report", type=Path, help="folder for sweep_report.md/.json (default: --out)")
    parser.add_argument("--only", action="append", choices=list(VARIANTS), help="run only these variants")
    parser.add_argument("--max-train", type=int, default=6000, help="training crops per variant")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="crop cache folder")
    args = parser.parse_args(argv)
    # Short runs: faster batch-norm statistics, no early stopping, no test set.
    base = TrainConfig(max_train=args.max_train, epochs=args.epochs, bn_momentum=0.9,
                       patience=args.epochs, test="")
    from research_and_train_nn.evaluation.report import HARD_ATTRIBUTES
    from research_and_train_nn.training.run import run
    report = {"command": "python3 research_and_train_nn/sweep.py " + shlex.join(argv or sys.argv[1:]),
              "base": dataclasses.asdict(base), "hard_attributes": list(HARD_ATTRIBUTES), "variants": {}}
    for name in args.only or VARIANTS:
        folder = args.out / name.replace(" ", "_")
        if not (folder / "config.json").is_file():
            print(f"== {name}", flush=True)
            run(variant_config(base, VARIANTS[name]), folder, cache=args.cache)
        report["variants"][name] = score(folder)
        report_dir = args.report or args.out
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "sweep_report.json").write_text(json.dumps(report, indent=2) + "\n")
        (report_dir / "sweep_report.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
