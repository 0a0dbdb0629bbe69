"""Black or the photo's edge outside a close-up's frame: what the preprocessing fills a square with
where it leaves the photo (the choice behind PREPROCESS_VERSION 9).

Each way of filling (``FILLS``: black everywhere, preprocessing 8; the photo's nearest edge pixels in
the crop alone, preprocessing 9, the product; in the face mesh's regions alone; in every square; in
the crop and the regions of the second looks' faces (turned and widened); in the crop and the regions
of the turned look's faces; ``geometry.cut``'s ``outside``; squares inside the photo get the same
pixels every way), with the model given:
1. hard_cases.py's composed photos (close-ups the frame cuts, turned heads, mirror images of
   validation photos; never the test pool) through the product: per case, right face found, any
   face found, recall and false alarms (the datasets' labels);
2. every validation photo (the people no run trains on) cut as training's validation crops are (the
   largest face, ``preprocess``) and classified at the model's threshold: F1 per pool and overall,
   and how many photos' crops differ from black's. Ordinary photos are most photos: a fill that
   helps the close-ups must not cost them.
Writes frame_fill_study.md and .json.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

import glasses_core.crop
import glasses_core.locate
from glasses_core import Detectors, GlassesClassifier, preprocess
from glasses_core.errors import GlassesError, errors_exit_2
from glasses_core.image_io import open_photo
from research_and_train_nn.evaluation.metrics import metrics
from research_and_train_nn.evaluation.report import per_source
from research_and_train_nn.studies.hard_cases import (add_photo_arguments, measure, summary, validation_photos,
                                                      validation_records)
from research_and_train_nn.studies.report_files import add_report_arguments, command_line, write_report

# each column: what the crop holds outside the photo, and what the face mesh's regions hold there for
# faces of the upright, the turned and the widened look (crop.CROP_OUTSIDE, locate.REGION_OUTSIDE,
# locate.TURNED_REGION_OUTSIDE, locate.WIDENED_REGION_OUTSIDE)
FILLS = {"black": ("black", "black", "black", "black"),
         "edge, crop only": ("edge", "black", "black", "black"),  # preprocessing 9, the product
         "edge, regions only": ("black", "edge", "edge", "edge"),
         "edge": ("edge", "edge", "edge", "edge"),
         "edge, crop and second looks' regions": ("edge", "black", "edge", "edge"),
         "edge, crop and turned look's regions": ("edge", "black", "edge", "black")}
PRODUCT = "edge, crop only"
_FILLED = ((glasses_core.crop, "CROP_OUTSIDE"), (glasses_core.locate, "REGION_OUTSIDE"),
           (glasses_core.locate, "TURNED_REGION_OUTSIDE"), (glasses_core.locate, "WIDENED_REGION_OUTSIDE"))


@contextlib.contextmanager
def filled(*fills: str):
    """Within it, the preprocessing fills the crop and the face mesh's regions (of the upright, turned
    and widened looks' faces) as ``fills`` say, in FILLS' order; the product's own fills again after,
    even after an error."""
    saved = [getattr(module, name) for module, name in _FILLED]
    for (module, name), fill in zip(_FILLED, fills):
        setattr(module, name, fill)
    try:
        yield
    finally:
        for (module, name), fill in zip(_FILLED, saved):
            setattr(module, name, fill)


def largest_face_crops(config, photos: list, desc: str) -> tuple[list, list]:
    """Each photo's crop as training's validation crops are made (crop_cache.crop_one: the largest
    face, or the fallback) and whether a face was found, with the fills in force; None (and False)
    for a photo that cannot be read. ``photos``: anything ``open_photo`` takes."""
    detectors, crops, found = Detectors(config), [], []
    for photo in tqdm(photos, desc=desc, unit="photo", file=sys.stderr):
        try:
            crop = preprocess(open_photo(photo), detectors, config)[0]
            crops.append(crop.pixels)
            found.append(crop.face is not None)
        except GlassesError:
            crops.append(None)
            found.append(False)
    return crops, found


def validation_crops(config, records: list) -> list:
    """Each validation photo's crop (``largest_face_crops``)."""
    return largest_face_crops(config, [Path(record.path).read_bytes() for record in records], "validation photos")[0]


