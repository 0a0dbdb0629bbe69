"""The evaluation of a trained run on a test set, as a report and figures.

``evaluation_report.json`` and ``evaluation_report.md`` (into the run folder, or ``out``) hold
accuracy, balanced accuracy, precision/recall/F1 for glasses, ROC-AUC, PR-AUC, the confusion
matrix and a breakdown per source, all at the threshold stored in the run's ``config.json``
(chosen on validation), plus ROC/PR curves and a contact sheet of the most confident errors.
The command is ``research_and_train_nn/evaluate.py``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from glasses_core import ModelConfig
from research_and_train_nn.data.crops import DEFAULT_CACHE, CropSet, make_crops
from research_and_train_nn.data.datasets import celeba_attributes, load
from research_and_train_nn.evaluation.metrics import kind_metrics, metrics
from research_and_train_nn.evaluation.probabilities import predict_answers, runtime_probabilities


REPORTS = ("evaluation_report.json", "evaluation_report.md")  # written into ``out``
FIGURES = ("roc_pr.png", "errors.png", "schedule.png")  # written into ``figures`` (schedule.png: with history.csv)


def evaluate_run(run: Path, test_spec: str, cache: Path = DEFAULT_CACHE, figures: Path | None = None,
                 out: Path | None = None, exports: tuple[Path, ...] = ()) -> dict:
    """Evaluate ``run/model.keras`` on ``test_spec``; writes the report files (into ``out``,
    default the run folder) and figures (into ``figures``, default ``out``) and returns the report."""
    config = ModelConfig.load(run / "config.json")
    test = make_crops(load(test_spec), config.crop, cache)
    test = test.subset(np.flatnonzero(test.ok))
    import keras
    model = keras.models.load_model(run / "model.keras", compile=False)  # once, for the test and validation crops
    val = validation_crops(run)
    probabilities, dark = predict_answers(model, test.crops)
    val_probabilities, val_dark = predict_answers(model, val["crops"])
    report = {"test_set": test_spec, "overall": metrics(test.labels, probabilities, config.threshold),
              "no_face_photos": int((~test.face_found).sum())}
    sources = sorted({r.source for r in test.records})
    report["per_source"] = {s: metrics(*_select(test, probabilities, lambda r, s=s: r.source == s),
                                       config.threshold) for s in sources}
    found = test.face_found
    report["face_found"] = metrics(test.labels[found], probabilities[found], config.threshold)
    if (~found).any():
        report["no_face"] = metrics(test.labels[~found], probabilities[~found], config.threshold)
    report["errors"] = _errors(test, probabilities, config.threshold, 24)
    test_kinds = np.array([r.kind or "" for r in test.records])
    report["recall_by_kind"] = {k: metrics(test.labels[test_kinds == k], probabilities[test_kinds == k],
                                           config.threshold)["recall"] for k in ("dark", "clear") if (test_kinds == k).any()}
    if dark is not None:
        report["kind"] = {"test": kind_metrics(test_kinds, dark, config.kind_threshold)}
        if "kinds" in val:  # validation crops saved by a run that knew the kinds
            report["kind"]["validation"] = kind_metrics(val["kinds"], val_dark, config.kind_threshold)
        report["kind_errors"] = _kind_errors(test, test_kinds, dark, config.kind_threshold, 12)
    # per pool where the run saved pools: CelebA-more apart from CelebA
    report["validation_per_source"] = per_source({**val, "sources": pools_of(val)}, val_probabilities,
                                                 config.threshold) if pools_of(val) is not None else {}
    report["validation_hard_cases"] = hard_cases(val, val_probabilities, config.threshold)
    report["exports"] = {Path(e).name: metrics(test.labels, runtime_probabilities(Path(e), test.crops),
                                               config.threshold) for e in exports}
    out = out or run
    figures = figures or out
    from research_and_train_nn.evaluation.figures import contact_sheet, roc_pr_curves, schedule_figure
    figures.mkdir(parents=True, exist_ok=True)
    roc_pr_curves(test.labels, probabilities, figures / "roc_pr.png")
    contact_sheet(test, report["errors"] + report.get("kind_errors", []), figures / "errors.png")
    if (run / "history.csv").is_file():
        import csv
        with open(run / "history.csv", newline="") as handle:
            schedule_figure(list(csv.DictReader(handle)), figures / "schedule.png")
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation_report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "evaluation_report.md").write_text(markdown(report))
    print(markdown(report))
    return report


def pools_of(val: dict) -> np.ndarray | None:
    """Each validation crop's pool (CelebA-more apart from CelebA); its source for runs saved before
    pools; None for runs saved without either."""
    return val["pools"] if "pools" in val else val.get("sources")


def validation_crops(run: Path) -> dict:
    """The run's validation crops (identity-disjoint from training), labels and sources."""
    with np.load(run / "val_crops.npz") as val:
        return {key: val[key] for key in val.files}


