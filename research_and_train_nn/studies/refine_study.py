"""Which second look at each face gives the crop its eyes: none, BlazeFace again, or the face mesh,
and how many face-mesh passes?

    python3 research_and_train_nn/studies/refine_study.py --out research_and_train_nn/reports

For each ``CropConfig.refine`` choice ("mesh_mirrored": the mesh's last region also read
mirrored, the eyes averaged), and for the face mesh with fewer or more passes than locate.py's
(MESH_PASSES at most, stopping once the region settles within MESH_SETTLED), on real annotated
eyes:
- accuracy: the worse eye's distance from MTFL's annotation, in eye distances, on 300 training
  photos (LFW and web) and 300 AFLW test photos, each photo as it is;
- consistency: 60 AFLW faces placed in other photos (placements.py): how far each eye moves from
  where it was found in the face's own photo (in eye distances), faces missed, and how often
  the shipped model's probability moves by more than 0.05;
- cost: face-mesh passes per face, and time of the refinement per face against one BlazeFace
  invoke in the same run (run it on a quiet machine).
Writes refine_study.md and refine_study.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import time
from pathlib import Path

import numpy as np

from glasses_core import CropConfig, GlassesClassifier, open_photo
from glasses_core.face_detect import FaceDetector
from glasses_core.locate import MESH_PASSES, MESH_SETTLED, Detectors, MeshRefiner
from research_and_train_nn.data.datasets import mtfl_eyes
from research_and_train_nn.studies.placements import aflw_faces, into_placement, placed_crops, probability
from research_and_train_nn.data.paths import SHARED_DATA

# (row name, CropConfig.refine, mesh passes at most, settled within): the product's mesh is "mesh";
# "mesh_mirrored" reads the last region mirrored too
VARIANTS = (("none", "none", None, None), ("detector", "detector", None, None),
            ("mesh", "mesh", MESH_PASSES, MESH_SETTLED), ("mesh, 1 pass", "mesh", 1, 0.0),
            ("mesh, 2 passes", "mesh", 2, 0.0), ("mesh, up to 8 passes, settled 0.01", "mesh", 8, 0.01),
            ("mesh, last region mirrored too", "mesh_mirrored", MESH_PASSES, MESH_SETTLED),
            ("mesh, 1 pass, mirrored too", "mesh_mirrored", 1, 0.0))


def eye_errors(paths: list[str], annotated: dict, detectors: Detectors, config: CropConfig):
    """Worse-eye error in eye distances per photo with a face, and the refinement's seconds per face."""
    errors, seconds = [], []
    for path in paths:
        photo = open_photo(path)
        faces = detectors.detect(photo)
        if not faces:
            continue
        start = time.perf_counter()
        face = detectors.refiner.refine(photo, max(faces, key=lambda f: f.area))
        seconds.append(time.perf_counter() - start)
        eyes = annotated[path]
        errors.append(max(math.dist(face.right_eye, eyes[0]), math.dist(face.left_eye, eyes[1]))
                      / math.dist(*eyes))
    return np.array(errors), seconds


def consistency(faces, classifier: GlassesClassifier):
    """Per placement: eye movement from the face alone (eye distances) and |probability change|."""
    moves, changes, missed = [], [], 0
    for alone, placement, base, found in placed_crops(classifier.crops, faces):
        if base is None or found is None:
            missed += 1
            continue
        base_eyes = into_placement(alone, placement, [base.face.right_eye, base.face.left_eye])
        found_eyes = np.array([found.face.right_eye, found.face.left_eye])
        # in annotated eye distances, as placed
        moves.append(np.linalg.norm(found_eyes - base_eyes, axis=1).max()
                     / np.linalg.norm(placement.eyes[1] - placement.eyes[0]))
        changes.append(abs(probability(classifier, found) - probability(classifier, base)))
    return np.array(moves), np.array(changes), missed


def invoke_ms() -> float:
    detector = FaceDetector("short")
    interpreter = detector._interpreter()
    times = []
    for _ in range(200):
        start = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


class CountedMesh:
    """A face mesh that counts its passes."""

    def __init__(self, mesh):
        self.mesh, self.calls = mesh, 0

    def landmarks(self, patch):
        self.calls += 1
        return self.mesh.landmarks(patch)


def study(name: str, refine: str, passes: int | None, settled: float | None, samples: dict, faces) -> dict:
    config = dataclasses.replace(CropConfig(), refine=refine)
    detectors = Detectors(config)
    counted = None
    if passes is not None:
        detectors.refiner = MeshRefiner(config, 1, passes, settled, mirrored=refine == "mesh_mirrored")
        counted = detectors.refiner._mesh = CountedMesh(detectors.refiner._mesh)
    row = {"refine": name}
    seconds = []
    for split, (paths, annotated) in samples.items():
        errors, spent = eye_errors(paths, annotated, detectors, config)
        seconds += spent
        row[f"{split}_median"], row[f"{split}_p95"] = float(np.median(errors)), float(np.percentile(errors, 95))
    row["mesh_invokes_per_face"] = counted.calls / len(seconds) if counted else 0.0
    classifier = GlassesClassifier()
    classifier.config = dataclasses.replace(classifier.config, crop=config)
    classifier._detectors = detectors
    moves, changes, missed = consistency(faces, classifier)
    row.update(move_median=float(np.median(moves)), move_p95=float(np.percentile(moves, 95)),
               missed=missed, placed=len(moves) + missed, changed=int((changes > 0.05).sum()),
               refine_ms=statistics.median(seconds) * 1000)
    return row


def report(rows: list[dict], invoke: float) -> str:
    lines = ["# Refinement study: where the crop's eyes come from", "",
             "`python3 research_and_train_nn/studies/refine_study.py --out research_and_train_nn/reports`. "
             "Eye errors are the worse eye's distance from MTFL's annotation in eye distances; "
             "'moves' is how far an eye moves when the face is placed in another photo, against the "
             "face in its own photo; 'P moves > 0.05' counts placements where the shipped model's "
             f"probability moves by more than 0.05. One BlazeFace invoke took {invoke:.2f} ms in this run.", "",
             "| refine | LFW/web median | p95 | AFLW median | p95 | moves median | p95 | missed | P moves > 0.05 | mesh invokes per face | ms per face | x BlazeFace invoke |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['refine']} | {r['train_median']:.4f} | {r['train_p95']:.4f} | {r['test_median']:.4f} | "
                     f"{r['test_p95']:.4f} | {r['move_median']:.4f} | {r['move_p95']:.4f} | {r['missed']} of {r['placed']} | "
                     f"{r['changed']} | {r['mesh_invokes_per_face']:.2f} | {r['refine_ms']:.2f} | {r['refine_ms'] / invoke:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for refine_study.md/.json")
    parser.add_argument("--photos", type=int, default=300, help="annotated photos per split")
    args = parser.parse_args(argv)
    samples = {}
    for split in ("train", "test"):
        annotated = mtfl_eyes(SHARED_DATA / "mtfl", split)
        paths = sorted(annotated)[:: len(annotated) // args.photos][: args.photos]
        samples[split] = (paths, annotated)
    faces = aflw_faces(SHARED_DATA / "mtfl", 60)
    rows = [study(*variant, samples, faces) for variant in VARIANTS]
    invoke = invoke_ms()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "refine_study.json").write_text(json.dumps({"blazeface_invoke_ms": invoke, "rows": rows}, indent=2) + "\n")
    (args.out / "refine_study.md").write_text(report(rows, invoke))
    print(report(rows, invoke))


if __name__ == "__main__":
    main()