def validation_scores(classifier: GlassesClassifier, records: list, crops: list, black: list) -> dict:
    """F1 overall and per pool at the model's threshold, and how many crops differ from ``black``'s."""
    kept = [i for i, c in enumerate(crops) if c is not None]
    probabilities = classifier.predict_crops(np.stack([crops[i] for i in kept]))
    labels = np.array([records[i].label for i in kept])
    pools = np.array([records[i].pool for i in kept])
    by_pool = per_source({"labels": labels, "sources": pools}, probabilities, classifier.threshold)
    return {"changed": sum(not np.array_equal(crops[i], black[i]) for i in kept),
            "all": metrics(labels, probabilities, classifier.threshold)["f1"],
            **{pool: scores["f1"] for pool, scores in by_pool.items()}}


def markdown(report: dict, command: str) -> str:
    names = list(FILLS)
    letters = [chr(ord("A") + i) for i in range(len(names))]
    heads = " | ".join(letters)
    lines = [f"# Black or the photo's edge outside the frame (`{report['model']}`)", "", f"`{command}`", "",
             "Each way of filling the part of a square the preprocessing cuts that leaves the photo (the crop; the face "
             "mesh's regions of the faces the upright, the turned and the widened look found); squares inside the "
             "photo are unchanged every way:", ""]
    for letter, name in zip(letters, names):
        crop, upright, turned, widened = FILLS[name]
        lines.append(f"- **{letter}** `{name}`: crop {crop}; regions {upright} (upright look), {turned} (turned), "
                     f"{widened} (widened)" + {PRODUCT: " — preprocessing 9, the product",
                                               "black": " — preprocessing 8"}.get(name, ""))
    lines += ["", f"**Composed hard photos.** {report['photos']} validation photos ({report['per_class']} with glasses and "
              f"{report['per_class']} without from each of MTFL's training pool and CelebA), each as photographed and in "
              "hard_cases.py's composed cases, through the product. Recall and false alarms by the datasets' labels."]
    rate = lambda value: "–" if value is None else f"{value:.3f}"  # noqa: E731
    for title, show in (("right face found", lambda r: f"{r['right_face']:.3f}"), ("recall", lambda r: rate(r["recall"])),
                        ("false alarms", lambda r: f"{r['false_alarms']} of {r['without_glasses']}")):
        lines += ["", f"| {title} | {heads} |", "|---|" + "---|" * len(names)]
        for case, b in report["fills"]["black"].items():
            if b is not None:
                lines.append(f"| {case} | " + " | ".join(show(report["fills"][fill][case]) for fill in names) + " |")
    validation = report["validation"]
    pools = [k for k in validation["black"] if k != "changed"]
    lines += ["", f"**Every validation photo** ({report['validation_photos']}), its largest face's crop as training's "
              "validation crops are made, at the model's threshold: F1, and how many photos' crops differ from black's.", "",
              "| fill | crops changed | " + " | ".join(f"F1, {pool}" for pool in pools) + " |",
              "|---|---|" + "---|" * len(pools)]
    for letter, fill in zip(letters, names):
        lines.append(f"| {letter} `{fill}` | {validation[fill]['changed']} | "
                     + " | ".join(f"{validation[fill][pool]:.4f}" for pool in pools) + " |")
    return "\n".join(lines) + "\n"


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_report_arguments(parser, "frame_fill_study")
    add_photo_arguments(parser)
    args = parser.parse_args(argv)
    classifier = GlassesClassifier(args.model)
    photos = validation_photos(args.data, args.per_class)
    records = validation_records(args.data)
    fills, validation, black = {}, {}, None
    for name, fill in FILLS.items():  # "black" first: every other fill's crops are compared with its
        with filled(*fill):
            fills[name] = summary(measure(classifier, photos))
            crops = validation_crops(classifier.config.crop, records)
        black = crops if black is None else black
        validation[name] = validation_scores(classifier, records, crops, black)
    report = {"model": classifier.model_id, "photos": len(photos), "per_class": args.per_class, "fills": fills,
              "validation_photos": len(records), "validation": validation}
    write_report(args.out, "frame_fill_study", report, markdown(report, command_line("frame_fill_study.py", argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
