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

import functools
import sys
from unittest import mock

import glasses_core.crop
from glasses_core.errors import errors_exit_2
from glasses_core.locate import GIVE_UP, find_faces
from research_and_train_nn.studies.ways import run_study, tables

def dropping_absent(photo, detectors, config, **settings) -> list:
    """The faces find_faces gives, less those the mesh last read below GIVE_UP: the upright look's faces
    it read absent (no face of a second look counts from under GIVE_UP). The "dropped" rule, not adopted."""
    return [f for f in find_faces(photo, detectors, config, **settings) if f.presence is None or f.presence >= GIVE_UP]


RULES = {  # what becomes of an upright face the mesh reads below GIVE_UP on two passes in a row
    "refined in full": functools.partial(find_faces, upright_give_up=None),  # preprocessing 11
    "refined no further": find_faces,  # the product since preprocessing 12
    "dropped": dropping_absent,  # not adopted
}


def rule(name: str):
    """Within it, the preprocessing finds faces as RULES' ``name`` says; the product's way again after,
    even after an error."""
    return mock.patch.object(glasses_core.crop, "find_faces", RULES[name])


def ways() -> dict:
    """Each rule as a way for ways.py."""
    return {name: functools.partial(rule, name) for name in RULES}


def markdown(r: dict, command: str) -> str:
    names = list(RULES)
    by_rule = " / ".join(names)
    lines = ["# The upright look's faces the face mesh reads absent: refined no further (preprocessing 12), not "
             "dropped", "", f"`{command}`", "",
             f"An upright face the mesh reads below {r['give_up']:g} (locate.GIVE_UP) on two passes in a row is, by "
             "rule: *refined in full* (up to locate.MESH_PASSES passes: preprocessing 11), *refined no further* and "
             "kept (as a second look's face is: the product since preprocessing 12), or *dropped* when the mesh last "
             f"reads it below {r['give_up']:g}. Answers through the product with `{r['model']}`, on validation "
             f"photos only; each cell gives the rules in that order ({by_rule}).", "", *tables(r, names, "rule")]
    return "\n".join(lines) + "\n"


@errors_exit_2
def main(argv=None) -> int:
    return run_study("absent_face_study", __doc__, ways(), markdown, argv, lambda classifier: {"give_up": GIVE_UP})


if __name__ == "__main__":
    sys.exit(main())
