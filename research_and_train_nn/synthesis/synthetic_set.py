"""Opt-in training data from synthesis (``TrainConfig.synthesis_share``): a share of the
training photos without glasses, those whose landmarks MTFL annotates, is replaced by the same
photo with glasses drawn on (label 1) or pushed up onto the head (label 0, ``FOREHEAD_SHARE``
of them). The new photo goes through the core's ``preprocess``, like every photo, so a
synthesised crop is cut by the same detector as the real ones. Seeded by the run's seed and
the photo's place; only ever applied to the training side of the split.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from glasses_core import CropConfig, Detectors, load_image, preprocess
from research_and_train_nn.data.datasets import mtfl_landmarks
from research_and_train_nn.data.crops import CropSet
from research_and_train_nn.synthesis.draw import draw_forehead_glasses, draw_glasses, synthesis_rng

FOREHEAD_SHARE = 0.3  # of the synthesised photos: glasses pushed up (hard negatives, label 0)
SOURCE = "synthetic"  # the Record.source of a synthesised crop


def annotated_landmarks(datasets: tuple[str, ...]) -> dict:
    """MTFL's landmarks of every ``mtfl:PATH`` training pool (path -> points)."""
    points = {}
    for spec in datasets:
        kind, _, path = spec.partition(":")
        if kind == "mtfl":
            points.update(mtfl_landmarks(path, "train"))
    return points


def add_synthetic(train: CropSet, share: float, seed: int, crop: CropConfig, landmarks: dict) -> CropSet:
    """``train`` with ``share`` of its annotated no-glasses photos replaced by synthesised ones."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"synthesis share must be in [0, 1], got {share}")
    candidates = [i for i, r in enumerate(train.records)
                  if r.label == 0 and r.path in landmarks and train.face_found[i]]
    rng = np.random.default_rng([seed, len(candidates)])
    chosen = np.sort(rng.choice(candidates, int(round(share * len(candidates))), replace=False))
    records, crops = list(train.records), train.crops.copy()
    detectors = Detectors(crop)
    for i in chosen:
        synthesised = _synthesise(train.records[i].path, landmarks[train.records[i].path], seed, int(i),
                                  detectors, crop)
        if synthesised is not None:
            crops[i], label = synthesised
            records[i] = dataclasses.replace(train.records[i], label=label, source=SOURCE)
    return CropSet(records, crops, train.face_found, train.ok)


def _synthesise(path: str, points: tuple, seed: int, index: int, detectors: Detectors, crop: CropConfig):
    """(crop, label) of the photo at ``path`` with glasses drawn; None when no face is found then."""
    rng = synthesis_rng(seed, index, "train")
    negative = rng.uniform() < FOREHEAD_SHARE
    draw = draw_forehead_glasses if negative else draw_glasses
    image, _ = draw(load_image(Path(path)), points[0], points[1], rng, nose=points[2])
    face_crop = preprocess(image, detectors, crop)[0]
    return None if face_crop.face is None else (face_crop.pixels, 0 if negative else 1)
