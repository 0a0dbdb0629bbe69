"""The table of full training runs, scored on validation only (the test set is never read here).

    python3 research_and_train_nn/compare_runs.py runs/r1 runs/r2 ... --out research_and_train_nn/reports/runs_v0.2

For each run folder made by train.py: what it changed against the first run, its validation
PR-AUC, and at its own threshold (chosen on validation) the validation F1 overall
and per source, glasses under a hat (CelebA's Wearing_Hat), and a synthetic validation set:
glasses drawn with the styles training never sees (synthesis.VALIDATION_STYLES), from the
validation stream of seeds, onto validation photos without glasses (recall), and glasses
pushed up onto the forehead of the same photos (false alarms); and 60 validation faces placed
in 5 other photos each (placements.py): how many of the 300 placed faces' probabilities move by
more than 0.05 from the face alone's. Also: F1 per pool (CelebA-more apart) and on turned heads
(MTFL's pose), recall on sunglasses and on clear glasses (the kind labels), the answers on hard
photos composed from validation photos (data/composed.py: close-ups, tilted and upside-down heads),
F1 when the crop's eyes move or another filter makes it (evaluation/robustness.py), and for a model
that says which glasses, its accuracy on clear and on dark glasses (the kind labels as they are
now: data/kind_labels/, whatever the run trained on). Writes runs.md and runs.json.
Exit status 2, before any scoring, when a folder is not a finished run or --shipped holds no model.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from glasses_core import CropConfig, Detectors, ModelConfig, load_image, preprocess
from glasses_core.errors import errors_exit_2
from research_and_train_nn.data.composed import composed_crops
from research_and_train_nn.data.datasets import Record, kinds_now, mtfl_eyes, mtfl_landmarks, mtfl_poses
from research_and_train_nn.evaluation.metrics import kind_metrics, metrics
from research_and_train_nn.evaluation.report import datasets_validation_crops, hard_cases, per_source
from research_and_train_nn.evaluation.robustness import robustness_crops, robustness_metrics, variant_names
from research_and_train_nn.studies.hard_cases import hard_case_photos
from research_and_train_nn.studies.placements import placed_crops, spread_faces
from research_and_train_nn.synthesis.draw import VALIDATION_STYLES, draw_forehead_glasses, draw_glasses, synthesis_rng
from research_and_train_nn.training.config import TrainConfig
from research_and_train_nn.training.run_state import check_run_folder

SYNTHETIC_PHOTOS = 300  # validation photos without glasses that get glasses drawn on (and pushed up)
SEED = 2026  # the synthetic validation set's seed, the same for every run
PLACED_FACES = 60  # validation faces placed in other photos, half with glasses
MAX_MOVE = 0.05  # the face-in-any-photo test's limit on a probability's move


def synthetic_validation(val: dict, crop: CropConfig, count: int = SYNTHETIC_PHOTOS) -> dict:
    """Crops of validation MTFL photos without glasses: with held-out glasses (label 1) and
    with glasses on the forehead (label 0)."""
    paths = [str(p) for p, s, y in zip(val["paths"], val["sources"], val["labels"]) if s == "mtfl_train" and y == 0]
    landmarks = mtfl_landmarks(Path(paths[0]).parent.parent, "train")
    paths = [p for p in paths if p in landmarks][:count]
    detectors = Detectors(crop)
    worn, pushed_up = [], []
    for index, path in enumerate(paths):
        image, points = load_image(path), landmarks[path]
        for draw, out in ((draw_glasses, worn), (draw_forehead_glasses, pushed_up)):
            rng = synthesis_rng(SEED, index, "validation")
            style = VALIDATION_STYLES[index % len(VALIDATION_STYLES)]
            drawn, _ = draw(image, points[0], points[1], rng, style=style, nose=points[2])
            out.append(preprocess(drawn, detectors, crop)[0].pixels)
    return {"worn": np.stack(worn), "forehead": np.stack(pushed_up)}


def placement_validation(val: dict, crop: CropConfig, count: int = PLACED_FACES) -> dict:
    """Crops of validation MTFL faces alone and placed in other photos (placements.py): pairs
    (alone, placed) of crops, the placed one missing (None) when the face was not found."""
    photos = [(str(p), int(y)) for p, s, y in zip(val["paths"], val["sources"], val["labels"]) if s == "mtfl_train"]
    eyes = mtfl_eyes(Path(photos[0][0]).parent.parent, "train")
    detectors = Detectors(crop)
    pairs = [(base, found) for _, _, base, found in
             placed_crops(lambda jpeg: preprocess(jpeg, detectors, crop), spread_faces(photos, eyes, count))
             if base is not None]
    return {"alone": np.stack([b.pixels for b, _ in pairs]),
            "placed": np.stack([f.pixels if f is not None else b.pixels for b, f in pairs]),
            "missed": sum(f is None for _, f in pairs)}


def hard_photos(val: dict) -> list:
    """(record, eyes) of the validation photos the hard cases are composed from: studies/hard_cases.py's
    choice among this run's validation photos."""
    records = [Record(str(p), int(y), None, str(s), kind=str(k) or None)
               for p, y, s, k in zip(val["paths"], val["labels"], val["sources"], val.get("kinds", [""] * len(val["paths"])))]
    return hard_case_photos(records)


