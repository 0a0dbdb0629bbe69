"""The upright look's faces the face mesh reads absent: refined in full, refined no further, or dropped.

    python3 research_and_train_nn/studies/absent_face_study.py --out research_and_train_nn/reports

presence_study.py counted the upright faces the mesh reads below GIVE_UP on two passes in a row (a few
real ones among many false ones); this study asks what treating them otherwise does to the answers, with
the model given. Three rules (RULES): such a face is refined in full, up to MESH_PASSES passes
(preprocessing 11's); refined no further once two passes in a row read it below GIVE_UP and kept (as a
second look's face is: the product since preprocessing 12, issue 26 item 2); or dropped when the mesh
last reads it below GIVE_UP (not adopted: it costs composed recall). Each rule is measured on
1. the composed hard photos (hard_cases.py's, from validation photos: per case, right face found, any
   face found, recall and false alarms by the datasets' labels);
2. every validation photo as photographed (the product's answer for the photo, any face: F1 by the
   datasets' labels, photos without a face, and the photos whose answer changes);
3. frames without any face (detail_decode_study.py's group frames without their faces: a smooth
   colour field with noise, as the benchmarks' frames are): faces found, photos answered "glass", and
   face-mesh passes per frame.
Never the test pool. Writes absent_face_study.md and .json.
"""
from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from unittest import mock

import numpy as np
from tqdm import tqdm

import glasses_core.crop
from glasses_core import GlassesClassifier
from glasses_core.errors import errors_exit_2
from glasses_core.locate import GIVE_UP, find_faces
from research_and_train_nn.evaluation.metrics import metrics
from research_and_train_nn.studies.detail_decode_study import group_photos
from research_and_train_nn.studies.hard_cases import (add_photo_arguments, measure, summary, validation_photos,
                                                      validation_records)
from research_and_train_nn.studies.report_files import add_report_arguments, command_line, write_report

RULES = {  # what becomes of an upright face the mesh reads below GIVE_UP on two passes in a row
    "refined in full": functools.partial(find_faces, upright_give_up=None),  # preprocessing 11
    "refined no further": find_faces,  # the product since preprocessing 12
    "dropped": functools.partial(find_faces, drop_absent=True),  # not adopted
}


def rule(name: str):
    """Within it, the preprocessing finds faces as RULES' ``name`` says; the product's way again after,
    even after an error."""
    return mock.patch.object(glasses_core.crop, "find_faces", RULES[name])


def composed(classifier: GlassesClassifier, photos: list) -> dict:
    """hard_cases.py's table for each rule."""
    out = {}
    for name in RULES:
        with rule(name):
            out[name] = summary(measure(classifier, photos))
    return out


def validation(classifier: GlassesClassifier, records: list) -> dict:
    """Per rule, the product's answers on every validation photo; and the photos whose answer changes."""
    labels = np.array([r.label for r in records])
    answers = {}
    for name in RULES:
        with rule(name):
            answers[name] = [classifier.predict(r.path) for r in tqdm(records, desc=f"validation, {name}",
                                                                      unit="photo", file=sys.stderr)]
    glass = classifier.config.labels[1]
    out = {}
    for name, results in answers.items():
        scored = metrics(labels, np.array([float(a.answer == glass) for a in results]), 0.5)
        (_, false_alarms), (missed, _) = scored["confusion_matrix"]
        out[name] = {"photos": len(records), "f1": scored["f1"], "false_alarms": false_alarms, "missed": missed,
                     "no_face": sum(not a.face_found for a in results)}
    out["changed"] = [{"photo": r.key, "label": r.label, **{name: answers[name][i].answer for name in RULES}}
                      for i, r in enumerate(records) if len({answers[name][i].answer for name in RULES}) > 1]
    return out


def empty_frames(classifier: GlassesClassifier, frames: list[dict]) -> dict:
    """Per rule, on the frames without faces: photos with a face found, faces found, photos said "glass",
    and the face-mesh passes made."""
    out = {"frames": len(frames)}
    mesh = classifier._detectors.refiner._mesh
    for name in RULES:
        with rule(name), mock.patch.object(mesh, "look", wraps=mesh.look) as look:
            results = [classifier.predict(frame["empty"]) for frame in frames]
        out[name] = {"with_a_face": sum(r.face_found for r in results), "faces": sum(len(r.faces) for r in results),
                     "said_glass": sum(r.answer == classifier.config.labels[1] for r in results),
                     "mesh_passes": look.call_count}
    return out


def markdown(r: dict, command: str) -> str:
    names = list(RULES)
    by_rule = " / ".join(names)
    lines = ["# The upright look's faces the face mesh reads absent: refined no further (preprocessing 12), not "
             "dropped", "", f"`{command}`", "",
             f"An upright face the mesh reads below {r['give_up']:g} (locate.GIVE_UP) on two passes in a row is, by "
             "rule: *refined in full* (up to locate.MESH_PASSES passes: preprocessing 11), *refined no further* and "
             "kept (as a second look's face is: the product since preprocessing 12), or *dropped* when the mesh last "
             f"reads it below {r['give_up']:g}. Answers through the product with `{r['model']}`, on validation "
             f"photos only; each cell gives the rules in that order ({by_rule}).", "",
             "**Composed hard photos** (hard_cases.py's cases; recall and false alarms by the datasets' labels):", "",
             "| case | right face found | any face found | recall | false alarms |", "|---|---|---|---|---|"]
    tables = [r["composed"][name] for name in names]
    for case in tables[0]:
        if tables[0][case] is None:
            continue
        cells = [" / ".join(f"{t[case][key]:.3f}" for t in tables) for key in ("right_face", "any_face", "recall")]
        alarms = " / ".join(str(t[case]["false_alarms"]) for t in tables)
        lines.append(f"| {case} | {' | '.join(cells)} | {alarms} of {tables[0][case]['without_glasses']} |")
    v = r["validation"]
    lines += ["", f"**Every validation photo as photographed** ({v[names[0]]['photos']:,}; the photo's answer, any "
              "face):", "", "| rule | F1 | false alarms | missed | no face found |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {v[name]['f1']:.4f} | {v[name]['false_alarms']} | {v[name]['missed']} | {v[name]['no_face']} |"
              for name in names]
    lines += ["", f"Answers that change ({by_rule}): {len(v['changed'])}" + (
        ": " + "; ".join(f"{c['photo']} (label {c['label']}: {' / '.join(c[name] for name in names)})"
                         for c in v["changed"]) if v["changed"] else "") + ".", ""]
    e = r["empty"]
    lines += [f"**Frames without any face** ({e['frames']}, detail_decode_study.py's):", "",
              "| rule | frames with a face found | faces found | frames said glass | face-mesh passes |",
              "|---|---|---|---|---|"]
    lines += [f"| {name} | {e[name]['with_a_face']} | {e[name]['faces']} | {e[name]['said_glass']} | "
              f"{e[name]['mesh_passes']} |" for name in names]
    return "\n".join(lines) + "\n"


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_report_arguments(parser, "absent_face_study")
    add_photo_arguments(parser)
    args = parser.parse_args(argv)
    classifier = GlassesClassifier(args.model)
    photos = validation_photos(args.data, args.per_class)
    report = {"model": classifier.model_id, "give_up": GIVE_UP,
              "empty": empty_frames(classifier, group_photos(photos)),
              "validation": validation(classifier, validation_records(args.data)),
              "composed": composed(classifier, photos)}
    write_report(args.out, "absent_face_study", report, markdown(report, command_line("absent_face_study.py", argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
