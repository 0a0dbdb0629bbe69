"""The committed vectors: ``vectors.json`` (every stage's numbers per photo, the model id and
PREPROCESS_VERSION they were made with) and ``crops/`` (each face's 64 x 64 crop as a PNG)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
from PIL import Image

from glasses_core import GlassesClassifier
from glasses_core.crop import PREPROCESS_VERSION

from conformance.stages import ROOT, run_core, suite_photos

SUITE = ROOT / "conformance"
VECTORS = SUITE / "vectors.json"
CROPS = SUITE / "crops"
COMMAND = "python3 conformance/make_vectors.py"


def make_vectors(classifier: GlassesClassifier | None = None, photos: list[str] | None = None) -> dict:
    """The vectors of every suite photo, crops as arrays (``write_vectors`` stores them as PNGs)."""
    classifier = classifier or GlassesClassifier()
    config = classifier.config
    return {"made_by": COMMAND, "model_id": config.identity, "preprocess_version": PREPROCESS_VERSION,
            "model": f"models/{config.tflite}", "threshold": classifier.threshold, "labels": list(config.labels),
            "kind_threshold": config.kind_threshold if config.kinds else None,
            "crop": dataclasses.asdict(config.crop),
            "photos": {photo: run_core(classifier, photo) for photo in photos or suite_photos()}}


def write_vectors(vectors: dict, path: Path = VECTORS, crops: Path = CROPS) -> None:
    crops.mkdir(parents=True, exist_ok=True)
    for stale in crops.glob("*.png"):
        stale.unlink()
    stored = json.loads(json.dumps({k: v for k, v in vectors.items() if k != "photos"}))
    stored["photos"] = {}
    for photo, record in vectors["photos"].items():
        faces = []
        for i, face in enumerate(record["faces"]):
            name = crops / f"{Path(photo).stem}_{i}.png"
            Image.fromarray(np.asarray(face["crop"], np.uint8)).save(name, optimize=True)
            faces.append({**face, "crop": str(name.relative_to(path.parent))})
        stored["photos"][photo] = {**record, "faces": faces}
    path.write_text(json.dumps(stored, indent=1) + "\n")


def load_vectors(path: Path = VECTORS) -> dict:
    """The committed vectors, each crop read back as an (64, 64, 3) uint8 array."""
    vectors = json.loads(path.read_text())
    for record in vectors["photos"].values():
        for face in record["faces"]:
            face["crop"] = np.asarray(Image.open(path.parent / face["crop"]).convert("RGB"))
    return vectors