def per_pool(val: dict, probabilities: np.ndarray, threshold: float) -> dict:
    """Validation metrics per pool (CelebA-more apart from CelebA); empty for runs saved without pools."""
    if "pools" not in val:
        return {}
    return per_source({**val, "sources": val["pools"]}, probabilities, threshold)


def recall_by_kind(val: dict, probabilities: np.ndarray, threshold: float) -> dict:
    """Recall on the validation photos with sunglasses and with clear glasses (the kind labels)."""
    if "kinds" not in val:
        return {}
    said = probabilities >= threshold
    return {kind: {"photos": int((val["kinds"] == kind).sum()), "recall": float(said[val["kinds"] == kind].mean())}
            for kind in ("dark", "clear") if (val["kinds"] == kind).any()}


def turned_heads(val: dict, probabilities: np.ndarray, threshold: float) -> dict | None:
    """Metrics on the validation MTFL photos whose head MTFL calls turned (pose other than frontal)."""
    mtfl = [i for i, s in enumerate(val["sources"]) if s == "mtfl_train"]
    if not mtfl:
        return None
    poses = mtfl_poses(Path(str(val["paths"][mtfl[0]])).parent.parent, "train")
    turned = np.array([i for i in mtfl if poses.get(str(val["paths"][i]), 3) != 3])
    return metrics(val["labels"][turned], probabilities[turned], threshold) if len(turned) else None


def composed_scores(composed: dict, probabilities: np.ndarray, threshold: float) -> dict:
    """Recall and false alarms on the composed hard photos (a photo says glasses when any face does)."""
    best = np.zeros(len(composed["label"]))
    np.maximum.at(best, composed["owner"], probabilities)
    said, labels = best >= threshold, composed["label"]
    return {"photos": len(labels), "right_face": float(composed["right_face"].mean()),
            "recall": float(said[labels == 1].mean()), "false_alarms": int(said[labels == 0].sum()),
            "without_glasses": int((labels == 0).sum()),
            "recall_by_case": {str(c): float(said[(composed["case"] == c) & (labels == 1)].mean())
                               for c in dict.fromkeys(composed["case"].tolist())}}


def epochs_trained(history: Path) -> int:
    with open(history, newline="") as f:
        return len(list(csv.DictReader(f)))


def changes(config: dict, base: dict) -> str:
    """What ``config`` sets otherwise than ``base`` (a setting a run's config lacks is the default)."""
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}
    diff = [f"{k}={config[k]}" for k in sorted(config)
            if k not in ("version", "crop") and config.get(k) != base.get(k, defaults.get(k))]
    diff += [f"crop.{k}={v}" for k, v in sorted(config["crop"].items()) if base["crop"].get(k) != v]
    return ", ".join(diff) or "(the base)"


