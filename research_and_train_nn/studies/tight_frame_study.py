"""Tightly cut photos, as AFLW's are: a validation pool that looks like the test pool's framing.

    python3 research_and_train_nn/studies/tight_frame_study.py --out research_and_train_nn/reports/tight_frame

MTFL's AFLW photos (the test pool) are cut much tighter than the photos training and validation
see: a square about 3.35 eye distances wide with the eyes 1.13 of them below its top edge, where
LFW's photos are 6 wide and 2.75 above (the framing table below measures it from MTFL's landmarks:
the photos' geometry only, never a label or an answer). The crop (2.4 eye distances) leaves such a
photo, so what the preprocessing does past the frame matters there and hardly anywhere in
validation: preprocessing 9 (the photo's edge past the frame) moved AFLW's F1 where validation
showed nothing.

This study cuts every validation photo with known eyes (MTFL's training pool and both CelebA
folders: the people no run trains on; never the test pool) to one tight frame drawn at random
(data/composed.py's TIGHT, 150 x 150 pixels, skipped where the frame would leave the photo) and
scores the model given on the largest face's crop (as training's validation crops are made), at
its threshold, for each way of preprocessing in ``VARIANTS``, beside the same photos as
photographed: F1 overall, per pool and on MTFL's frontal and turned heads (its pose column),
recall, false alarms, faces found, and how many crops differ from the product's. Writes tight_frame_study.md and .json.
"""
from __future__ import annotations

import argparse
import dataclasses
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from glasses_core import GlassesClassifier
from glasses_core.errors import errors_exit_2
from research_and_train_nn.data.composed import TIGHT, photo_eyes, tight_frame
from research_and_train_nn.data.datasets import mtfl_eyes, mtfl_poses
from research_and_train_nn.evaluation.metrics import metrics
from research_and_train_nn.evaluation.report import per_source
from research_and_train_nn.studies.frame_fill_study import FILLS, PRODUCT, filled, largest_face_crops
from research_and_train_nn.studies.hard_cases import add_data_argument, validation_records
from research_and_train_nn.studies.report_files import add_report_arguments, command_line, write_report

SEED = 0  # the frames' draw, the same for every model
# name: (CropConfig changes, what the crop and the face mesh's regions hold past the frame: frame_fill_study's fills)
VARIANTS = {"the product": ({}, FILLS[PRODUCT]),
            "black past the frame (preprocessing 8)": ({}, FILLS["black"]),
            "BlazeFace's eyes (refine none)": ({"refine": "none"}, FILLS[PRODUCT])}
PHOTOS = ("as photographed", "tightly cut")


def framing(photos) -> dict:
    """Median framing of photos, each (width, height, right eye, left eye), in eye distances: the
    photo's width, the room above, below and beside the eyes' midpoint."""
    rows = []
    for width, height, (x0, y0), (x1, y1) in photos:
        distance, cx, cy = float(np.hypot(x1 - x0, y1 - y0)), (x0 + x1) / 2, (y0 + y1) / 2
        rows.append((width / distance, cy / distance, (height - cy) / distance, min(cx, width - cx) / distance))
    median = np.median(np.array(rows), axis=0)
    return {"photos": len(rows), **dict(zip(("width", "above", "below", "beside"), (round(float(m), 2) for m in median)))}


def turned_share(poses: dict) -> dict:
    """How many of MTFL's photos (path -> pose: 1 left profile ... 3 frontal ... 5 right profile) are
    turned (not frontal) and how many in profile."""
    pose = np.array(list(poses.values()))
    return {"turned": round(float(np.mean(pose != 3)), 3), "profile": round(float(np.mean((pose == 1) | (pose == 5))), 3)}


def on_disk(eyes: dict):
    """(width, height, right eye, left eye) of photos on disk (path -> (right eye, left eye))."""
    for path, (right, left) in eyes.items():
        with Image.open(path) as image:
            yield (*image.size, right, left)


def tight_photos(records: list, eyes: dict, seed: int = SEED) -> tuple[list, list, list]:
    """The records that have a tight frame inside them, each one's frame as JPEG bytes, and its
    framing (``framing``'s rows)."""
    rng = np.random.default_rng(seed)
    kept, jpegs, frames = [], [], []
    for record in tqdm(records, desc="cutting tight frames", unit="photo", file=sys.stderr):
        draw = {name: rng.uniform(*span) for name, span in TIGHT.items()}  # drawn for every photo: the same frames
        known = photo_eyes(record, eyes)
        if known is None:
            continue
        framed = tight_frame(Image.open(record.path).convert("RGB"), known, **draw)
        if framed is None:
            continue
        buffer = io.BytesIO()
        framed[0].save(buffer, format="JPEG", quality=92)
        kept.append(record)
        jpegs.append(buffer.getvalue())
        frames.append((*framed[0].size, *framed[1]))
    return kept, jpegs, frames


