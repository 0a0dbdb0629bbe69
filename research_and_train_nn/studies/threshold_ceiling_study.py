"""Is a per-source F1 aim a matter of the threshold or of the ranking? For each model, per validation
pool: F1 at the model's own threshold, and the best F1 that any threshold gives on that pool alone
(the ceiling no choice of threshold can pass), by the datasets' labels and by the look at them.

    python3 research_and_train_nn/studies/threshold_ceiling_study.py runs/r28_... runs/r29_... runs/r30_... \
        --mean --out research_and_train_nn/reports/threshold_ceiling

The shipped model is scored on the first run's validation crops, each run on its own. With
``--mean``, one more row: the mean of every scored model's logits (an ensemble of them all, at
their combined cost), its threshold chosen as train.py chooses a run's (on the first run's
``threshold_pools``); the runs must then share their validation photos. The look's labels
(label_audit.py) leave out the photos it could not tell. Validation only: the test set is not
read. Writes threshold_ceiling.md and .json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from glasses_core import ModelConfig
from glasses_core.errors import ConfigError, errors_exit_2
from research_and_train_nn.evaluation.metrics import choose_threshold, choose_threshold_on_pools, metrics
from research_and_train_nn.evaluation.report import datasets_validation_crops
from research_and_train_nn.studies.looked_runs import add_inputs, check_inputs, looked_at
from research_and_train_nn.studies.report_files import command_line, write_report

POOLS = ("all", "mtfl_train", "celeba", "celeba_more")
POOL_NAMES = {"all": "all", "mtfl_train": "MTFL", "celeba": "CelebA", "celeba_more": "CelebA-more"}


def ceiling(labels: np.ndarray, probabilities: np.ndarray) -> dict | None:
    """The best F1 any threshold gives on these photos, and that threshold (None without both classes)."""
    if len(np.unique(labels)) < 2:
        return None
    threshold = choose_threshold(labels, probabilities)
    return {"f1": metrics(labels, probabilities, threshold)["f1"], "threshold": threshold}


def pool_scores(val: dict, looked: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict:
    """Per pool (None where a pool has no photos): F1 at ``threshold``, and the ceilings by the
    datasets' labels and by the look's."""
    out = {}
    for pool in POOLS:
        mine = np.ones(len(looked), bool) if pool == "all" else val["pools"] == pool
        if not mine.any():
            out[pool] = None
            continue
        seen = mine & (looked >= 0)
        out[pool] = {"photos": int(mine.sum()), "with_glasses": int(val["labels"][mine].sum()),
                     "f1": metrics(val["labels"][mine], probabilities[mine], threshold)["f1"],
                     "ceiling": ceiling(val["labels"][mine], probabilities[mine]),
                     "ceiling_looked": ceiling(looked[seen], probabilities[seen])}
    return out


def first_logits(model: Path, crops: np.ndarray) -> np.ndarray:
    """The model's first-answer logit of each crop."""
    import keras

    from research_and_train_nn.evaluation.probabilities import predict_logits
    return predict_logits(keras.models.load_model(model, compile=False), crops)[:, 0]


def sigmoid(logit: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logit))


def model_row(name: str, model: Path, threshold: float, val: dict, looked: np.ndarray) -> tuple[dict, np.ndarray]:
    """The model's row of the report on ``val``'s crops, and its first-answer logits there."""
    logit = first_logits(model, val["crops"])
    return {"model": name, "threshold": threshold, "pools": pool_scores(val, looked, sigmoid(logit), threshold)}, logit


def mean_row(scored: list[np.ndarray], val: dict, looked: np.ndarray, threshold_pools) -> dict:
    """The row of the mean of the models' logits on ``val``'s photos, its threshold chosen on
    ``threshold_pools`` as a run's is."""
    mean = sigmoid(np.mean(scored, axis=0))
    threshold = choose_threshold_on_pools(val["labels"], mean, val["pools"], threshold_pools)
    return {"model": f"the mean of the {len(scored)} models' logits", "threshold": threshold,
            "pools": pool_scores(val, looked, mean, threshold)}


def check_one_split(runs: list[Path], first: dict) -> None:
    """The runs' validation photos and labels are ``first``'s (the first run's), or ConfigError."""
    for run in runs[1:]:
        val = datasets_validation_crops(run)
        if not (np.array_equal(val["paths"], first["paths"]) and np.array_equal(val["labels"], first["labels"])):
            raise ConfigError(f"{run} holds other validation photos than {runs[0]}: --mean needs runs of one split")


def markdown(report: dict) -> str:
    def best(c):
        return f"{c['f1']:.4f} ({c['threshold']:.4f})" if c else "–"

    def cells(row):
        out = []
        for pool in POOLS:
            s = row["pools"][pool]
            out.append("– | – | –" if s is None else f"{s['f1']:.4f} | {best(s['ceiling'])} | {best(s['ceiling_looked'])}")
        return " | ".join(out)
    head = " | ".join(f"{POOL_NAMES[p]} | {POOL_NAMES[p]}, best | {POOL_NAMES[p]}, best, looked" for p in POOLS)
    first = report["models"][0]["pools"]
    lines = ["# F1 at each model's threshold, and the best any threshold gives", "", f"`{report['command']}`", "",
             "Validation only (the first run's photos: " + ", ".join(f"{POOL_NAMES[p]} {first[p]['photos']:,} photos, {first[p]['with_glasses']:,} "
                                             "with glasses" for p in POOLS if first[p]) + "). For each model and pool: F1 "
             "at the model's own threshold (one for every pool, chosen on validation as the run chose it, on the pools "
             "its `threshold_pools` names); the best F1 any "
             "threshold gives on that pool alone, with that threshold in brackets: no choice of threshold passes it, so "
             "a per-source aim above it needs a model that ranks the photos better; the same by the look's labels "
             "(label_audit.py; the photos it could not tell left out).", "",
             f"| model | threshold | {head} |", "|---|---|" + "---|" * (3 * len(POOLS))]
    lines += [f"| {row['model']} | {row['threshold']:.4f} | {cells(row)} |" for row in report["models"]]
    return "\n".join(lines) + "\n"


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_inputs(parser)
    parser.add_argument("--mean", action="store_true", help="also score the mean of every model's logits")
    args = parser.parse_args(argv)
    check_inputs(args)
    first, first_looked = looked_at(args.runs[0], args.audit)
    if args.mean:  # before any scoring: an ensemble needs one set of photos
        check_one_split(args.runs, first)
    shipped = ModelConfig.load(args.shipped / "glasses.json")
    row, logit = model_row(f"shipped {shipped.version}", args.shipped / "glasses.keras", shipped.threshold, first,
                           first_looked)  # on the first run's crops
    models, scored = [row], [logit]
    for run in args.runs:  # each on its own crops; besides the first run's, one run's at a time
        val, looked = (first, first_looked) if run == args.runs[0] else looked_at(run, args.audit)
        row, logit = model_row(run.name, run / "model.keras", ModelConfig.load(run / "config.json").threshold, val, looked)
        models.append(row)
        scored.append(logit)
    if args.mean:
        settings = json.loads((args.runs[0] / "train_config.json").read_text())
        models.append(mean_row(scored, first, first_looked, settings.get("threshold_pools", [])))
    report = {"command": command_line("threshold_ceiling_study.py", argv), "models": models}
    write_report(args.out, "threshold_ceiling", report, markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