def score(name: str, folder: Path, model: Path, model_config: ModelConfig, val_run: Path, change: str,
          probe_cache: dict) -> dict:
    """One row: ``model`` (Keras) with ``model_config``'s crop and threshold, on ``val_run``'s
    validation crops; ``folder`` holds its history.csv."""
    import keras

    from research_and_train_nn.evaluation.probabilities import predict_answers, predict_probabilities
    network = keras.models.load_model(model, compile=False)  # once, for every set of crops
    # every run scored on the datasets' own labels, also one trained on the look's (label_audit_study.py scores both)
    val = datasets_validation_crops(val_run)
    if "pools" in val:  # the kinds as labelled now (a later look at the labels), not as the run saved them
        val["kinds"] = np.array(kinds_now(val["paths"], val["pools"], val["labels"]))
    probabilities, dark = predict_answers(network, val["crops"])
    t = model_config.threshold
    key = json.dumps([dataclasses.asdict(model_config.crop), val["paths"].tolist()], sort_keys=True)
    if key not in probe_cache:  # runs with the same crop settings and photos share their probe crops
        probe_cache[key] = (synthetic_validation(val, model_config.crop),
                            placement_validation(val, model_config.crop),
                            robustness_crops([str(p) for p in val["paths"]], model_config.crop),
                            composed_crops(hard_photos(val), model_config.crop))
    synthetic, placed, moved, composed = probe_cache[key]
    moves = np.abs(predict_probabilities(network, placed["placed"]) - predict_probabilities(network, placed["alone"]))
    worn = predict_probabilities(network, synthetic["worn"]) >= t
    forehead = predict_probabilities(network, synthetic["forehead"]) >= t
    hats = hard_cases(val, probabilities, t).get("Wearing_Hat", {})
    robust = robustness_metrics({n: predict_probabilities(network, moved[n]) for n in variant_names()}, val["labels"], t)
    return {"run": name, "changes": change, "epochs": epochs_trained(folder / "history.csv"),
            "threshold": t, "overall": metrics(val["labels"], probabilities, t),
            "per_source": per_source(val, probabilities, t), "per_pool": per_pool(val, probabilities, t),
            "recall_by_kind": recall_by_kind(val, probabilities, t),
            "turned_heads": turned_heads(val, probabilities, t),
            "kind": None if dark is None or "kinds" not in val else
            kind_metrics(val["kinds"], dark, model_config.kind_threshold),
            "robustness": robust, "composed": composed_scores(composed, predict_probabilities(network, composed["crops"]), t),
            "hat_recall": 1 - hats["missed"] / hats["glasses"] if hats.get("glasses") else None,
            "hat_false_alarms": f"{hats.get('false_positives')} of {hats.get('no_glasses')}",
            "synthetic_recall": float(worn.mean()), "synthetic_forehead_false_alarms": float(forehead.mean()),
            "placements": len(moves), "placements_missed": placed["missed"],
            "placements_moved": int((moves > MAX_MOVE).sum()), "placement_max_move": float(moves.max())}


def score_run(run: Path, base: dict, probe_cache: dict) -> dict:
    return score(run.name, run, run / "model.keras", ModelConfig.load(run / "config.json"), run,
                 run_change(run, base), probe_cache)


def run_change(run: Path, base: dict) -> str:
    """What a run folder changed against ``base`` (the first run's settings); for a folder made by
    average_runs.py (no training of its own), which models' weights it averages."""
    averaged = run / "averaged.json"
    if averaged.is_file():
        # a run folder by its name, a model file by its own (a run's model.keras by its folder's)
        names = [Path(m).parent.name if Path(m).name == "model.keras" else Path(m).name
                 for m in json.loads(averaged.read_text())["averaged"]]
        return f"the mean of the weights of {', '.join(names)}"
    return changes(json.loads((run / "train_config.json").read_text()), base)


def score_shipped(models: Path, val_run: Path, probe_cache: dict) -> dict:
    """The shipped model as it runs now (today's preprocessing) on the first run's validation
    crops: the same identities its own run held out (same seed and datasets)."""
    config = ModelConfig.load(models / "glasses.json")
    return score(f"shipped {config.version}", models, models / "glasses.keras", config, val_run,
                 f"the shipped model ({config.version}) on the first run's validation crops", probe_cache)


