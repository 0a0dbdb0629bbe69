"""Which view of the photo the detailed look reads: one decoded twice its input long (preprocessing
10), or the first look's view when that is at least its input long (11).

The detailed look (locate.Detectors: when the upright look finds no face, or only faces under 15 % of
the photo's longer side) reads the photo at 384 px along its longer side. Preprocessing 10 shrank
that from the coarsest view at least twice as long (a 12 MP photo decoded again at 1/4, 1008 px,
beside the 1/8 the upright look had read); 11 shrinks the first look's view when that is at least
384 px long (there the 1/8, 504 px, already decoded: locate.Detectors._detect_small) and decodes
as 10 did otherwise. Pillow's resize is antialiased either way. (Always the coarsest view at least the
input long, a first candidate, also read the 1/2 view of 1280 px photos, where the fast path's eyes
then moved from the full-size decode's by more than tests/test_fast_path.py allows.) The two read every
photo under 768 px alike, and the study counts the photos of MTFL (both pools) and CelebA (both folders)
that long, from their headers: none, so no training, validation or test crop changes (nor a composed
hard case's: those are cut or turned from validation photos, under 768 px too). It
composes the photos where the two differ, from validation photos (MTFL's training pool and CelebA,
half with glasses; never the test pool):
1. group photos: six photos in a 3 x 2 grid on 1280 x 960, 1920 x 1080 and 4032 x 3024 frames, each
   scaled so that its eyes lie 3, 4.5 or 6 % of the frame's longer side apart (faces about 6 to 13 %
   of it wide: the detailed look's faces), on a smooth colour field made from a seventh photo with
   sensor-like noise, saved as JPEGs: per way, the placed faces found (hard_cases' right face),
   their answers at the model's threshold, and the other faces found;
2. the same frames without their faces (no face in them): the faces found there.
Per way also the reductions each photo was decoded at, and the seconds the photos took (the two
ways alternate photo by photo; benchmarks/run_all.py is the speed evidence).
Writes detail_decode_study.md and .json.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np
from PIL import Image
from tqdm import tqdm

from glasses_core import Detectors, GlassesClassifier
from glasses_core.errors import errors_exit_2
from glasses_core.face_detect import VARIANTS
from glasses_core.image_io import open_photo
from glasses_core.locate import scaled
from research_and_train_nn.data.composed import right_face
from research_and_train_nn.data.datasets import load
from research_and_train_nn.studies.hard_cases import add_photo_arguments, validation_photos
from research_and_train_nn.studies.placements import jpeg, probability
from research_and_train_nn.studies.report_files import add_report_arguments, command_line, write_report

def detect_small_10(detectors: Detectors, photo, detail: int) -> list:
    """Preprocessing 10's detailed look: the photo read at ``detail`` input pixels along its longer side
    from the coarsest view at least twice that long, always (a 12 MP photo decoded again at 1/4)."""
    view, reduction = photo.image(2 * detail / max(photo.size))
    return [scaled(face, reduction) for face in detectors._detector.detect(view, detail)]


WAYS = {10: lambda: mock.patch.object(Detectors, "_detect_small", detect_small_10),  # by preprocessing version
        11: contextlib.nullcontext}  # 11: the product's
VERSIONS = tuple(WAYS)
FRAMES = ((1280, 960), (1920, 1080), (4032, 3024))
EYE_SPACINGS = (0.03, 0.045, 0.06)  # eye distance / the frame's longer side
GRID = (3, 2)  # faces per row, rows
NOISE = 6.0  # sensor-like noise on the colour field, grey levels


def detail_view(version: int):
    """Within it, the detailed look reads the view preprocessing ``version`` (a key of WAYS) read; the
    product's own setting again after, even after an error."""
    return WAYS[version]()


def long_photos(data: Path, longer: int = 2 * Detectors.DETAIL * VARIANTS["short"].input_size) -> dict:
    """Per dataset, how many of its photos are ``longer`` px long or more (where the two ways can
    differ: twice the detailed look's input), read from their headers."""
    counts = {}
    for name, spec in (("MTFL training pool", f"mtfl:{data / 'mtfl'}"), ("MTFL test pool (AFLW)", f"mtfl-test:{data / 'mtfl'}"),
                       ("CelebA", f"celeba:{data / 'celeba'}"), ("CelebA, more", f"celeba:{data / 'celeba_more'}")):
        records = load(spec)
        long = 0
        for record in records:
            with Image.open(record.path) as image:
                long += max(image.size) >= longer
        counts[name] = {"photos": len(records), "long": long}
    return counts


