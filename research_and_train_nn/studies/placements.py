"""Real faces placed in other photos: the same face at other sizes, positions and company.

Used by the face-in-any-photo test and the refinement study (MTFL's AFLW test photos, with
annotated eyes) and by compare_runs.py (validation photos): a face's answer must depend on the
face, not on the rest of the photo. Every placement is encoded as a JPEG, as users send photos.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from research_and_train_nn.data.datasets import load_mtfl, mtfl_eyes

GREY = (118, 118, 118)


@dataclass
class Placement:
    name: str
    jpeg: bytes
    eyes: np.ndarray  # (2, 2) annotated eyes (image-left first) in the placed photo's pixels


def jpeg(image: Image.Image, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def aflw_faces(mtfl_root: str | Path, count: int = 60) -> list[tuple[Image.Image, np.ndarray]]:
    """(photo, annotated eyes) for ``count`` AFLW test photos spread over the list, half with glasses."""
    eyes = mtfl_eyes(mtfl_root, "test")
    return spread_faces([(r.path, r.label) for r in load_mtfl(mtfl_root, "test")], eyes, count)


def spread_faces(photos: list[tuple[str, int]], eyes: dict, count: int) -> list[tuple[Image.Image, np.ndarray]]:
    """(photo, annotated eyes) for ``count`` of ``photos`` ((path, label), with eyes in ``eyes``),
    spread over the list, half with glasses (label 1)."""
    chosen = []
    for label in (1, 0):
        pool = [path for path, y in photos if y == label and path in eyes]
        chosen += pool[:: max(1, len(pool) // (count // 2))][: count // 2]
    return [(Image.open(path).convert("RGB"), np.array(eyes[path])) for path in chosen]


def placements(face: Image.Image, eyes: np.ndarray, other: Image.Image) -> list[Placement]:
    """The face alone, then in a wider canvas at the right edge, a taller one at the top, the
    middle of 1280x960, a fifth of a 4032x3024 phone frame, and beside another face."""
    w, h = face.size
    out = [Placement("alone", jpeg(face), eyes)]
    for name, size, corner, scale in (
            ("wide canvas, right edge", (3 * w, h), (2 * w, 0), 1.0),
            ("tall canvas, top edge", (w, 3 * h), (0, 0), 1.0),
            ("middle of 1280x960", (1280, 960), ((1280 - w) // 2, (960 - h) // 2), 1.0),
            ("a fifth of a 4032x3024 frame", (4032, 3024), (2500, 900), 4032 / 5 / w)):
        canvas = Image.new("RGB", size, GREY)
        canvas.paste(face.resize((round(w * scale), round(h * scale)), Image.BICUBIC) if scale != 1 else face,
                     corner)
        out.append(Placement(name, jpeg(canvas), eyes * scale + np.array(corner)))
    pair = Image.new("RGB", (w + other.width, max(h, other.height)), GREY)
    pair.paste(other, (0, 0))
    pair.paste(face, (other.width, 0))
    out.append(Placement("beside another face", jpeg(pair), eyes + np.array([other.width, 0])))
    return out


def into_placement(alone: Placement, placement: Placement, points) -> np.ndarray:
    """Points (N, 2) of the face-alone photo in the placement's pixels: a placement only scales
    and shifts the face, which the annotated eyes of the two give."""
    scale = np.linalg.norm(placement.eyes[1] - placement.eyes[0]) / np.linalg.norm(alone.eyes[1] - alone.eyes[0])
    return np.asarray(points, dtype=np.float64) * scale + (placement.eyes[0] - alone.eyes[0] * scale)


def face_at(crops, eyes: np.ndarray):
    """The crop whose eyes are nearest the annotated ones, if within half an eye distance of
    them (None: the face was not found)."""
    found = [c for c in crops if c.face is not None]
    if not found:
        return None

    def distance(crop):
        return np.linalg.norm(np.array([crop.face.right_eye, crop.face.left_eye]) - eyes, axis=1).max()
    best = min(found, key=distance)
    return best if distance(best) <= 0.5 * np.linalg.norm(eyes[1] - eyes[0]) else None


def eye_error(crop, eyes: np.ndarray, scale: float, centre_shift: float) -> float:
    """How far the annotated eyes land from where the crop promises them, in crop sides (worse eye)."""
    y = 0.5 - centre_shift / scale
    promised = np.array([[0.5 - 0.5 / scale, y], [0.5 + 0.5 / scale, y]])
    return float(np.linalg.norm(crop.geometry.to_crop(eyes) - promised, axis=1).max())


def placed_crops(crops_of, faces):
    """For each face placed elsewhere: (the face alone, the placement, the face's crop in its own
    photo, the crop found in the placement); either crop is None when the face was not found
    (the placement is not looked at when the face alone was not found). ``crops_of(jpeg)``
    gives a photo's FaceCrops (``GlassesClassifier.crops``, or preprocess with a CropConfig)."""
    for i, (face, eyes) in enumerate(faces):
        alone, *placed = placements(face, eyes, faces[(i + 1) % len(faces)][0])
        base = face_at(crops_of(alone.jpeg), alone.eyes)
        for placement in placed:
            found = face_at(crops_of(placement.jpeg), placement.eyes) if base is not None else None
            yield alone, placement, base, found


def probability(classifier, crop) -> float:
    """The classifier's probability of glasses for one crop, alone in its batch."""
    return float(classifier.predict_crops(crop.pixels[None])[0])