def markdown(rows: list[dict]) -> str:
    lines = ["# Full training runs, scored on validation", "",
             "`python3 research_and_train_nn/compare_runs.py RUN ... --shipped models --out ...`: "
             + ", ".join(r["run"] for r in rows) + ". Each run changes one thing against the first; every figure is on the "
             "validation photos (identities never trained on) at the run's own threshold, chosen on "
             "validation. Synthetic: glasses in styles training never sees, drawn on validation photos "
             "without glasses (recall), and glasses pushed up onto the forehead of the same photos "
             f"(false alarms). Placed: {PLACED_FACES} validation faces, each in 5 other photos "
             f"(placements.py); how many placed faces' probabilities moved by more than {MAX_MOVE} from "
             "the face alone's, and the largest move.", "",
             "## The first answer", "",
             "| run | change | epochs | PR-AUC | F1 | MTFL F1 | CelebA F1 | CelebA-more F1 | turned heads F1 | "
             "sunglasses recall | clear recall | hat recall | hat false alarms | synthetic recall | forehead false alarms |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    f = lambda value: "-" if value is None else f"{value:.4f}"  # noqa: E731
    for r in rows:
        pools = r.get("per_pool") or {"celeba": r["per_source"].get("celeba", {}),
                                      "mtfl_train": r["per_source"].get("mtfl_train", {})}
        kinds = r.get("recall_by_kind") or {}
        hat = "-" if r["hat_recall"] is None else f"{r['hat_recall']:.3f}"
        lines.append(f"| {r['run']} | {r['changes']} | {r['epochs']} | {r['overall']['pr_auc']:.4f} | "
                     f"{r['overall']['f1']:.4f} | {f(pools.get('mtfl_train', {}).get('f1'))} | "
                     f"{f(pools.get('celeba', {}).get('f1'))} | {f(pools.get('celeba_more', {}).get('f1'))} | "
                     f"{f((r.get('turned_heads') or {}).get('f1'))} | {f(kinds.get('dark', {}).get('recall'))} | "
                     f"{f(kinds.get('clear', {}).get('recall'))} | {hat} | {r['hat_false_alarms']} | "
                     f"{r['synthetic_recall']:.3f} | {r['synthetic_forehead_false_alarms']:.3f} |")
    if any("robustness" in r for r in rows):
        lines += ["", "## Hard photos and other crops", "",
                  "Composed: hard photos made from validation photos (close-ups cut by the frame, heads tilted 30 "
                  "and 60 degrees, on either side, upside down, mirrored; data/composed.py), a photo saying glasses "
                  "when any of its faces does. Moved eyes and filters: F1 on the validation crops made again with "
                  "each eye moved by Gaussian noise of that many eye distances, or with another filter, minus F1 on "
                  "the core's own crops (evaluation/robustness.py).", "",
                  "| run | composed: right face | recall | false alarms | F1 change, eyes moved 0.03 | 0.06 | 0.10 | "
                  "bilinear | area | Lanczos | placed, moved > 0.05 | largest move |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            if "robustness" not in r:
                continue
            c, rb = r["composed"], r["robustness"]
            change = lambda name: f"{rb[name]['change']:+.4f}"  # noqa: E731
            lines.append(f"| {r['run']} | {c['right_face']:.3f} | {c['recall']:.3f} | {c['false_alarms']} of "
                         f"{c['without_glasses']} | " + " | ".join(change(n) for n in variant_names()[1:]) +
                         f" | {r['placements_moved']} of {r['placements']} | {r['placement_max_move']:.3f} |")
    if any(r.get("kind") for r in rows):
        lines += ["", "## Which glasses (the second answer)", "",
                  "| run | kind threshold | clear glasses | accuracy | sunglasses | accuracy | confusion "
                  "(true clear: said clear, dark; true dark: said clear, dark) |", "|---|---|---|---|---|---|---|"]
        for r in rows:
            k = r.get("kind")
            if k:
                lines.append(f"| {r['run']} | {k['threshold']:.4f} | {k['clear']} | {f(k['clear_accuracy'])} | "
                             f"{k['dark']} | {f(k['dark_accuracy'])} | {k['confusion']} |")
    return "\n".join(lines) + "\n"


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders made by train.py; the first is the base")
    parser.add_argument("--out", type=Path, required=True, help="folder for runs.md and runs.json")
    parser.add_argument("--shipped", type=Path, help="also score the shipped model in this folder "
                        "(glasses.keras, glasses.json) on the first run's validation crops")
    args = parser.parse_args(argv)
    for folder in args.runs:
        check_run_folder(folder)
    if args.shipped:
        ModelConfig.load(args.shipped / "glasses.json")
    base = json.loads((args.runs[0] / "train_config.json").read_text())
    cache: dict = {}
    rows = [score_shipped(args.shipped, args.runs[0], cache)] if args.shipped else []
    rows += [score_run(run, base, cache) for run in args.runs]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "runs.json").write_text(json.dumps(rows, indent=2) + "\n")
    (args.out / "runs.md").write_text(markdown(rows))
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
