"""What a close-up's cut-off forehead or chin should look like to the networks: black, as the product
fills a square that leaves the photo, or the photo's edge pixels carried on (a candidate change).

    python3 research_and_train_nn/studies/frame_fill_study.py --out research_and_train_nn/reports

hard_cases.py's composed photos (close-ups the frame cuts, turned heads, mirror images of validation
photos; never the test pool) through the product three times with the model given: as it is, with
the crop, and with every square the preprocessing cuts out of a photo (the face mesh's regions too),
filled outside the photo by its nearest edge pixel instead of black (``edge_filled``: the product's own
``geometry.cut`` on the photo padded by edge replication, so a square inside the photo keeps its
pixels exactly; only squares crossing the frame change). Per case, for each: right face found, any
face found, recall and false alarms (the datasets' labels). The model was trained on the product's
black; this measures the shipped model, before any retraining. Writes frame_fill_study.md and .json.
"""
from __future__ import annotations

import argparse
import contextlib
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import glasses_core.crop
import glasses_core.locate
from glasses_core import DEFAULT_MODEL, GlassesClassifier
from glasses_core.errors import errors_exit_2
from glasses_core.geometry import CropGeometry, as_pillow, cut
from research_and_train_nn.studies.hard_cases import add_photo_arguments, measure, summary, validation_photos
from research_and_train_nn.studies.report_files import command_line, write_report

FILLS = ("black", "edge, crop only", "edge")  # the product's; the candidates': the crop alone, every square


def edge_filled_cut(image, geometry: CropGeometry, size: int) -> np.ndarray:
    """``geometry.cut`` with the photo carried on past its edges by edge replication: the same pixels
    as ``cut`` when the square (and the pixel bilinear sampling reads beyond it) lies inside the photo."""
    pil = as_pillow(image)
    corners = geometry.to_image(np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float64))
    width, height = pil.size
    beyond = max(0.0, -corners.min(), corners[:, 0].max() - width, corners[:, 1].max() - height)
    if beyond == 0.0:
        return cut(pil, geometry, size)
    reduce = max(1, int(geometry.side // (4 * size)))  # cut's box filter: padded by whole blocks, so they align
    pad = reduce * int(math.ceil((math.ceil(beyond) + 2) / reduce))
    padded = np.pad(np.asarray(pil.convert("RGB")), ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    moved = CropGeometry((geometry.centre[0] + pad, geometry.centre[1] + pad), geometry.side, geometry.angle)
    return cut(Image.fromarray(padded), moved, size)


@contextlib.contextmanager
def edge_filled(mesh_regions: bool = True):
    """Within it, the preprocessing cuts the crop with ``edge_filled_cut``, and the face mesh's regions
    too unless ``mesh_regions`` is False; the product's ``cut`` again after."""
    saved = glasses_core.crop.cut, glasses_core.locate.cut
    glasses_core.crop.cut = edge_filled_cut
    if mesh_regions:
        glasses_core.locate.cut = edge_filled_cut
    try:
        yield
    finally:
        glasses_core.crop.cut, glasses_core.locate.cut = saved


def markdown(report: dict, command: str) -> str:
    lines = [f"# Black or the photo's edge outside the frame (`{report['model']}`)", "", f"`{command}`", "",
             f"{report['photos']} validation photos ({report['per_class']} with glasses and {report['per_class']} without "
             "from each of MTFL's training pool and CelebA), each as photographed and in hard_cases.py's composed cases, "
             "through the product with every square cut out of a photo filled outside it with black (the product), "
             "or with the photo's nearest edge pixels, in the crop only or in every square (the face mesh's regions "
             "too); squares inside the photo unchanged. The "
             "shipped model, trained on black. Recall and false alarms by the datasets' labels.", "",
             "| case | right face, black | crop only | every square | recall, black | crop only | every square | "
             "false alarms, black | crop only | every square |", "|---|---|---|---|---|---|---|---|---|---|"]
    rate = lambda value: "–" if value is None else f"{value:.3f}"  # noqa: E731
    for case, b in report["fills"]["black"].items():
        if b is None:
            continue
        rows = [report["fills"][fill][case] for fill in FILLS]
        lines.append(f"| {case} | " + " | ".join(f"{r['right_face']:.3f}" for r in rows) + " | "
                     + " | ".join(rate(r["recall"]) for r in rows) + " | "
                     + " | ".join(f"{r['false_alarms']} of {r['without_glasses']}" for r in rows) + " |")
    return "\n".join(lines) + "\n"


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for frame_fill_study.md and .json")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model .json or .tflite (default: shipped)")
    add_photo_arguments(parser)
    args = parser.parse_args(argv)
    classifier = GlassesClassifier(args.model)
    photos = validation_photos(args.data, args.per_class)
    fills = {"black": summary(measure(classifier, photos))}
    with edge_filled(mesh_regions=False):
        fills["edge, crop only"] = summary(measure(classifier, photos))
    with edge_filled():
        fills["edge"] = summary(measure(classifier, photos))
    report = {"model": classifier.model_id, "photos": len(photos), "per_class": args.per_class, "fills": fills}
    write_report(args.out, "frame_fill_study", report, markdown(report, command_line("frame_fill_study.py", argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
