"""Hard photos composed from real ones: close-ups the frame cuts, tilted and upside-down heads,
mirror images, photos cut as tightly as AFLW's.

Phone selfies are where people look first, and they are hard in ways the datasets' photos are
not: the frame cuts the forehead or the chin, the head is tilted or lying on its side. Each real
photo (with annotated eyes) is turned into such cases and encoded as a JPEG, as users send photos;
the eyes are carried along, so whoever finds a face can be told whether it found the right one.
Used by studies/hard_cases.py (faces found and answers, through the product), by
studies/tight_frame_study.py (photos cut as tightly as AFLW's: ``tight_frame``) and by
compare_runs.py (validation answers of each run).
"""
from __future__ import annotations

import io
import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image

from glasses_core import Detectors, preprocess
from research_and_train_nn.data.crop_cache import crop_key
from research_and_train_nn.data.datasets import CELEBA_ALIGNED_EYES, Record
from research_and_train_nn.data.npz_cache import cached_arrays

CLOSE_UP_WIDTH = 480  # a close-up is enlarged to this many pixels wide, as a phone would show it
# (name, (above, below, half width) in eye distances from the eyes' midpoint): the frame of each close-up
CUTS = (("forehead cut", (0.3, 2.4, 1.6)), ("chin cut", (1.6, 1.0, 1.6)), ("forehead and chin cut", (0.45, 1.1, 1.25)))
TURNS = (("tilted 30 degrees", 30), ("tilted 60 degrees", 60), ("on its side", 90), ("on its other side", -90),
         ("upside down", 180))
# a tightly cut photo's frame, drawn per photo: (side, eyes' midpoint across, eyes' midpoint down), each
# uniform in its range; around the median framing of MTFL's AFLW pool (studies/tight_frame_study.py
# measures it: a square 3.35 eye distances wide, the eyes 1.13 of them below its top edge)
TIGHT = {"side": (3.0, 3.8), "x": (0.44, 0.56), "y": (0.28, 0.40)}
CASES = tuple(name for name, _ in CUTS) + tuple(name for name, _ in TURNS) + ("mirrored",)


@dataclass
class Composed:
    case: str
    record: Record
    jpeg: bytes
    eyes: np.ndarray  # (2, 2): the subject's right eye, then the left one, in the composed photo's pixels


def photo_eyes(record: Record, mtfl_eyes: dict) -> np.ndarray | None:
    """The subject's right and left eye of a record: MTFL's annotation (its first eye is the image's
    left, the subject's right), CelebA's aligned positions; None when unknown."""
    if record.path in mtfl_eyes:
        return np.asarray(mtfl_eyes[record.path], dtype=np.float64)
    if record.source == "celeba":
        with Image.open(record.path) as image:
            return np.asarray(CELEBA_ALIGNED_EYES, dtype=np.float64) * image.size
    return None


def compose(record: Record, eyes: np.ndarray) -> list[Composed]:
    """Every case of CASES made from one photo."""
    image = Image.open(record.path).convert("RGB")
    out = [Composed(name, record, _jpeg(c), e) for name, (c, e) in
           [(name, close_up(image, eyes, *frame)) for name, frame in CUTS] +
           [(name, turned(image, eyes, degrees)) for name, degrees in TURNS]]
    mirrored = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    # the mirror image's subject has the photo's left eye as its right one
    out.append(Composed("mirrored", record, _jpeg(mirrored),
                        np.stack([[image.width - eyes[1, 0], eyes[1, 1]], [image.width - eyes[0, 0], eyes[0, 1]]])))
    return out


def as_photographed(record: Record, eyes: np.ndarray) -> Composed:
    """The photo itself, encoded as the cases are: what they are measured against."""
    return Composed("as photographed", record, _jpeg(Image.open(record.path).convert("RGB")), eyes)


def close_up(image: Image.Image, eyes: np.ndarray, above: float, below: float, half: float):
    """The photo framed ``above`` eye distances over the eyes' midpoint to ``below`` under it and
    ``half`` to each side, enlarged to CLOSE_UP_WIDTH (the frame cuts the face where it says)."""
    centre, distance = eyes.mean(0), float(np.linalg.norm(eyes[1] - eyes[0]))
    box = np.array([centre[0] - half * distance, centre[1] - above * distance,
                    centre[0] + half * distance, centre[1] + below * distance])
    scale = CLOSE_UP_WIDTH / (box[2] - box[0])
    size = (CLOSE_UP_WIDTH, round((box[3] - box[1]) * scale))
    return image.transform(size, Image.Transform.EXTENT, tuple(box), Image.Resampling.BICUBIC), (eyes - box[:2]) * scale


