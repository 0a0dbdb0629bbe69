"""Three rules on the face mesh's presence: drop an upright face (no), count a turned or a widened one sooner.

    python3 research_and_train_nn/studies/presence_study.py --out research_and_train_nn/reports

find_faces keeps every face the upright look finds, however absent the mesh reads it, counts a face
of the turned look only from presence TRUSTED and one of the widened look from WIDENED_TRUSTED, or
from GIVE_UP where the mesh's eyes agree with the detector's (since PREPROCESS_VERSION 10). Each
is measured here on validation photos only (never the test pool), every face refined never giving
up and every pass's presence recorded:

1. **Upright faces read absent.** A face read below GIVE_UP on two passes in a row (the rule that
   stops refining a second look's face) could be dropped as no face: the benchmarks' 1920 x 1080
   frame without a face then has none. On every validation photo as photographed and on the
   composed hard photos (hard_cases.py's), each upright face, whether it is the right face (its
   eyes within a quarter of an eye distance of the annotation), and how many of each the rule would
   drop, with their detector scores.
2. **Turned faces counted from less presence.** On the composed photos where no upright face is
   trusted, each face the turned look finds, right or wrong, whether its eye line fits its turn, and
   for each presence the faces counted: close_up_study.py's table and rule (go down the table, stop
   before the first step whose added faces are more than one in ten wrong), which picked the widened
   look's presence (locate.WIDENED_TRUSTED).
3. **Widened faces counted where the mesh and the detector agree.** The widened look's faces the mesh
   reads under WIDENED_TRUSTED (close-ups whose forehead or chin the canvas blacks out), by how near
   the mesh's eyes lie to BlazeFace's own, and the nearness the same rule picks: the one
   PREPROCESS_VERSION 10 counts such faces within (locate.WIDENED_AGREEING).
Writes presence_study.md and .json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from glasses_core import CropConfig, Detectors, open_photo
from glasses_core.errors import errors_exit_2
from glasses_core.locate import (GIVE_UP, TRUSTED, TURNED_REGION_OUTSIDE, WIDENED_AGREEING, WIDENED_REGION_OUTSIDE,
                                  WIDENED_TRUSTED, _refined, eye_agreement, trusted)
from research_and_train_nn.data.composed import compose, right_face_of
from research_and_train_nn.studies.close_up_study import rule_picks
from research_and_train_nn.studies.hard_cases import add_photo_arguments, validation_photos, validation_records, with_eyes
from research_and_train_nn.studies.report_files import command_line, write_report
from research_and_train_nn.studies.second_look_study import PassRecorder

PRESENCES = (TRUSTED, 10.0, 8.0, 6.0, 4.0, 2.0)  # the presences the turned look's table tries
AGREEMENTS = (0.0, 0.1, 0.15, 0.2, 0.3)  # how near the mesh's eyes lie to the detector's (eye distances), table 3


class Looks:
    """The product's detectors, each refinement's passes recorded (PassRecorder)."""

    def __init__(self):
        self.detectors = Detectors(CropConfig())
        self._passes = PassRecorder(self.detectors)

    def refined(self, photo, faces, outside=None) -> list[tuple]:
        """(face, its passes' presences) of each face, refined never giving up."""
        self._passes.faces.clear()
        refined = _refined(photo, self.detectors, faces, None, outside)
        return [(face, passes) for face, (_, passes) in zip(refined, self._passes.faces)]


def read_absent(passes: list[float]) -> bool:
    """Whether two passes in a row read below GIVE_UP (where the rule gives a face up)."""
    return any(max(a, b) < GIVE_UP for a, b in zip(passes, passes[1:]))


def upright_faces(looked: list[tuple], eyes, where: str) -> list[dict]:
    """The upright look's faces (``Looks.refined``'s pairs), each right or wrong and read absent or not."""
    return [{"where": where, "right": right_face_of(face, eyes), "score": face.score, "passes": passes,
             "absent": read_absent(passes)} for face, passes in looked]


def second_look_faces(looked: list[tuple], angle: float, eyes, where: tuple[str, str]) -> list[dict]:
    """A second look's faces (``Looks.refined``'s pairs), each right or wrong, fitting the look's
    ``angle`` or not, with its presence and eye agreement; ``where``: (case, photo)."""
    return [{"case": where[0], "photo": where[1], "right": right_face_of(face, eyes),
             "fits": trusted(face, angle, -np.inf), "presence": face.presence, "agreement": eye_agreement(face)}
            for face, _ in looked]


def measure(validation: list, composed_from: list) -> dict:
    """``validation``: (record, eyes) of the photos as photographed; ``composed_from``: (record, eyes)
    of the photos the composed hard photos are made from."""
    looks, upright, turned, widened, looked_again, widened_photos, composed = Looks(), [], [], [], 0, 0, 0
    for record, eyes in tqdm(validation, desc="validation photos", unit="photo", file=sys.stderr):
        photo = open_photo(Path(record.path).read_bytes())
        upright += upright_faces(looks.refined(photo, looks.detectors.detect(photo)), eyes, "validation")
    for record, eyes in tqdm(composed_from, desc="composed photos", unit="photo", file=sys.stderr):
        for case in compose(record, eyes):
            composed += 1
            photo = open_photo(case.jpeg)
            looked = looks.refined(photo, looks.detectors.detect(photo))
            upright += upright_faces(looked, case.eyes, "composed")
            if any(trusted(face, 0.0) for face, _ in looked):  # find_faces looks again only without one
                continue
            looked_again += 1
            where = (case.case, record.key)
            found = [f for angle, faces in looks.detectors.detect_turned(photo)
                     for f in second_look_faces(looks.refined(photo, faces, TURNED_REGION_OUTSIDE), angle, case.eyes, where)]
            turned += found
            if not any(f["fits"] and f["presence"] >= TRUSTED for f in found):  # then the widened look
                widened_photos += 1
                widened += second_look_faces(looks.refined(photo, looks.detectors.detect_widened(photo),
                                                           WIDENED_REGION_OUTSIDE), 0.0, case.eyes, where)
    table = [counted(turned, at) for at in PRESENCES]
    agreement_table = [agreeing(widened, GIVE_UP, WIDENED_TRUSTED, cut) for cut in AGREEMENTS]
    return {"validation_photos": len(validation), "composed_photos": composed, "give_up": GIVE_UP,
            "upright": {where: dropped([f for f in upright if f["where"] == where]) for where in ("validation", "composed")},
            "looked_again": looked_again, "turned_faces": len(turned), "turned_right": sum(f["right"] for f in turned),
            "table": table, "picked": rule_picks(table), "trusted": TRUSTED,
            "widened_photos": widened_photos, "widened_faces": len(widened), "widened_right": sum(f["right"] for f in widened),
            "widened_trusted": WIDENED_TRUSTED, "widened_counted": agreeing(widened, WIDENED_TRUSTED, np.inf, np.inf),
            "agreement_table": agreement_table, "picked_agreement": rule_picks(agreement_table, "within"),
            "widened_agreeing": WIDENED_AGREEING}


def dropped(faces: list[dict]) -> dict:
    """What dropping the faces read absent would drop: right and wrong faces, and their detector scores."""
    absent = [f for f in faces if f["absent"]]
    return {"faces": len(faces), "right_faces": sum(f["right"] for f in faces),
            "dropped_right": sum(f["right"] for f in absent), "dropped_wrong": sum(not f["right"] for f in absent),
            "dropped_right_scores": sorted(round(f["score"], 3) for f in absent if f["right"]),
            "dropped_wrong_highest_score": round(max((f["score"] for f in absent if not f["right"]), default=0.0), 3)}


def counted(faces: list[dict], at: float) -> dict:
    """What counting the turned look's faces from presence ``at`` (their eye line fitting the turn) gives."""
    kept = [f for f in faces if f["fits"] and f["presence"] >= at]
    return {"presence": at, "right": sum(f["right"] for f in kept), "wrong": sum(not f["right"] for f in kept)}


def agreeing(faces: list[dict], low: float, high: float, within: float) -> dict:
    """The widened look's faces (eye line upright) read from ``low`` up to (not including) ``high`` whose
    eyes agree with the detector's within ``within``: right and wrong, and the photos where a right one
    is among them and none of the faces counted today (from WIDENED_TRUSTED) is."""
    kept = [f for f in faces if f["fits"] and low <= f["presence"] < high and f["agreement"] < within]
    today = {(f["case"], f["photo"]) for f in faces if f["fits"] and f["presence"] >= WIDENED_TRUSTED and f["right"]}
    return {"within": within, "right": sum(f["right"] for f in kept), "wrong": sum(not f["right"] for f in kept),
            "photos_gaining_the_right_face": len({(f["case"], f["photo"]) for f in kept if f["right"]} - today)}


def markdown(r: dict, command: str) -> str:
    lines = ["# Three rules on the face mesh's presence: two not adopted, one adopted (preprocessing 10)", "", f"`{command}`", "",
             f"Validation photos only: all {r['validation_photos']:,} as photographed, and {r['composed_photos']:,} composed "
             "hard photos (studies/hard_cases.py's). Every face refined never giving up, every pass's presence recorded; "
             "a right face has its eyes within a quarter of an eye distance of the annotation, in order.", "",
             f"**1. Dropping the upright look's faces the mesh reads absent** (below {r['give_up']:g}, locate.GIVE_UP, on "
             "two passes in a row).", "",
             "| photos | upright faces | right faces | the rule would drop: right | wrong | right ones' detector scores "
             "| wrong ones' highest score |", "|---|---|---|---|---|---|---|"]
    for where, u in r["upright"].items():
        lines.append(f"| {where} | {u['faces']:,} | {u['right_faces']:,} | {u['dropped_right']} | {u['dropped_wrong']} | "
                     f"{', '.join(f'{s:.2f}' for s in u['dropped_right_scores']) or '-'} | "
                     f"{u['dropped_wrong_highest_score']:.2f} |")
    lines += ["", f"**2. Counting the turned look's faces from less presence** (locate.TRUSTED: {r['trusted']:g}). On "
              f"{r['looked_again']:,} composed photos no upright face is trusted; the turned look finds {r['turned_faces']:,} "
              f"faces there, {r['turned_right']:,} of them the right one. A face counts when its presence is at least the "
              "row's and its eye line fits its turn.", "",
              "| presence from | right faces counted | wrong faces counted |", "|---|---|---|"]
    lines += [f"| {t['presence']:g} | {t['right']} | {t['wrong']} |" for t in r["table"]]
    lines += ["", "The steps:", ""]
    lines += [f"- from {a['presence']:g} to {b['presence']:g}: {b['right'] - a['right']} right and "
              f"{b['wrong'] - a['wrong']} wrong faces more" for a, b in zip(r["table"], r["table"][1:])]
    lines += ["", f"close_up_study.py's rule (stop before the first step whose added faces are more than one in ten wrong) "
              f"picks {r['picked']:g}.", ""]
    c = r["widened_counted"]
    lines += [f"**3. The widened look's faces under presence {r['widened_trusted']:g}, where the mesh's eyes agree with "
              f"the detector's.** On {r['widened_photos']:,} composed photos no face of the upright or turned look counts; "
              f"the widened look finds {r['widened_faces']:,} faces there, {r['widened_right']:,} of them the right one. "
              f"From presence {r['widened_trusted']:g} (locate.WIDENED_TRUSTED) it counts {c['right']} right and "
              f"{c['wrong']} wrong faces today. Of its faces read from {r['give_up']:g} up to {r['widened_trusted']:g} "
              "(eye line upright), those whose face-mesh eyes lie within the row's distance of BlazeFace's own (the "
              "farther eye, in eye distances):", "",
              "| eyes within | right faces | wrong faces | photos that would gain the right face |", "|---|---|---|---|"]
    lines += [f"| {t['within']:g} | {t['right']} | {t['wrong']} | {t['photos_gaining_the_right_face']} |"
              for t in r["agreement_table"]]
    lines += ["", f"The same rule picks {r['picked_agreement']:g}: such a face counts when its eyes lie within that of the "
              f"detector's (locate.WIDENED_AGREEING: {r['widened_agreeing']:g}; PREPROCESS_VERSION 10).", ""]
    return "\n".join(lines)


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for presence_study.md and .json")
    add_photo_arguments(parser)
    args = parser.parse_args(argv)
    report = measure(with_eyes(validation_records(args.data)), validation_photos(args.data, args.per_class))
    write_report(args.out, "presence_study", report, markdown(report, command_line("presence_study.py", argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
