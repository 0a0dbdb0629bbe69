"""How long the face mesh should look: passes until its region settles, against where a face's answer moves.

    python3 research_and_train_nn/studies/mesh_settle_study.py --out research_and_train_nn/reports

The refinement (glasses_core/locate.py's MeshRefiner) reads a face with the face mesh on a region
around the detector's box, then again on the region its own landmarks give, until that region
moves and grows by less than MESH_SETTLED of its side (at most MESH_PASSES looks). The looser the
rule, the fewer invokes (issue 26), but the more the eyes still depend on where the whole-photo
pass put the box, and so on the rest of the photo (issue 28's face-in-any-photo test). For each
rule, the shipped int8 model through the product's preprocess:

- all validation photos (TrainConfig's split; the crop of the largest face, as training makes it),
  at the model's threshold: F1 overall and per pool, and face-mesh looks per photo;
- 60 validation MTFL faces placed in 5 other photos each (placements.py, as compare_runs.py):
  placed faces whose probability moves by more than 0.05 from the face alone's, answers flipped;
- the same for the face-in-any-photo test's 60 AFLW test faces (tests/test_face_anywhere.py):
  a description of the test, not a figure to choose by.

Nothing here changes the product; the rule is chosen on the validation rows. Writes
mesh_settle_study.md and .json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from glasses_core import DEFAULT_MODEL, Detectors, GlassesClassifier, ModelConfig, preprocess
from glasses_core.errors import errors_exit_2
from glasses_core.locate import MESH_PASSES, MESH_SETTLED, MeshRefiner
from research_and_train_nn.data.datasets import mtfl_eyes
from research_and_train_nn.evaluation.metrics import metrics
from research_and_train_nn.studies.hard_cases import add_data_argument, validation_records
from research_and_train_nn.studies.placements import aflw_faces, placed_crops, probability, spread_faces
from research_and_train_nn.studies.report_files import command_line, write_report

RULES = ((MESH_PASSES, MESH_SETTLED), (8, 0.01), (8, 0.005))  # (at most this many looks, settled within)
PLACED_FACES = 60
MAX_MOVE = 0.05  # the face-in-any-photo test's limit


class CountingRefiner(MeshRefiner):
    """The mesh refinement with ``passes`` and ``settled``, counting the face mesh's looks."""

    def __init__(self, config, passes: int, settled: float):
        super().__init__(config, passes=passes, settled=settled)
        self.looks = 0
        look = self._mesh.look

        def counted(patch):
            self.looks += 1
            return look(patch)
        self._mesh.look = counted


def placement_moves(classifier: GlassesClassifier, crops_of, faces) -> dict:
    """Placed faces (alone found) whose probability moves more than MAX_MOVE, answers flipped."""
    moves, flips, missed = [], 0, 0
    threshold = classifier.config.threshold
    for _, _, alone, found in placed_crops(crops_of, faces):
        if alone is None:
            continue
        if found is None:
            missed += 1
            continue
        a, b = probability(classifier, alone), probability(classifier, found)  # each alone in its batch, as the test
        moves.append(abs(b - a))
        flips += (a >= threshold) != (b >= threshold)
    moves = np.array(moves)
    return {"placements": len(moves) + missed, "missed": missed, "moved": int((moves > MAX_MOVE).sum()),
            "flipped": int(flips), "largest_move": float(moves.max()), "median_move": float(np.median(moves))}


def measure_rule(passes: int, settled: float, records: list, data: Path) -> dict:
    classifier = GlassesClassifier()
    crop = classifier.config.crop
    detectors = Detectors(crop)
    detectors.refiner = refiner = CountingRefiner(crop, passes, settled)

    def crops_of(photo):
        return preprocess(photo, detectors, crop)
    pixels = []
    for record in tqdm(records, desc=f"validation photos, {passes} looks within {settled}", unit="photo",
                       file=sys.stderr):
        pixels.append(crops_of(record.path)[0].pixels)
    looks = refiner.looks
    probabilities = np.concatenate([classifier.predict_crops(np.stack(pixels[i:i + 256]))
                                    for i in range(0, len(pixels), 256)])
    labels = np.array([r.label for r in records])
    pools = np.array([r.pool for r in records])
    t = classifier.config.threshold
    mtfl = [(r.path, r.label) for r in records if r.source == "mtfl_train"]
    placed = placement_moves(classifier, crops_of, spread_faces(mtfl, mtfl_eyes(data / "mtfl", "train"), PLACED_FACES))
    aflw = placement_moves(classifier, crops_of, aflw_faces(data / "mtfl", PLACED_FACES))
    return {"passes": passes, "settled": settled, "photos": len(records), "looks_per_photo": looks / len(records),
            "f1": metrics(labels, probabilities, t)["f1"],
            "f1_per_pool": {p: metrics(labels[pools == p], probabilities[pools == p], t)["f1"]
                            for p in dict.fromkeys(pools.tolist())},
            "validation_placed": placed, "aflw_placed": aflw}


def markdown(rows: list[dict], command: str) -> str:
    pools = list(rows[0]["f1_per_pool"])
    lines = ["# How long the face mesh looks: settled regions against answers that move", "", f"`{command}`", "",
             f"The shipped int8 model ({ModelConfig.load(DEFAULT_MODEL).version}) through the product's preprocess, the "
             "face-mesh refinement stopping after at most that many looks, or once its region moves and grows by less "
             f"than that share of its side. The first row is the product's rule. Validation: {rows[0]['photos']} "
             "photos (the crop of the largest face) at the model's threshold, and 60 validation MTFL faces placed in 5 "
             f"other photos each; moved: a placed face's probability more than {MAX_MOVE} from the face alone's. "
             "AFLW: the face-in-any-photo test's 60 test faces, placed the same way (it describes the test; the "
             "rule is chosen on validation).", "",
             "| looks at most | settled within | mesh looks per photo | F1 | " + " | ".join(f"F1 {p}" for p in pools)
             + " | placed, moved | flipped | largest move | AFLW placed, moved | flipped | largest move |",
             "|" + "---|" * (10 + len(pools))]
    for r in rows:
        v, a = r["validation_placed"], r["aflw_placed"]
        lines.append(f"| {r['passes']} | {r['settled']} | {r['looks_per_photo']:.2f} | {r['f1']:.4f} | "
                     + " | ".join(f"{r['f1_per_pool'][p]:.4f}" for p in pools)
                     + f" | {v['moved']} of {v['placements']} | {v['flipped']} | {v['largest_move']:.3f} | "
                     f"{a['moved']} of {a['placements']} | {a['flipped']} | {a['largest_move']:.3f} |")
    return "\n".join(lines) + "\n"


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for mesh_settle_study.md and .json")
    add_data_argument(parser)
    args = parser.parse_args(argv)
    records = validation_records(args.data)
    rows = [measure_rule(passes, settled, records, args.data) for passes, settled in RULES]
    write_report(args.out, "mesh_settle_study", rows, markdown(rows, command_line("mesh_settle_study.py", argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
