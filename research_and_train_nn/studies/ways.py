"""Two or more ways of preprocessing measured side by side through the product, with the model given:
each way a context manager that switches the product to it (and back, even after an error). Measured on
1. the composed hard photos (hard_cases.py's, from validation photos: per case, right face found, any
   face found, recall and false alarms by the datasets' labels);
2. every validation photo as photographed (the product's answer for the photo, any face: F1 by the
   datasets' labels, photos without a face, and the photos whose answer changes);
3. frames without any face (detail_decode_study.py's group frames without their faces: a smooth colour
   field with noise, as the benchmarks' frames are): faces found, photos answered "glass", face-mesh passes.
Never the test pool. Used by absent_face_study.py and second_look_input_study.py.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, ContextManager
from unittest import mock

import numpy as np
from tqdm import tqdm

from glasses_core import GlassesClassifier
from research_and_train_nn.evaluation.metrics import metrics
from research_and_train_nn.studies.detail_decode_study import group_photos
from research_and_train_nn.studies.hard_cases import (add_photo_arguments, measure, summary, validation_photos,
                                                      validation_records)
from research_and_train_nn.studies.report_files import add_report_arguments, command_line, write_report

Ways = dict[str, Callable[[], ContextManager]]  # a way's name: what switches the product to it


def composed(classifier: GlassesClassifier, photos: list, ways: Ways) -> dict:
    """hard_cases.py's table for each way."""
    out = {}
    for name, way in ways.items():
        with way():
            out[name] = summary(measure(classifier, photos))
    return out


def validation(classifier: GlassesClassifier, records: list, ways: Ways) -> dict:
    """Per way, the product's answers on every validation photo; and the photos whose answer changes."""
    labels = np.array([r.label for r in records])
    answers = {}
    for name, way in ways.items():
        with way():
            answers[name] = [classifier.predict(r.path) for r in tqdm(records, desc=f"validation, {name}",
                                                                      unit="photo", file=sys.stderr)]
    glass = classifier.config.labels[1]
    out = {}
    for name, results in answers.items():
        scored = metrics(labels, np.array([float(a.answer == glass) for a in results]), 0.5)
        (_, false_alarms), (missed, _) = scored["confusion_matrix"]
        out[name] = {"photos": len(records), "f1": scored["f1"], "false_alarms": false_alarms, "missed": missed,
                     "no_face": sum(not a.face_found for a in results)}
    out["changed"] = [{"photo": r.key, "label": r.label, **{name: answers[name][i].answer for name in ways}}
                      for i, r in enumerate(records) if len({answers[name][i].answer for name in ways}) > 1]
    return out


def empty_frames(classifier: GlassesClassifier, frames: list[dict], ways: Ways) -> dict:
    """Per way, on the frames without faces: photos with a face found, faces found, photos said "glass",
    and the face-mesh passes made."""
    out = {"frames": len(frames)}
    mesh = classifier._detectors.refiner._mesh
    for name, way in ways.items():
        with way(), mock.patch.object(mesh, "look", wraps=mesh.look) as look:
            results = [classifier.predict(frame["empty"]) for frame in frames]
        out[name] = {"with_a_face": sum(r.face_found for r in results), "faces": sum(len(r.faces) for r in results),
                     "said_glass": sum(r.answer == classifier.config.labels[1] for r in results),
                     "mesh_passes": look.call_count}
    return out


def tables(r: dict, names: list[str], what: str) -> list[str]:
    """The three measurements of a report (its "composed", "validation" and "empty" entries) as markdown
    lines, each cell giving the ways in ``names``' order; ``what`` names a way in the tables' first column."""
    by_way = " / ".join(names)
    lines = ["**Composed hard photos** (hard_cases.py's cases; recall and false alarms by the datasets' labels):", "",
             "| case | right face found | any face found | recall | false alarms |", "|---|---|---|---|---|"]
    composed_tables = [r["composed"][name] for name in names]
    for case in composed_tables[0]:
        if composed_tables[0][case] is None:
            continue
        cells = [" / ".join(f"{t[case][key]:.3f}" for t in composed_tables) for key in ("right_face", "any_face", "recall")]
        alarms = " / ".join(str(t[case]["false_alarms"]) for t in composed_tables)
        lines.append(f"| {case} | {' | '.join(cells)} | {alarms} of {composed_tables[0][case]['without_glasses']} |")
    v = r["validation"]
    lines += ["", f"**Every validation photo as photographed** ({v[names[0]]['photos']:,}; the photo's answer, any "
              "face):", "", f"| {what} | F1 | false alarms | missed | no face found |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {v[name]['f1']:.4f} | {v[name]['false_alarms']} | {v[name]['missed']} | {v[name]['no_face']} |"
              for name in names]
    lines += ["", f"Answers that change ({by_way}): {len(v['changed'])}" + (
        ": " + "; ".join(f"{c['photo']} (label {c['label']}: {' / '.join(c[name] for name in names)})"
                         for c in v["changed"]) if v["changed"] else "") + ".", ""]
    e = r["empty"]
    lines += [f"**Frames without any face** ({e['frames']}, detail_decode_study.py's):", "",
              f"| {what} | frames with a face found | faces found | frames said glass | face-mesh passes |",
              "|---|---|---|---|---|"]
    lines += [f"| {name} | {e[name]['with_a_face']} | {e[name]['faces']} | {e[name]['said_glass']} | "
              f"{e[name]['mesh_passes']} |" for name in names]
    return lines


def run_study(name: str, doc: str, ways: Ways, markdown: Callable[[dict, str], str], argv=None,
              extra: Callable[[GlassesClassifier], dict] = lambda classifier: {}) -> int:
    """A study of ``ways`` from the command line (``doc``, its module's docstring, gives --help's first
    line): --out, --model, --data and --per-class; the three measurements, with the model's id and
    ``extra(classifier)``, written as NAME.json and as NAME.md by ``markdown(report, command)``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    add_report_arguments(parser, name)
    add_photo_arguments(parser)
    args = parser.parse_args(argv)
    classifier = GlassesClassifier(args.model)
    photos = validation_photos(args.data, args.per_class)
    report = {"model": classifier.model_id, **extra(classifier),
              "empty": empty_frames(classifier, group_photos(photos), ways),
              "validation": validation(classifier, validation_records(args.data), ways),
              "composed": composed(classifier, photos, ways)}
    write_report(args.out, name, report, markdown(report, command_line(f"{name}.py", argv)))
    return 0