def tight_frame(image: Image.Image, eyes: np.ndarray, side: float, x: float, y: float, width: int = 150):
    """A square frame ``side`` eye distances wide with the eyes' midpoint at (``x``, ``y``) of its
    width and height, resized to ``width`` pixels (AFLW's photos are tight 150 x 150 squares: TIGHT);
    None where the frame leaves the photo (no black band that a tightly cut photo would not have)."""
    centre, distance = eyes.mean(0), float(np.linalg.norm(eyes[1] - eyes[0]))
    left, top = centre[0] - x * side * distance, centre[1] - y * side * distance
    box = np.array([left, top, left + side * distance, top + side * distance])
    if box[0] < 0 or box[1] < 0 or box[2] > image.width or box[3] > image.height:
        return None
    scale = width / (box[2] - box[0])
    return (image.transform((width, width), Image.Transform.EXTENT, tuple(box), Image.Resampling.BICUBIC),
            (eyes - box[:2]) * scale)


def turned(image: Image.Image, eyes: np.ndarray, degrees: float):
    """The whole photo turned ``degrees`` anticlockwise (the head tilts with it), corners black."""
    out = image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True)
    a = math.radians(degrees)
    d = eyes - np.array(image.size) / 2.0
    # y points down: an anticlockwise turn on screen is (x, y) -> (x cos + y sin, -x sin + y cos)
    moved = np.stack([d[:, 0] * math.cos(a) + d[:, 1] * math.sin(a), -d[:, 0] * math.sin(a) + d[:, 1] * math.cos(a)], 1)
    return out, moved + np.array(out.size) / 2.0


def right_face(crops, eyes: np.ndarray, within: float = 0.25):
    """The crop of the face whose eyes are within ``within`` eye distances of ``eyes`` (each eye,
    in order: a face read upside down has its eyes swapped and does not count); None if none."""
    return next((crop for crop in crops if crop.face is not None and right_face_of(crop.face, eyes, within)), None)


def right_face_of(face, eyes: np.ndarray, within: float = 0.25) -> bool:
    """Whether a Face's eyes are within ``within`` eye distances of ``eyes`` (each eye, in order)."""
    limit = within * float(np.linalg.norm(eyes[1] - eyes[0]))
    return bool(np.linalg.norm(np.array([face.right_eye, face.left_eye]) - eyes, axis=1).max() <= limit)


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def composed_crops(photos: list, config, workers: int = 2) -> dict[str, np.ndarray]:
    """Every case of every photo ((record, eyes) pairs), through the core's preprocess: "crops" of
    all their faces, "owner" (the composed photo of each crop), and per composed photo "label",
    "kind", "case" and "right_face" (found: data/composed.right_face). Cached."""
    def make() -> dict:
        with ProcessPoolExecutor(workers, initializer=_init, initargs=(config,)) as pool:
            per_photo = [row for rows in pool.map(_compose_and_crop, photos, chunksize=4) for row in rows]
        crops = [c for _, _, _, _, faces in per_photo for c in faces]
        return {"crops": np.stack(crops), "owner": np.array([i for i, row in enumerate(per_photo) for _ in row[4]]),
                "label": np.array([row[0] for row in per_photo]), "kind": np.array([row[1] for row in per_photo]),
                "case": np.array([row[2] for row in per_photo]), "right_face": np.array([row[3] for row in per_photo])}
    return cached_arrays("composed", [crop_key(config), CASES, [(r.path, e.tolist()) for r, e in photos]], make)


_worker: dict = {}


def _init(config) -> None:
    _worker.update(config=config, detectors=Detectors(config))


def _compose_and_crop(photo) -> list[tuple]:
    record, eyes = photo
    rows = []
    for case in compose(record, eyes):
        crops = preprocess(case.jpeg, _worker["detectors"], _worker["config"])
        rows.append((record.label, record.kind or "", case.case, right_face(crops, case.eyes) is not None,
                     [c.pixels for c in crops]))
    return rows