def datasets_validation_crops(run: Path) -> dict:
    """``validation_crops`` with the datasets' own labels, also for a run trained on the labels as
    looked at by eye (which keeps the datasets' beside them, ``dataset_labels``)."""
    val = validation_crops(run)
    val["labels"] = val.get("dataset_labels", val["labels"])
    return val


def per_source(val: dict, probabilities: np.ndarray, threshold: float) -> dict:
    """Validation metrics per source; empty for runs saved without sources."""
    if "sources" not in val:
        return {}
    sources = val["sources"]
    return {str(s): metrics(val["labels"][sources == s], probabilities[sources == s], threshold)
            for s in sorted(set(sources.tolist()))}


# CelebA attributes under which the known errors gather: shadows (hats, bangs), squinting,
# blur, make-up around the eyes. CelebA labels no masks or face paint.
HARD_ATTRIBUTES = ("Wearing_Hat", "Bangs", "Narrow_Eyes", "Blurry", "Heavy_Makeup", "Bags_Under_Eyes")


def hard_cases(val: dict, probabilities: np.ndarray, threshold: float) -> dict:
    """False-positive rate (no glasses) and recall (glasses) on the validation CelebA photos
    that carry each of ``HARD_ATTRIBUTES``, beside all validation CelebA photos; empty for
    runs saved without paths or without CelebA."""
    if "paths" not in val:
        return {}
    celeba = np.flatnonzero(pools_of(val) == "celeba")  # CelebA-more has no attributes but glasses
    if not len(celeba):
        return {}
    table = celeba_attributes(Path(str(val["paths"][celeba[0]])).parent.parent)
    attributes = [table[Path(str(val["paths"][i])).name] for i in celeba]
    labels, predicted = val["labels"][celeba], probabilities[celeba] >= threshold
    rows = {"all CelebA": np.ones(len(celeba), bool)}
    rows.update({name: np.array([a[name] for a in attributes]) for name in HARD_ATTRIBUTES})
    result = {}
    for name, keep in rows.items():
        negatives, positives = keep & (labels == 0), keep & (labels == 1)
        result[name] = {"no_glasses": int(negatives.sum()), "false_positives": int(predicted[negatives].sum()),
                        "glasses": int(positives.sum()), "missed": int((~predicted[positives]).sum())}
    return result


def _select(crop_set: CropSet, probabilities, keep):
    index = np.array([keep(r) for r in crop_set.records])
    return crop_set.labels[index], probabilities[index]


def _kind_errors(crop_set: CropSet, kinds: np.ndarray, dark: np.ndarray, threshold: float, count: int) -> list[dict]:
    """The ``count`` most confident errors of the second answer on photos with a known kind."""
    known = (kinds == "clear") | (kinds == "dark")
    wrong = np.flatnonzero(known & ((dark >= threshold) != (kinds == "dark")))
    order = wrong[np.argsort(-np.abs(dark[wrong] - threshold))][:count]
    return [{"index": int(i), "path": crop_set.records[i].path, "label": int(crop_set.labels[i]), "kind": str(kinds[i]),
             "dark_probability": float(dark[i]), "face_found": bool(crop_set.face_found[i])} for i in order]


def _errors(crop_set: CropSet, probabilities: np.ndarray, threshold: float, count: int) -> list[dict]:
    """The ``count`` most confident errors: false positives with the highest probability and
    false negatives with the lowest, ranked by distance from the threshold."""
    labels = crop_set.labels
    wrong = np.flatnonzero((probabilities >= threshold).astype(int) != labels)
    order = wrong[np.argsort(-np.abs(probabilities[wrong] - threshold))][:count]
    return [{"index": int(i), "path": crop_set.records[i].path, "label": int(labels[i]),
             "probability": float(probabilities[i]), "face_found": bool(crop_set.face_found[i])}
            for i in order]