def group_photos(photos: list, seed: int = 0) -> list[dict]:
    """Frames of GRID placed photos each, from the (record, eyes) pairs whose eyes are known, one frame
    per seven photos: {"frame" (its name), "size", "spacing", "jpeg", "empty" (the frame without its
    faces), "faces": [(record, eyes in the frame)]}. Frames and spacings take turns."""
    rng = np.random.default_rng(seed)
    photos = [p for p in photos if p[1] is not None]
    photos = [photos[i] for i in rng.permutation(len(photos))]
    per_frame = GRID[0] * GRID[1]
    out = []
    for n, start in enumerate(range(0, len(photos) - per_frame, per_frame + 1)):
        size = FRAMES[n % len(FRAMES)]
        spacing = EYE_SPACINGS[(n // len(FRAMES)) % len(EYE_SPACINGS)]
        members, background = photos[start:start + per_frame], photos[start + per_frame][0]
        field = Image.open(background.path).convert("RGB").resize((16, 12)).resize(size, Image.BICUBIC)
        noisy = np.asarray(field, np.float32) + rng.normal(0, NOISE, (size[1], size[0], 3))
        empty = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
        frame, faces = empty.copy(), []
        for i, (record, eyes) in enumerate(members):
            image = Image.open(record.path).convert("RGB")
            scale = spacing * max(size) / float(np.linalg.norm(eyes[1] - eyes[0]))
            w, h = max(1, round(image.width * scale)), max(1, round(image.height * scale))
            centre = ((i % GRID[0] + 0.5) * size[0] / GRID[0], (i // GRID[0] + 0.5) * size[1] / GRID[1])
            corner = (int(centre[0] - w / 2), int(centre[1] - h / 2))
            frame.paste(image.resize((w, h), Image.BICUBIC), corner)
            faces.append((record, eyes * np.array([w / image.width, h / image.height]) + corner))
        out.append({"frame": f"{size[0]}x{size[1]}", "size": size, "spacing": spacing,
                    "jpeg": jpeg(frame, quality=90), "empty": jpeg(empty, quality=90), "faces": faces})
    return out


def read(classifier: GlassesClassifier, jpeg: bytes, version: int) -> tuple[list, tuple[int, ...], float]:
    """(the photo's crops, the reductions it was decoded at, seconds) with preprocessing ``version``'s detailed look."""
    with detail_view(version):
        photo = open_photo(jpeg)
        start = time.perf_counter()
        crops = classifier.crops(photo)
        return crops, photo.decoded, time.perf_counter() - start


def measure(classifier: GlassesClassifier, frames: list[dict]) -> dict:
    faces, others, empties = [], {t: 0 for t in VERSIONS}, []
    decodes = {(kind, t): {"photos": 0, "decodes": 0, "megapixels": 0.0, "seconds": 0.0}
               for kind in ("jpeg", "empty") for t in VERSIONS}
    for n, frame in enumerate(tqdm(frames, desc="composed frames", unit="frame", file=sys.stderr)):
        placed = {}
        for kind in ("jpeg", "empty"):
            for version in (VERSIONS if n % 2 == 0 else VERSIONS[::-1]):  # the two take turns going first
                crops, used, seconds = read(classifier, frame[kind], version)
                width, height = frame["size"]
                d = decodes[kind, version]
                d["photos"] += 1
                d["decodes"] += len(used)
                d["megapixels"] += sum(width * height / r ** 2 for r in used) / 1e6
                d["seconds"] += seconds
                found = [c for c in crops if c.face is not None]
                if kind == "empty":
                    empties.append({"frame": frame["frame"], "version": version, "faces": len(found)})
                    continue
                matched = [right_face(found, eyes) for _, eyes in frame["faces"]]
                others[version] += sum(all(c is not m for m in matched) for c in found)
                placed[version] = [None if c is None else probability(classifier, c) for c in matched]
        for i, (record, _) in enumerate(frame["faces"]):
            faces.append({"frame": frame["frame"], "spacing": frame["spacing"], "label": record.label,
                          **{f"p{t}": placed[t][i] for t in VERSIONS}})
    return summary(faces, others, empties, decodes, classifier.threshold)


def summary(faces: list[dict], others: dict, empties: list[dict], decodes: dict, threshold: float) -> dict:
    def counts(rows: list[dict]) -> dict:
        row = {"faces": len(rows), "with_glasses": sum(r["label"] == 1 for r in rows)}
        for t in VERSIONS:
            p = [(r[f"p{t}"], r["label"]) for r in rows if r[f"p{t}"] is not None]
            row[f"found{t}"] = len(p)
            row[f"right{t}"] = sum((q >= threshold) == (label == 1) for q, label in p)
        both = [r for r in rows if all(r[f"p{t}"] is not None for t in VERSIONS)]
        moves = [abs(r[f"p{VERSIONS[0]}"] - r[f"p{VERSIONS[1]}"]) for r in both]
        row["found_by_one"] = sum(sum(r[f"p{t}"] is not None for t in VERSIONS) == 1 for r in rows)
        row["answers_differ"] = sum((r[f"p{VERSIONS[0]}"] >= threshold) != (r[f"p{VERSIONS[1]}"] >= threshold) for r in both)
        row["largest_move"] = round(max(moves, default=0.0), 4)
        return row
    table = [{"frame": f"{w}x{h}", "spacing": s, **counts([r for r in faces if r["frame"] == f"{w}x{h}" and r["spacing"] == s])}
             for w, h in FRAMES for s in EYE_SPACINGS]
    empty = {f"{w}x{h}": {t: sum(e["faces"] for e in empties if e["frame"] == f"{w}x{h}" and e["version"] == t)
                          for t in VERSIONS} for w, h in FRAMES}
    frames = {f"{w}x{h}": sum(1 for e in empties if e["frame"] == f"{w}x{h}") // len(VERSIONS) for w, h in FRAMES}
    return {"versions": list(VERSIONS), "threshold": threshold, "table": table, "all": counts(faces),
            "other_faces": {str(t): n for t, n in others.items()},
            "empty_frames": frames, "empty_faces": {k: {str(t): n for t, n in v.items()} for k, v in empty.items()},
            "cost": [{"photos": "group photos" if kind == "jpeg" else "frames without their faces", "version": t,
                      "decodes_per_photo": round(d["decodes"] / d["photos"], 3),
                      "megapixels_per_photo": round(d["megapixels"] / d["photos"], 3),
                      "seconds": round(d["seconds"], 2)} for (kind, t), d in decodes.items()]}


def markdown(r: dict, command: str) -> str:
    a, b = r["versions"]
    lines = [f"# The detailed look's view: one decoded twice its input long (preprocessing {a}) or the first look's "
             f"when long enough ({b}, the product)", "",
             f"`{command}`", "",
             "Group photos composed from validation photos (six to a frame, eyes 3, 4.5 or 6 % of the frame's longer "
             "side apart, on a smooth colour field with noise: the faces only the detailed look finds), through the "
             f"product's preprocessing with the detailed look reading its 384 px input as preprocessing {a} or {b} did; "
             "a face is found when a crop's eyes lie within a quarter of an eye distance of the placed eyes, in order; "
             f"answers at the model's threshold ({r['threshold']:.4f}) against the datasets' labels.", "",
             f"| frame | eye spacing | faces | with glasses | found ({a}) | found ({b}) | right answers ({a}) "
             f"| right answers ({b}) | found by one only | answers that differ | largest probability move |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for t in r["table"] + [{**r["all"], "frame": "all", "spacing": None}]:
        spacing = "" if t["spacing"] is None else f"{t['spacing']:.3f}"
        lines.append(f"| {t['frame']} | {spacing} | {t['faces']} | {t['with_glasses']} | {t[f'found{a}']} | "
                     f"{t[f'found{b}']} | {t[f'right{a}']} | {t[f'right{b}']} | {t['found_by_one']} | "
                     f"{t['answers_differ']} | {t['largest_move']:.4f} |")
    lines += ["", f"Other faces found in the group photos (none placed there: faces in the placed photos' own "
              f"backgrounds, or false ones): {r['other_faces'][str(a)]} ({a}), {r['other_faces'][str(b)]} ({b}).", "",
              "The same frames without their faces:", "",
              f"| frame | frames | faces found ({a}) | faces found ({b}) |", "|---|---|---|---|"]
    lines += [f"| {k} | {r['empty_frames'][k]} | {v[str(a)]} | {v[str(b)]} |" for k, v in r["empty_faces"].items()]
    if "long_photos" in r:
        lines += ["", "The datasets' own photos the two could read differently (768 px long or more, from their headers):", "",
                  "| dataset | photos | 768 px or longer |", "|---|---|---|"]
        lines += [f"| {name} | {c['photos']:,} | {c['long']} |" for name, c in r["long_photos"].items()]
    lines += ["", "What reading them cost (the preprocessing alone, no classifier):", "",
              "| photos | preprocessing | decodes per photo | megapixels decoded per photo | seconds, all of them |",
              "|---|---|---|---|---|"]
    lines += [f"| {c['photos']} | {c['version']} | {c['decodes_per_photo']:.2f} | {c['megapixels_per_photo']:.2f} | "
              f"{c['seconds']:.1f} |" for c in r["cost"]]
    return "\n".join(lines) + "\n"


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_report_arguments(parser, "detail_decode_study")
    add_photo_arguments(parser)
    args = parser.parse_args(argv)
    report = measure(GlassesClassifier(args.model), group_photos(validation_photos(args.data, args.per_class)))
    report["long_photos"] = long_photos(args.data)
    write_report(args.out, "detail_decode_study", report, markdown(report, command_line("detail_decode_study.py", argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
