"""How much of the models' validation error is the labels': F1 by the datasets' own labels and by
the look at them (label_audit.py, data/glasses_audit/validation.csv).

    python3 research_and_train_nn/studies/label_audit_study.py runs/r34_eyeband_kind_only runs/r28_... \
        --out research_and_train_nn/reports/label_audit

Every validation photo was looked at by eye, blind to its label and to every model (label_audit.py).
For the shipped model (on the first run's validation crops) and each run given (on its own), at its
own threshold (chosen on the datasets' labels, as every model was): F1 overall and per pool by the
datasets' labels, and by the look's (its answer where it said glasses or none; the photos it could
not tell are left out). For the shipped model, its errors by the datasets' labels: how many the look
says are the label's, and the crops of the glasses the labels call none (glasses_labelled_none.png).
Validation only: the test set is not read. Writes label_audit.md and .json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from glasses_core import ModelConfig
from glasses_core.errors import errors_exit_2
from research_and_train_nn.data.datasets import file_of
from research_and_train_nn.evaluation.metrics import metrics
from research_and_train_nn.studies.looked_runs import add_inputs, check_inputs, looked_at
from research_and_train_nn.studies.report_files import command_line, write_report

POOLS = ("mtfl_train", "celeba", "celeba_more")
POOL_NAMES = {"mtfl_train": "MTFL", "celeba": "CelebA", "celeba_more": "CelebA-more"}


def label_changes(val: dict, audited: np.ndarray) -> dict:
    """Per pool: photos, the datasets' glasses, and what the look said of them."""
    table = {}
    for pool in POOLS:
        mine = val["pools"] == pool
        labels, said = val["labels"][mine], audited[mine]
        table[pool] = {"photos": int(mine.sum()), "with_glasses": int(labels.sum()),
                       "agrees": int((said == labels).sum()),
                       "glasses_to_none": int(((labels == 1) & (said == 0)).sum()),
                       "none_to_glasses": int(((labels == 0) & (said == 1)).sum()),
                       "unsure": int((said == -1).sum())}
    return table


