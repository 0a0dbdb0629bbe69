"""Close-ups the frame cuts: how present must a face of the widened look read to count?

    python3 research_and_train_nn/studies/close_up_study.py --out research_and_train_nn/reports

When no face of the upright or the turned looks is trusted, find_faces sets the photo in a black
canvas (the widened look) so that a close-up the frame cuts becomes a whole-looking face the
detector's size. The face mesh then reads a face whose forehead or chin the canvas blacks out, and
its face-presence logit falls: of the composed close-ups (studies/hard_cases.py's, validation
photos only) that nothing else found, most faces the widened look finds are the right face (their
eyes within a quarter of an eye distance of the truth) and read far under TRUSTED, the presence a
face of the other looks needs. This study records every face the widened look refines on those
photos (never giving up, so each face's presence is its last pass's), whether it is the right
face, and for each presence the faces counted, right and wrong, and the photos that would gain
the right face; then what the chosen presence (locate.WIDENED_TRUSTED) does with the give-up rule
in place. Writes close_up_study.md and .json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from glasses_core import CropConfig, Detectors, open_photo
from glasses_core.errors import errors_exit_2
from glasses_core.locate import GIVE_UP, TRUSTED, WIDENED_TRUSTED, _refined, trusted
from research_and_train_nn.data.composed import CASES, compose, right_face_of
from research_and_train_nn.studies.hard_cases import add_photo_arguments, validation_photos
from research_and_train_nn.studies.report_files import command_line, write_report

PRESENCES = (TRUSTED, 8.0, 4.0, 2.0, 0.0, -2.0, -4.0)  # the presences the table tries


def widened_detections(photo, detectors: Detectors) -> list | None:
    """The widened look's faces as the detector finds them, on a photo where find_faces would look
    that way (no trusted upright face, none of the turned looks' either, their passes given up as
    find_faces gives them up); None where it would not."""
    if any(trusted(f, 0.0) for f in _refined(photo, detectors, detectors.detect(photo))):
        return None
    if any(trusted(f, angle) for angle, found in detectors.detect_turned(photo)
           for f in _refined(photo, detectors, found, GIVE_UP)):
        return None
    return detectors.detect_widened(photo)


def measure(photos) -> dict:
    detectors = Detectors(CropConfig())
    faces, photos_widened, composed = [], 0, 0
    for record, eyes in tqdm(photos, desc="photos", unit="photo", file=sys.stderr):
        for case in compose(record, eyes):
            composed += 1
            photo = open_photo(case.jpeg)
            found = widened_detections(photo, detectors)
            if found is None:
                continue
            photos_widened += 1
            # each face refined never giving up (its last pass's presence) and with the give-up rule
            faces += [{"case": case.case, "photo": record.key, "label": record.label,
                       "right": right_face_of(face, case.eyes), "upright": trusted(face, 0.0, -np.inf),
                       "presence": face.presence, "presence_with_rule": ruled.presence}
                      for face, ruled in zip(_refined(photo, detectors, found), _refined(photo, detectors, found, GIVE_UP))]
    return {"composed_photos": composed, "photos_widened": photos_widened, "faces": faces,
            "table": [counted(faces, at) for at in PRESENCES], "chosen": WIDENED_TRUSTED,
            "chosen_with_rule": counted(faces, WIDENED_TRUSTED, "presence_with_rule"),
            "cases": {case: sum(1 for f in faces if f["case"] == case and f["right"]) for case in CASES}}


def counted(faces: list[dict], at: float, key: str = "presence") -> dict:
    """What counting the widened look's faces from presence ``at`` (their eye line upright) gives."""
    kept = [f for f in faces if f["upright"] and f[key] >= at]
    return {"presence": at, "right": sum(f["right"] for f in kept), "wrong": sum(not f["right"] for f in kept),
            "photos_with_the_right_face": len({(f["case"], f["photo"]) for f in kept if f["right"]})}


def rule_picks(table: list[dict], key: str = "presence") -> float:
    """The rule the widened look's presence was chosen by (locate.WIDENED_TRUSTED; presence_study.py
    puts the turned look's presence and the widened look's eye agreement to it): down ``table`` (rows
    of ``key``, "right" and "wrong", each counting more faces than the one before), the last ``key``
    before the first step whose added faces are more than one in ten wrong."""
    picked = table[0][key]
    for above, below in zip(table, table[1:]):
        right, wrong = below["right"] - above["right"], below["wrong"] - above["wrong"]
        if wrong * 10 > right + wrong:
            break
        picked = below[key]
    return picked


def markdown(r: dict, command: str) -> str:
    right = sum(f["right"] for f in r["faces"])
    lines = ["# Close-ups the frame cuts: when a face of the widened look counts", "", f"`{command}`", "",
             f"{r['composed_photos']} composed hard photos (studies/hard_cases.py's, validation photos only); on "
             f"{r['photos_widened']} of them no face of the upright or turned looks is trusted, and the widened look "
             f"finds {len(r['faces'])} faces there, {right} of them the right face (eyes within a quarter of an eye "
             "distance of the truth, in order). Each face's presence is its last face-mesh pass's, never giving up. "
             "A face counts when its presence is at least the row's and its eye line is upright.", "",
             "| presence from | right faces counted | wrong faces counted | photos where it counts the right face |",
             "|---|---|---|---|"]
    lines += [f"| {t['presence']:g}{' (TRUSTED)' if t['presence'] == TRUSTED else ''} | {t['right']} | {t['wrong']} | "
              f"{t['photos_with_the_right_face']} |" for t in r["table"]]
    c = r["chosen_with_rule"]
    lines += ["", "The rule for the choice: go down the table and stop before the first step whose added faces are "
              "more than one in ten wrong. The steps:", ""]
    lines += [f"- from {a['presence']:g} to {b['presence']:g}: {b['right'] - a['right']} right and "
              f"{b['wrong'] - a['wrong']} wrong faces more" for a, b in zip(r["table"], r["table"][1:])]
    lines += ["", f"Chosen: {r['chosen']:g} (locate.WIDENED_TRUSTED). With the give-up rule in place (locate.GIVE_UP: a "
              f"face read below {GIVE_UP:g} twice in a row is refined no further) it counts {c['right']} right faces and "
              f"{c['wrong']} wrong ones.", "", "Right faces the widened look finds, per case: "
              + ", ".join(f"{case} {n}" for case, n in r["cases"].items() if n) + ".", ""]
    return "\n".join(lines)


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for close_up_study.md and .json")
    add_photo_arguments(parser)
    args = parser.parse_args(argv)
    report = measure(validation_photos(args.data, args.per_class))
    write_report(args.out, "close_up_study", report, markdown(report, command_line("close_up_study.py", argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
