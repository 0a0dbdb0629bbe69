"""Why does a face's probability move when the face is placed in another photo: its eyes, or its
pixels?

    python3 research_and_train_nn/studies/placement_study.py --out research_and_train_nn/reports

The face-in-any-photo test's placements (placements.py: 60 AFLW faces, each in 5 other photos),
through the shipped model. For each placed face found:
- how far its eyes are from the eyes the face got alone, mapped into the placement (in eye
  distances, worse eye);
- how far its probability moves from the face alone's;
- how far it moves when the placed face is cut with the eyes it got alone instead: what is left
  then comes from the pixels (decoding, resampling), not from where the eyes were found.
With the product's face mesh, and with its last region also read mirrored and the eyes
averaged (``CropConfig.refine`` "mesh_mirrored"). Writes placement_study.md and .json. Reads
the test photos' pixels and annotated eyes, never their labels.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from glasses_core import GlassesClassifier, crop_face, locate, open_photo
from glasses_core.face_detect import make_face
from research_and_train_nn.studies.placements import aflw_faces, into_placement, placed_crops, probability
from research_and_train_nn.data.paths import SHARED_DATA
from research_and_train_nn.studies.report_files import write_report

MAX_MOVE = 0.05  # the face-in-any-photo test's limit


# (row name, CropConfig.refine)
REFINERS = (("face mesh (the product)", "mesh"),
            ("face mesh, last region mirrored too (mesh_mirrored)", "mesh_mirrored"))


def measure(classifier: GlassesClassifier, faces) -> list[dict]:
    rows = []
    config = classifier.config.crop
    face_of = {}  # the face alone's JPEG -> the face's number: placed_crops gives each face's placements in turn
    for alone, placement, base, found in placed_crops(classifier.crops, faces):
        face = face_of.setdefault(alone.jpeg, len(face_of))
        if base is None or found is None:
            rows.append({"placement": placement.name, "face": face, "found": False})
            continue
        eyes_alone = into_placement(alone, placement, [base.face.right_eye, base.face.left_eye])
        eyes_found = np.array([found.face.right_eye, found.face.left_eye])
        same_eyes = crop_face(open_photo(placement.jpeg), make_face(
            found.face.box, np.concatenate([eyes_alone, np.asarray(found.face.keypoints)[2:]]), 1.0), config)
        p_alone, p_placed = probability(classifier, base), probability(classifier, found)
        rows.append({"placement": placement.name, "face": face, "found": True,
                     "eye_move": float(np.linalg.norm(eyes_found - eyes_alone, axis=1).max()
                                       / np.linalg.norm(eyes_alone[1] - eyes_alone[0])),
                     "move": abs(p_placed - p_alone),
                     "flipped": (p_placed >= classifier.threshold) != (p_alone >= classifier.threshold),
                     "move_with_alone_eyes": abs(probability(classifier, same_eyes) - p_alone)})
    return rows


def summary(rows: list[dict]) -> dict:
    found = [r for r in rows if r["found"]]
    eye, move, same = (np.array([r[k] for r in found]) for k in ("eye_move", "move", "move_with_alone_eyes"))
    return {"placements": len(rows), "missed": len(rows) - len(found),
            "eye_move_median": float(np.median(eye)), "eye_move_p90": float(np.percentile(eye, 90)),
            "moved": int((move > MAX_MOVE).sum()), "largest_move": float(move.max()),
            "faces_moved": len({r["face"] for r in found if r["move"] > MAX_MOVE}),
            "faces": len({r["face"] for r in rows}), "flipped": sum(r["flipped"] for r in found),
            "moved_with_alone_eyes": int((same > MAX_MOVE).sum()), "largest_move_with_alone_eyes": float(same.max())}


def markdown(results: dict) -> str:
    lines = ["# What moves a placed face's probability: its eyes or its pixels", "",
             "`python3 research_and_train_nn/studies/placement_study.py --out research_and_train_nn/reports`: the "
             "face-in-any-photo test's 300 placements (60 AFLW faces, 5 photos each) through the shipped "
             f"model. Eye move: the placed face's eyes against the ones it got alone, in eye distances. "
             f"Moved: probability more than {MAX_MOVE} from the face alone's (and how many faces those "
             "placements are of); flipped: the answer at the model's threshold differs from the face "
             "alone's; with the eyes found alone: the placed face cut with the eyes it got alone.", "",
             "| refinement | eye move, median | eye move, p90 | moved | faces moved | flipped | largest move | "
             "moved, eyes found alone | largest, eyes found alone |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, s in results.items():
        lines.append(f"| {name} | {s['eye_move_median']:.4f} | {s['eye_move_p90']:.4f} | {s['moved']} of "
                     f"{s['placements']} | {s['faces_moved']} of {s['faces']} | {s['flipped']} | {s['largest_move']:.3f} | "
                     f"{s['moved_with_alone_eyes']} | "
                     f"{s['largest_move_with_alone_eyes']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for placement_study.md and .json")
    args = parser.parse_args(argv)
    faces = aflw_faces(SHARED_DATA / "mtfl", 60)
    classifier = GlassesClassifier()
    results = {}
    for name, refine in REFINERS:
        classifier._detectors.refiner = locate.REFINERS[refine](classifier.config.crop)
        results[name] = summary(measure(classifier, faces))
        print(name, results[name], flush=True)
    write_report(args.out, "placement_study", results, markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
