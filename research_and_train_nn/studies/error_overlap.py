"""Are the validation errors left the models' own, or the data's? Ensembles and shared errors.

    python3 research_and_train_nn/studies/error_overlap.py runs/r4_finetune runs/r4b_finetune_seed2 ... \
        --out research_and_train_nn/reports/error_overlap

For full training runs scored on the same validation crops (the same split: the same ``seed``
and datasets), each at its own F1-best threshold on validation:
- how many errors each run makes, how many every run makes (shared), and how many any run makes;
- the ensemble of the first k runs (their logits averaged), k = 1 .. n: PR-AUC and F1 at its own
  best threshold. If the runs erred independently, averaging would remove errors;
- a contact sheet of the shared errors (label and file name under each crop, the first run's
  crop), to look at. Each run is scored on its own validation crops (its own crop settings).
The test set is never read. Writes error_overlap.md, error_overlap.json and shared_errors.png.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from glasses_core.errors import errors_exit_2
from research_and_train_nn.evaluation.metrics import choose_threshold, metrics
from research_and_train_nn.evaluation.probabilities import predict_probabilities
from research_and_train_nn.evaluation.report import validation_crops
from research_and_train_nn.studies.report_files import write_report
from research_and_train_nn.training.run_state import check_run_folder

TILE = 128  # contact-sheet tile side; crops are scaled up to it
COLUMNS = 8


def at_best_threshold(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """evaluate.metrics at the threshold a run would choose on validation (train.choose_threshold)."""
    return metrics(labels, probabilities, choose_threshold(labels, probabilities))


def logits(probabilities: np.ndarray) -> np.ndarray:
    p = np.clip(probabilities, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def run_probabilities(runs: list[Path], val: dict) -> np.ndarray:
    """(runs, photos) validation probabilities of each run's model.keras on its own validation
    crops (its own crop settings), which must be of the same photos as ``val``'s."""
    import keras

    probabilities = []
    for run in runs:
        own = validation_crops(run)
        if not np.array_equal(own["labels"], val["labels"]) or not np.array_equal(own["paths"], val["paths"]):
            raise SystemExit(f"{run} was validated on other photos than {runs[0]}: use runs of one split")
        model = keras.models.load_model(run / "model.keras", compile=False)
        probabilities.append(predict_probabilities(model, own["crops"]))
    return np.stack(probabilities)


def study(runs: list[Path]) -> tuple[dict, np.ndarray]:
    val = validation_crops(runs[0])
    labels = val["labels"]
    probabilities = run_probabilities(runs, val)
    wrong = []
    per_run = []
    for run, p in zip(runs, probabilities):
        scores = at_best_threshold(labels, p)
        errors = (p >= scores["threshold"]).astype(int) != labels
        wrong.append(errors)
        per_run.append({"run": run.name, "pr_auc": scores["pr_auc"], "f1": scores["f1"],
                        "errors": int(errors.sum()), "false_alarms": int((errors & (labels == 0)).sum()),
                        "misses": int((errors & (labels == 1)).sum())})
    wrong = np.stack(wrong)
    shared = wrong.all(axis=0)
    ensembles = []
    for k in range(1, len(runs) + 1):
        p = 1.0 / (1.0 + np.exp(-logits(probabilities[:k]).mean(axis=0)))
        scores = at_best_threshold(labels, p)
        ensembles.append({"runs": k, "pr_auc": scores["pr_auc"], "f1": scores["f1"]})
    sources = val["sources"]
    report = {"validation_photos": int(len(labels)), "with_glasses": int(labels.sum()), "per_run": per_run,
              "shared_errors": int(shared.sum()), "errors_of_any_run": int(wrong.any(axis=0).sum()),
              "shared_by_source": {str(s): {"false_alarms": int((shared & (sources == s) & (labels == 0)).sum()),
                                            "misses": int((shared & (sources == s) & (labels == 1)).sum())}
                                   for s in sorted(set(sources.tolist()))},
              "ensembles": ensembles,
              "shared": [{"path": str(val["paths"][i]), "label": int(labels[i]),
                          "mean_probability": float(probabilities[:, i].mean())} for i in np.flatnonzero(shared)]}
    return report, val["crops"][shared]


def contact_sheet(crops: np.ndarray, shared: list[dict]) -> Image.Image:
    rows = max(1, -(-len(crops) // COLUMNS))
    sheet = Image.new("RGB", (COLUMNS * TILE, rows * (TILE + 28)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (crop, item) in enumerate(zip(crops, shared)):
        x, y = (k % COLUMNS) * TILE, (k // COLUMNS) * (TILE + 28)
        sheet.paste(Image.fromarray(crop).resize((TILE, TILE), Image.BILINEAR), (x, y))
        label = "glasses" if item["label"] else "no glasses"
        draw.text((x + 3, y + TILE + 1), f"label: {label}  p={item['mean_probability']:.2f}", fill="black")
        draw.text((x + 3, y + TILE + 14), Path(item["path"]).name[:20], fill="black")
    return sheet


def markdown(report: dict, runs: list[Path]) -> str:
    lines = ["# Validation errors: the models' own, or the data's?", "",
             "`python3 research_and_train_nn/studies/error_overlap.py " + " ".join(str(r) for r in runs)
             + " --out ...`: each run at its own F1-best threshold on the same "
             f"{report['validation_photos']} validation photos ({report['with_glasses']} with glasses). "
             "The test set is not read.", "",
             "| run | PR-AUC | F1 | errors | false alarms | misses |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['run']} | {r['pr_auc']:.4f} | {r['f1']:.4f} | {r['errors']} | {r['false_alarms']} | "
              f"{r['misses']} |" for r in report["per_run"]]
    lines += ["", f"Errors every run makes: **{report['shared_errors']}**; errors of any run: "
              f"{report['errors_of_any_run']}. Shared, by source: "
              + ", ".join(f"{s} {v['false_alarms']} false alarms and {v['misses']} misses"
                          for s, v in report["shared_by_source"].items()) + ".", "",
              "Ensembles of the first k runs (logits averaged), each at its own best threshold:", "",
              "| runs | PR-AUC | F1 |", "|---|---|---|"]
    lines += [f"| {e['runs']} | {e['pr_auc']:.4f} | {e['f1']:.4f} |" for e in report["ensembles"]]
    lines += ["", "The shared errors: `shared_errors.png` (label, mean probability of the runs, file).", ""]
    return "\n".join(lines)


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run folders made by train.py on one split")
    parser.add_argument("--out", type=Path, required=True, help="folder for the report and the contact sheet")
    args = parser.parse_args(argv)
    for run in args.runs:
        check_run_folder(run)  # before any model is loaded
    report, crops = study(args.runs)
    write_report(args.out, "error_overlap", report, markdown(report, args.runs))
    contact_sheet(crops, report["shared"]).save(args.out / "shared_errors.png", optimize=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
