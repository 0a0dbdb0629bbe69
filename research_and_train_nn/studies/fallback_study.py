"""What to do when no face is found: measure the fallback crop against weaker detections.

``python3 research_and_train_nn/studies/fallback_study.py --out research_and_train_nn/reports``

For each MTFL photo (annotated eye centres) where the training crop (``preprocess``, read
from the crop cache) found no usable face, it
compares, in eye distances, how far from the annotated eye midpoint each policy puts the crop
centre, and how wide its crop is (the model was trained on ``scale`` eye distances):

- the fallback crop (a centre square, ``CropConfig.fallback_*``): what the product does;
- the most confident face from BlazeFace with the score threshold lowered (short range, then
  full range), for each of ``--scores``.

Writes ``fallback_study.md`` / ``.json``.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from glasses_core import CropConfig, load_image
from glasses_core.crop import eye_geometry, fallback_geometry
from glasses_core.errors import errors_exit_2
from glasses_core.face_detect import FaceDetector
from research_and_train_nn.data.datasets import load_mtfl, mtfl_eyes
from research_and_train_nn.data.crops import DEFAULT_CACHE, make_crops
from research_and_train_nn.studies.report_files import command_line, write_report


def study(root: Path, splits: tuple[str, ...], scores: tuple[float, ...], config: CropConfig,
          cache: Path = DEFAULT_CACHE) -> dict:
    weaker = {s: [FaceDetector(n, s) for n in ("short", "full")] for s in scores}
    rows = []
    for split in splits:
        eyes = mtfl_eyes(root, split)
        crops = make_crops(load_mtfl(root, split), config, cache)  # the training crops: cached
        for record in crops.subset(np.flatnonzero(crops.ok & ~crops.face_found)).records:
            image = load_image(record.path)
            first, second = eyes[record.path]
            distance = math.dist(first, second)
            truth = ((first[0] + second[0]) / 2, (first[1] + second[1]) / 2)
            row = {"photo": Path(record.path).name, "split": split, "label": record.label,
                   "fallback": _placement(fallback_geometry(*image.shape[:2], config), truth, distance)}
            for score, (short, full) in weaker.items():
                faces = short.detect(image) or full.detect(image)
                best = max(faces, key=lambda f: f.score) if faces else None
                row[f"score {score}"] = (None if best is None else
                                         {**_placement(eye_geometry(best.right_eye, best.left_eye, config),
                                                       truth, distance), "face_score": best.score})
            rows.append(row)
    return {"config": {"scale": config.scale, "min_face_score": config.min_face_score},
            "policies": ["fallback"] + [f"score {s}" for s in scores], "photos": rows}


def _placement(geometry, truth, distance: float) -> dict:
    """Crop centre error and crop width, both in eye distances."""
    return {"centre_error": math.dist(geometry.centre, truth) / distance, "width": geometry.side / distance}


def markdown(report: dict, command: str) -> str:
    scale = report["config"]["scale"]
    lines = ["# No face found: the fallback crop against weaker detections", "",
             f"Command: `{command}`", "",
             f"MTFL photos where no usable face was found at BlazeFace score "
             f"{report['config']['min_face_score']}: {len(report['photos'])}. Centre error: distance "
             f"from the annotated eye midpoint to the crop centre, in eye distances; width: the crop "
             f"side in eye distances (the model was trained on {scale}). A dash: no face even then.", "",
             "| photo | label | " + " | ".join(report["policies"]) + " |",
             "|---|---|" + "---|" * len(report["policies"])]
    for row in report["photos"]:
        cells = [("–" if row[p] is None else f"{row[p]['centre_error']:.2f} (width {row[p]['width']:.1f})")
                 for p in report["policies"]]
        lines.append(f"| {row['photo']} | {row['label']} | " + " | ".join(cells) + " |")
    lines += ["", "| policy | faces placed | median centre error | centre within 0.25 | "
              f"width within 25 % of {scale} |", "|---|---|---|---|---|"]
    for policy in report["policies"]:
        placed = [row[policy] for row in report["photos"] if row[policy] is not None]
        errors = [p["centre_error"] for p in placed]
        median = f"{np.median(errors):.2f}" if errors else "–"
        widths = sum(abs(p["width"] / scale - 1) <= 0.25 for p in placed)
        lines.append(f"| {policy} | {len(placed)} of {len(report['photos'])} | {median} | "
                     f"{sum(e <= 0.25 for e in errors)} | {widths} |")
    return "\n".join(lines) + "\n"


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mtfl", type=Path, default=Path("../shared/data/mtfl"), help="MTFL folder")
    parser.add_argument("--split", action="append", choices=("train", "test"),
                        help="MTFL lists to read (default: both)")
    parser.add_argument("--scores", type=float, nargs="+", default=[0.3, 0.15],
                        help="lowered BlazeFace score thresholds to try")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="crop cache folder")
    parser.add_argument("--out", type=Path, required=True, help="folder for fallback_study.md/.json")
    args = parser.parse_args(argv)
    report = study(args.mtfl, tuple(args.split or ("train", "test")), tuple(args.scores), CropConfig(), args.cache)
    write_report(args.out, "fallback_study", report, markdown(report, command_line("fallback_study.py", argv)), indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