TABLE_HEADER = ("| subset | images | with glasses | accuracy | balanced acc. | precision | recall | F1 | "
                "ROC-AUC | PR-AUC |", "|---|---|---|---|---|---|---|---|---|---|")


def _row(name: str, m: dict) -> str:
    fmt = lambda v: "–" if v is None else f"{v:.4f}"  # noqa: E731
    return (f"| {name} | {m['images']} | {m['with_glasses']} | {fmt(m['accuracy'])} | "
            f"{fmt(m['balanced_accuracy'])} | {fmt(m['precision'])} | {fmt(m['recall'])} | "
            f"{fmt(m['f1'])} | {fmt(m['roc_auc'])} | {fmt(m['pr_auc'])} |")


def markdown(report: dict) -> str:
    o = report["overall"]
    lines = [f"# Evaluation on `{report['test_set']}`", "",
             f"Threshold {o['threshold']:.4f} (chosen on validation, stored in config.json).", "",
             *TABLE_HEADER]
    rows = [("all", o)] + list(report["per_source"].items()) + [("face found", report["face_found"])]
    if "no_face" in report:
        rows.append(("no face found", report["no_face"]))
    rows += [(f"all, through `{name}`", m) for name, m in report.get("exports", {}).items()]
    lines += [_row(name, m) for name, m in rows]
    if report.get("validation_per_source"):
        lines += ["", "Validation crops (people never trained on, same sources as training), per source:",
                  "", *TABLE_HEADER]
        lines += [_row(name, m) for name, m in report["validation_per_source"].items()]
    if report.get("validation_hard_cases"):
        lines += ["", "Validation CelebA photos by attribute (where the hard cases gather):", "",
                  "| attribute | no glasses | false positives | FP rate | glasses | missed | recall |",
                  "|---|---|---|---|---|---|---|"]
        rate = lambda k, n: f"{k / n:.3f}" if n else "–"  # noqa: E731
        for name, h in report["validation_hard_cases"].items():
            lines.append(f"| {name} | {h['no_glasses']} | {h['false_positives']} | "
                         f"{rate(h['false_positives'], h['no_glasses'])} | {h['glasses']} | {h['missed']} | "
                         f"{rate(h['glasses'] - h['missed'], h['glasses'])} |")
    if report.get("recall_by_kind"):
        lines += ["", "Recall on the test photos with sunglasses and with clear glasses (kind labels made by eye): "
                  + ", ".join(f"{k} {v:.4f}" for k, v in report["recall_by_kind"].items()) + "."]
    if report.get("kind"):
        lines += ["", "Which glasses (the second answer, P(dark | glasses) at the kind threshold chosen on validation), "
                  "on the photos with glasses whose kind is known:", "",
                  "| set | clear glasses | accuracy | sunglasses | accuracy | confusion (true clear: said clear, dark; "
                  "true dark: said clear, dark) |", "|---|---|---|---|---|---|"]
        acc = lambda v: "–" if v is None else f"{v:.4f}"  # noqa: E731
        for name, k in report["kind"].items():
            lines.append(f"| {name} | {k['clear']} | {acc(k['clear_accuracy'])} | {k['dark']} | {acc(k['dark_accuracy'])} | "
                         f"{k['confusion']} |")
    (tn, fp), (fn, tp) = o["confusion_matrix"]
    lines += ["", "Confusion matrix (rows: true, columns: predicted):", "",
              "| | no_glass | glass |", "|---|---|---|", f"| no_glass | {tn} | {fp} |",
              f"| glass | {fn} | {tp} |", "",
              f"Photos where no face was found (fallback crop): {report['no_face_photos']}.", "",
              "## Most confident errors", "", "| # | file | label | probability | face found |",
              "|---|---|---|---|---|"]
    for i, e in enumerate(report["errors"]):
        lines.append(f"| {i + 1} | `{Path(e['path']).name}` | {e['label']} | {e['probability']:.3f} | "
                     f"{'yes' if e['face_found'] else 'no'} |")
    return "\n".join(lines) + "\n"
