"""The core's pipeline, stage by stage, on one photo: what the vectors record and what a port
reports in the same shape (``check.py`` compares the two).

A photo's record (``run_core``): ``size`` (upright width, height); ``detections``, what the face
detector finds on the whole photo and in detail (``Detectors.detect``: box, score, six keypoints);
``refined``, each detection's eyes measured again (the refiner: subject's right eye, then left)
and ``presence``, how surely the face mesh saw an upright face there (a logit); ``faces``, the
usable faces largest first (``find_faces``: when no face of the upright look is trusted, the
photo is looked at again turned and widened, locate.py), each with its eyes, its crop geometry (centre, side,
angle), its crop (64 x 64 RGB), probability and answer (one fallback entry, box None, when there
is no face); and the photo's ``face_found``, ``answer`` (glasses when any face wears them) and
``probability`` (the highest).

Stage by stage (``run_stages``), each stage is fed the vectors' own input instead of the port's
previous stage, so that each is checked alone: the refiner gets the vectors' detections, the
geometry their eyes, the crop their geometry, the classifier their crops.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

import glasses_core.crop as crop_module
from glasses_core import GlassesClassifier, open_photo
from glasses_core.crop import crop_face, fallback_geometry
from glasses_core.face_detect import make_face
from glasses_core.geometry import CropGeometry
from glasses_core.locate import find_faces

ROOT = Path(__file__).resolve().parent.parent


def suite_photos() -> list[str]:
    """The suite's photos, relative to the repository: examples/ and the composed cases."""
    found = sorted(ROOT.glob("examples/*.jpg")) + sorted((ROOT / "conformance" / "photos").iterdir())
    return [str(p.relative_to(ROOT)) for p in found]


def run_core(classifier: GlassesClassifier, photo_path: str | Path) -> dict:
    """The record of one photo, from the core's own functions (the same calls ``preprocess``
    and ``predict`` make, their results kept on the way)."""
    photo = _open(photo_path)
    detectors, config = classifier._detectors, classifier.config.crop
    detections = detectors.detect(photo)
    refined = [detectors.refiner.refine(photo, face) for face in detections]
    faces = find_faces(photo, detectors, config) or [None]  # the upright look, and the second looks when it doubts
    crops = [crop_face(photo, face, config) for face in faces]
    probabilities, darks = _both(classifier, np.stack([c.pixels for c in crops]))
    decider = int(np.argmax(probabilities))
    return {
        "size": list(photo.size),
        "detections": [{"box": list(f.box), "score": f.score, "keypoints": [list(k) for k in f.keypoints]}
                       for f in detections],
        "refined": [[list(f.right_eye), list(f.left_eye)] for f in refined],
        "presence": [f.presence for f in refined],
        "faces": [face_record(c, p, classifier.answer(p), d, classifier.kind(p, d))
                  for c, p, d in zip(crops, probabilities, darks)],
        "face_found": faces[0] is not None,
        "answer": classifier.answer(max(probabilities)),
        "probability": max(probabilities),
        "kind": classifier.kind(probabilities[decider], darks[decider]),
    }


def _both(classifier: GlassesClassifier, crops: np.ndarray) -> tuple[list[float], list[float | None]]:
    """P(glasses) of each crop, and P(dark | glasses) (None each from a model that does not say which)."""
    glasses, dark = classifier.predict_crops_and_kinds(crops)
    return [float(p) for p in glasses], [None] * len(glasses) if dark is None else [float(d) for d in dark]


def run_stages(classifier: GlassesClassifier, photo_path: str | Path, expected: dict) -> dict:
    """Each stage of one photo fed the vectors' input for it (``expected``: the photo's vectors)."""
    photo = _open(photo_path)
    detectors, config = classifier._detectors, classifier.config.crop
    refined = [detectors.refiner.refine(photo, make_face(d["box"], d["keypoints"], d["score"]))
               for d in expected["detections"]]
    geometries = [fallback_geometry(photo.size[1], photo.size[0], config) if f["right_eye"] is None
                  else crop_module.eye_geometry(f["right_eye"], f["left_eye"], config) for f in expected["faces"]]
    crops = [crop_module.crop_pixels(photo, CropGeometry(tuple(f["geometry"]["centre"]), f["geometry"]["side"], f["geometry"]["angle"]),
                  config.size) for f in expected["faces"]]
    probabilities, darks = _both(classifier, np.stack([np.asarray(f["crop"], np.uint8) for f in expected["faces"]]))
    return {"detections": [{"box": list(f.box), "score": f.score} for f in detectors.detect(photo)],
            "refined": [[list(f.right_eye), list(f.left_eye)] for f in refined],
            "presence": [f.presence for f in refined],
            "geometry": [{"centre": list(g.centre), "side": g.side, "angle": g.angle} for g in geometries],
            "crops": crops, "probabilities": probabilities, "dark_probabilities": darks}


def _open(photo_path):
    return open_photo(Path(photo_path) if Path(photo_path).is_absolute() else ROOT / photo_path)


def face_record(crop, probability: float, answer: str, dark: float | None = None, kind: str | None = None) -> dict:
    face, geometry = crop.face, crop.geometry
    return {"box": None if face is None else list(face.box),
            "score": None if face is None else face.score,
            "presence": None if face is None else face.presence,
            "right_eye": None if face is None else list(face.right_eye),
            "left_eye": None if face is None else list(face.left_eye),
            "geometry": {"centre": list(geometry.centre), "side": geometry.side, "angle": geometry.angle},
            "crop": crop.pixels, "probability": probability, "answer": answer,
            "dark_probability": dark, "kind": kind}
