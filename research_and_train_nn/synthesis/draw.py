"""Glasses drawn onto real face photos, as a training data source (after MeGlass's authors:
Guo et al., "Face synthesis for eyeglass-robust face recognition", 2018).

    image, style = draw_glasses(photo, right_eye, left_eye, rng)            # label 1
    image, style = draw_forehead_glasses(photo, right_eye, left_eye, rng)   # label 0 (pushed up)

The glasses are drawn at the photo's resolution, before the crop, from the eye keypoints
(the subject's right eye first, as in ``glasses_core.face_detect.Face``), following the face's
roll (the eye line), scale (the eye distance) and yaw (estimated from the nose, when given).
Masks are drawn at ``SUPERSAMPLE`` times the photo's resolution and averaged down, so every
edge is anti-aliased. ``STYLES`` holds the designs; the ``held_out`` ones, and seeds from
``synthesis_rng(..., "validation")``, are for a synthetic validation set only.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np

from research_and_train_nn.data.datasets import Record
from research_and_train_nn.synthesis.render import FacePose, glasses_parts, lowest_point, reach_below, render
from research_and_train_nn.synthesis.styles import SAMPLERS, GlassesSpec

EYE_CLEARANCE = 0.35  # forehead glasses end at least this far above the eye line...
MAX_GAP = 0.5  # ...and at most this much further up (eye distances)


@dataclass(frozen=True)
class Style:
    """A glasses design: ``sample(rng)`` draws one pair; ``held_out`` styles are never trained on."""
    name: str
    sample: Callable[[np.random.Generator], GlassesSpec]
    held_out: bool = False


HELD_OUT = ("cat_eye", "star")  # for the synthetic validation set: designs training never sees
STYLES = {name: Style(name, sample, name in HELD_OUT) for name, sample in SAMPLERS.items()}
TRAINING_STYLES = tuple(name for name, style in STYLES.items() if not style.held_out)
VALIDATION_STYLES = tuple(name for name, style in STYLES.items() if style.held_out)
SPLIT_STREAMS = {"train": 0, "validation": 1}


def synthesis_rng(seed: int, index: int, split: str) -> np.random.Generator:
    """The random stream of the ``index``-th synthesised photo; training and validation streams
    never coincide, whatever the seed."""
    return np.random.default_rng([seed, index, SPLIT_STREAMS[split]])




def draw_glasses(image: np.ndarray, right_eye, left_eye, rng: np.random.Generator,
                 style: str | None = None, nose=None) -> tuple[np.ndarray, str]:
    """``image`` with glasses worn over the eyes (label 1), and the style drawn.

    ``right_eye``, ``left_eye``: (x, y) pixels, the subject's right eye first (on the image's
    left in a frontal photo); ``nose``: the nose tip, for the yaw (frontal when None).
    ``style``: a name in ``STYLES``, or None for a random training style.
    """
    name = _style_name(style, rng)
    spec = STYLES[name].sample(rng)
    return render(image, FacePose.from_eyes(right_eye, left_eye, nose), spec, rng), name


def draw_forehead_glasses(image: np.ndarray, right_eye, left_eye, rng: np.random.Generator,
                          style: str | None = None, nose=None) -> tuple[np.ndarray, str]:
    """A hard negative (label 0): glasses pushed up onto the forehead or into the hair, tipped
    back (shorter), ending ``EYE_CLEARANCE`` to ``EYE_CLEARANCE + MAX_GAP`` eye distances above
    the eyes, so the eye region stays untouched while the model's crop (1.2 eye distances above
    the eyes) often shows them. Returns the image and ``"forehead:" + style``."""
    name = _style_name(style, rng)
    spec = STYLES[name].sample(rng)
    squash = rng.uniform(0.55, 0.85)
    lowest = lowest_point(glasses_parts(spec)) * squash
    pose = FacePose.from_eyes(right_eye, left_eye, nose)
    lift = lowest + EYE_CLEARANCE + reach_below(pose.eye_distance) + rng.uniform(0.0, MAX_GAP)
    return render(image, dataclasses.replace(pose, lift=lift, squash=squash), spec, rng), f"forehead:{name}"


def _style_name(style: str | None, rng: np.random.Generator) -> str:
    if style is None:
        return TRAINING_STYLES[int(rng.integers(len(TRAINING_STYLES)))]
    if style not in STYLES:
        raise ValueError(f"unknown glasses style {style!r}; choose one of {sorted(STYLES)}")
    return style


def synthesis_sources(records: list[Record], train_idx, landmarks: dict) -> list[tuple[Record, tuple]]:
    """The photos glasses may be drawn on: training-side (``train_idx``, from
    ``split_by_identity``) photos without glasses (label 0) whose landmarks are known
    (``landmarks``: path -> (image-left eye, image-right eye, nose, ...), as ``mtfl_landmarks``
    gives). Validation and test photos are never sources."""
    chosen = (records[i] for i in np.asarray(train_idx))
    return [(r, landmarks[r.path]) for r in chosen if r.label == 0 and r.path in landmarks]