def scores(val: dict, audited: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict:
    """F1 (and its confusion) overall and per pool, by the datasets' labels and by the look's (None
    for a pool with no photos)."""
    out = {}
    for pool in ("all", *POOLS):
        mine = np.ones(len(audited), bool) if pool == "all" else val["pools"] == pool
        if not mine.any():
            out[pool] = None
            continue
        seen = mine & (audited >= 0)
        out[pool] = {"datasets": metrics(val["labels"][mine], probabilities[mine], threshold),
                     "looked": metrics(audited[seen], probabilities[seen], threshold)}
    return out


def errors_explained(val: dict, audited: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict:
    """Per pool, the model's errors by the datasets' labels: how many the look says the model got
    right (the label's error), could not tell, or agrees are errors; and the photos of the first."""
    said = (probabilities >= threshold).astype(int)
    out = {}
    for pool in POOLS:
        wrong = (val["pools"] == pool) & (said != val["labels"])
        out[pool] = {"errors": int(wrong.sum()), "label_wrong": int((wrong & (audited == said)).sum()),
                     "unsure": int((wrong & (audited == -1)).sum()),
                     "model_wrong": int((wrong & (audited == val["labels"])).sum()),
                     "label_wrong_photos": [file_of(p) for p in val["paths"][wrong & (audited == said)]]}
        hidden = (val["pools"] == pool) & (val["labels"] == 0) & (audited == 1)  # glasses the label missed
        out[pool]["glasses_labelled_none"] = {"photos": int(hidden.sum()), "said_glasses": int(said[hidden].sum()),
                                              "probabilities": sorted(round(float(p), 3) for p in probabilities[hidden])}
    return out


def score(name: str, model: Path, config: ModelConfig, val: dict, audited: np.ndarray) -> tuple[dict, np.ndarray]:
    """The model's row of the report, and its probabilities on ``val``'s crops."""
    import keras

    from research_and_train_nn.evaluation.probabilities import predict_answers
    probabilities, _ = predict_answers(keras.models.load_model(model, compile=False), val["crops"])
    t = config.threshold
    return {"model": name, "threshold": t, "scores": scores(val, audited, probabilities, t),
            "errors": errors_explained(val, audited, probabilities, t)}, probabilities


def hidden_glasses_sheet(val: dict, audited: np.ndarray, probabilities: np.ndarray, path: Path, zoom: int = 3) -> None:
    """The crops (as the model sees them, enlarged ``zoom`` times) of the glasses the datasets' labels
    call none, each with its file and the model's probability."""
    from PIL import Image, ImageDraw
    chosen = np.flatnonzero((val["labels"] == 0) & (audited == 1))
    chosen = chosen[np.argsort(probabilities[chosen])]
    side, columns = val["crops"].shape[1] * zoom, 6
    sheet = Image.new("RGB", (columns * side, max(1, -(-len(chosen) // columns)) * (side + 16)), (30, 30, 30))
    pen = ImageDraw.Draw(sheet)
    for n, i in enumerate(chosen):
        x, y = (n % columns) * side, (n // columns) * (side + 16)
        sheet.paste(Image.fromarray(val["crops"][i]).resize((side, side), Image.NEAREST), (x, y))
        pen.text((x + 2, y + side + 2), f"{Path(str(val['paths'][i])).name} P={probabilities[i]:.3f}", fill=(255, 255, 0))
    sheet.save(path)


def markdown(report: dict) -> str:
    f1 = lambda m: f"{m['f1']:.4f}"  # noqa: E731
    lines = ["# How much of the validation error is the labels'", "", f"`{report['command']}`", "",
             f"Every validation photo ({sum(r['photos'] for r in report['labels'].values()):,}: the people every run "
             "holds out) was looked at by eye, blind to its label "
             "and to every model (`label_audit.py`; `data/glasses_audit/`). F1 at each model's own threshold (chosen on the "
             "datasets' labels), by the datasets' labels and by the look's (photos it could not tell left out). "
             "Validation only; training and model choice keep the datasets' labels.", "",
             "## What the look said of the datasets' labels", "",
             "| pool | photos | labelled glasses | look agrees | glasses → none | none → glasses | could not tell |",
             "|---|---|---|---|---|---|---|"]
    for pool, row in report["labels"].items():
        lines.append(f"| {POOL_NAMES[pool]} | {row['photos']} | {row['with_glasses']} | {row['agrees']} | "
                     f"{row['glasses_to_none']} | {row['none_to_glasses']} | {row['unsure']} |")
    lines += ["", "## F1 by the datasets' labels and by the look's", "",
              "| model | threshold | all | all, looked | MTFL | MTFL, looked | CelebA | CelebA, looked | CelebA-more | CelebA-more, looked |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for row in report["models"]:
        cells = [f"{f1(row['scores'][p]['datasets'])} | {f1(row['scores'][p]['looked'])}" if row["scores"][p] else "– | –"
                 for p in ("all", *POOLS)]
        lines.append(f"| {row['model']} | {row['threshold']:.4f} | " + " | ".join(cells) + " |")
    shipped = report["models"][0]
    lines += ["", f"## {shipped['model']}'s errors by the datasets' labels", "",
              "| pool | errors | the label's (the look says the model is right) | could not tell | the model's |",
              "|---|---|---|---|---|"]
    for pool, row in shipped["errors"].items():
        lines.append(f"| {POOL_NAMES[pool]} | {row['errors']} | {row['label_wrong']} | {row['unsure']} | {row['model_wrong']} |")
    lines += ["", "Glasses the datasets' labels call none (the look says glasses): "
              + "; ".join(f"{POOL_NAMES[p]}: {r['glasses_labelled_none']['photos']}, the model says glasses for "
                          f"{r['glasses_labelled_none']['said_glasses']} (probabilities "
                          f"{', '.join(f'{x:.3f}' for x in r['glasses_labelled_none']['probabilities']) or 'none'})"
                          for p, r in shipped["errors"].items()) + f"; threshold {shipped['threshold']:.4f}."]
    lines += ["", "`glasses_labelled_none.png`: those crops as the shipped model sees them (enlarged 3 times), with its "
              "probability."]
    lines += ["", "The label's errors: " + "; ".join(f"{POOL_NAMES[p]}: {', '.join(r['label_wrong_photos']) or 'none'}"
                                                   for p, r in shipped["errors"].items()), ""]
    return "\n".join(lines)


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_inputs(parser)
    args = parser.parse_args(argv)
    check_inputs(args)
    first, audited = looked_at(args.runs[0], args.audit)
    shipped = ModelConfig.load(args.shipped / "glasses.json")
    row, probabilities = score(f"shipped {shipped.version}", args.shipped / "glasses.keras", shipped, first, audited)
    models = [row]
    for n, run in enumerate(args.runs):  # one run's crops in memory at a time; the first's read once
        val, looked = (first, audited) if n == 0 else looked_at(run, args.audit)
        models.append(score(run.name, run / "model.keras", ModelConfig.load(run / "config.json"), val, looked)[0])
    report = {"command": command_line("label_audit_study.py", argv), "labels": label_changes(first, audited),
              "models": models}
    write_report(args.out, "label_audit", report, markdown(report))
    hidden_glasses_sheet(first, audited, probabilities, args.out / "glasses_labelled_none.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