def scores(classifier: GlassesClassifier, records: list, crops: list, found: list, product: list, poses: dict) -> dict:
    """F1 overall, per pool and on MTFL's frontal and turned heads (``poses``: MTFL's pose column, path ->
    pose, 3 frontal), recall, false alarms, faces found, and how many crops differ from ``product``'s."""
    kept = [i for i, c in enumerate(crops) if c is not None]
    probabilities = classifier.predict_crops(np.stack([crops[i] for i in kept]))
    labels = np.array([records[i].label for i in kept])
    pools = np.array([records[i].pool for i in kept])
    overall = metrics(labels, probabilities, classifier.threshold)
    by_pool = per_source({"labels": labels, "sources": pools}, probabilities, classifier.threshold)
    heads = np.array([("mtfl_train frontal" if poses[records[i].path] == 3 else "mtfl_train turned")
                      if records[i].path in poses else "" for i in kept])
    mtfl = heads != ""
    by_pool.update(per_source({"labels": labels[mtfl], "sources": heads[mtfl]}, probabilities[mtfl], classifier.threshold))
    return {"photos": len(kept), "faces_found": float(np.mean([found[i] for i in kept])),
            "changed": sum(not np.array_equal(crops[i], product[i]) for i in kept),
            "recall": overall["recall"], "false_alarms": int(overall["confusion_matrix"][0][1]),
            "without_glasses": int((labels == 0).sum()), "pr_auc": overall["pr_auc"], "f1": overall["f1"],
            **{f"f1 {pool}": s["f1"] for pool, s in by_pool.items()}}


def markdown(report: dict, command: str) -> str:
    lines = [f"# Tightly cut validation photos, as AFLW's are (`{report['model']}`)", "", f"`{command}`", "",
             "**Framing** (medians, in eye distances from MTFL's landmarks and CelebA's aligned eyes): the photo's "
             "width, the room above, below and beside the eyes' midpoint; and for MTFL's pools, by its pose column, "
             "the share of turned heads (not frontal) and of profiles. The tight frames are drawn from "
             f"`TIGHT` = {report['tight']} (side; eyes' midpoint across and down, as fractions of the side), "
             "resized to 150 x 150.", "",
             "| photos | count | width | above | below | beside | turned | profile |", "|---|---|---|---|---|---|---|---|"]
    share = lambda value: "–" if value is None else f"{value:.3f}"  # noqa: E731
    for name, f in report["framing"].items():
        lines.append(f"| {name} | {f['photos']} | {f['width']:.2f} | {f['above']:.2f} | {f['below']:.2f} | {f['beside']:.2f} | "
                     f"{share(f.get('turned'))} | {share(f.get('profile'))} |")
    first = report["results"][next(iter(report["results"]))]["as photographed"]
    pools = [k[3:] for k in first if k.startswith("f1 ")]
    lines += ["", f"**Scores** of {report['photos']} validation photos whose tight frame lies inside them, the largest "
              "face's crop at the model's threshold (MTFL's also apart by its pose column: frontal, or turned and in "
              "profile); 'crops changed' counts crops that differ from the product's on "
              "the same photos.", "",
              "| preprocessing | photos | faces found | crops changed | recall | false alarms | PR-AUC | F1 | "
              + " | ".join(f"F1, {p}" for p in pools) + " |", "|---|" * 1 + "---|" * (7 + len(pools))]
    for variant, per_photos in report["results"].items():
        for photos, s in per_photos.items():
            lines.append(f"| {variant} | {photos} | {s['faces_found']:.3f} | {s['changed']} | {s['recall']:.3f} | "
                         f"{s['false_alarms']} of {s['without_glasses']} | {s['pr_auc']:.4f} | {s['f1']:.4f} | "
                         + " | ".join(f"{s[f'f1 {p}']:.4f}" for p in pools) + " |")
    return "\n".join(lines) + "\n"


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_report_arguments(parser, "tight_frame_study")
    add_data_argument(parser)
    args = parser.parse_args(argv)
    classifier = GlassesClassifier(args.model)
    train_eyes = mtfl_eyes(args.data / "mtfl", "train")
    pools = {"MTFL LFW": "lfw_5590", "MTFL web": "net_7876"}
    framing_of = {name: framing(on_disk({p: e for p, e in train_eyes.items() if f"/{folder}/" in p}))
                  for name, folder in pools.items()}
    framing_of["MTFL AFLW (the test pool)"] = framing(on_disk(mtfl_eyes(args.data / "mtfl", "test")))
    train_poses = mtfl_poses(args.data / "mtfl", "train")
    for name, folder in pools.items():
        framing_of[name].update(turned_share({p: v for p, v in train_poses.items() if f"/{folder}/" in p}))
    framing_of["MTFL AFLW (the test pool)"].update(turned_share(mtfl_poses(args.data / "mtfl", "test")))
    records, jpegs, frames = tight_photos(validation_records(args.data), train_eyes)
    celeba = {r.path: photo_eyes(r, {}) for r in records if r.source == "celeba"}
    framing_of["CelebA validation photos, both folders"] = framing(on_disk(celeba))
    framing_of["validation photos, tightly cut (this study)"] = framing(frames)
    inputs = {"as photographed": [Path(r.path).read_bytes() for r in records], "tightly cut": jpegs}
    results, product = {}, {}
    for variant, (changes, fills) in VARIANTS.items():
        config = dataclasses.replace(classifier.config.crop, **changes)
        results[variant] = {}
        for photos in PHOTOS:
            with filled(*fills):
                crops, found = largest_face_crops(config, inputs[photos], f"{variant}, {photos}")
            product.setdefault(photos, crops)
            results[variant][photos] = scores(classifier, records, crops, found, product[photos], train_poses)
    report = {"model": classifier.model_id, "tight": TIGHT, "seed": SEED, "photos": len(records),
              "framing": framing_of, "results": results}
    write_report(args.out, "tight_frame_study", report, markdown(report, command_line("tight_frame_study.py", argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
