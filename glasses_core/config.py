"""The model's settings: one frozen dataclass, saved as JSON next to every model file.

Every front end reads the same file, so none can preprocess differently from training.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError

KINDS = ("clear", "dark")  # which glasses: the second answer's kinds, in its output's order (P(dark))


@dataclass(frozen=True)
class CropConfig:
    """How a face becomes the classifier's input (see crop.py)."""
    size: int = 64  # output side in pixels: the model's input size
    scale: float = 2.4  # crop side as a multiple of the eye distance
    centre_shift: float = 0.0  # move the centre down from the eyes, in eye distances
    min_eye_distance: float = 4.0  # eyes closer than this (pixels) are not a usable face
    detector: str = "auto"  # "short", "full", or "auto": short-range, full-range when it finds none
    min_face_score: float = 0.5  # BlazeFace confidence needed to accept a face
    refine: str = "mesh"  # each face's eyes measured again on its own region (locate.py):
    #                       "mesh" (MediaPipe face mesh), "mesh_mirrored" (the mesh also on the
    #                       mirrored region, eyes averaged), "detector" (BlazeFace again) or "none"
    fallback_side: float = 0.6  # no face: a square of this fraction of the shorter image side...
    fallback_centre_y: float = 0.4  # ...centred horizontally, at this fraction of the height


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to use a trained model file; stored as ``<model>.json``."""
    crop: CropConfig = field(default_factory=CropConfig)
    input_format: str = "RGB uint8 0-255, rescaled inside the model"
    labels: tuple[str, str] = ("no_glass", "glass")  # output index -> answer
    threshold: float = 0.5  # probability of "glass" at or above which the answer is "glass"
    kinds: tuple[str, ...] = ()  # the second answer's kinds (KINDS) when the model has one
    kind_threshold: float = 0.5  # P(dark | glasses) at or above which glasses are "dark" (chosen on validation)
    version: str = "0.0.0"  # the release version; clean (1.2.3) for a shipped model
    model_id: str = ""  # which trained weights: "<version>+<sha256 of model.keras, 12 digits>"
    description: str = ""
    tflite: str = ""  # the TFLite file this metadata describes, relative to the JSON's folder

    @property
    def identity(self) -> str:
        """What tells two models apart: the model id, or the version when there is none."""
        return self.model_id or self.version

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        if not self.kinds:  # a one-answer model's file stays as it was before the second answer
            del data["kinds"], data["kind_threshold"]
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> "ModelConfig":
        data = read_json(path, "model metadata not found (expected next to the model file)")
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "ModelConfig":
        data = dict(data)
        crop = from_dict(CropConfig, data.pop("crop", {}), f"{source}: crop")
        for name in ("labels", "kinds"):
            if name in data and isinstance(data[name], list):
                data[name] = tuple(data[name])
        return from_dict(cls, {**data, "crop": crop}, source)


DIGEST_DIGITS = 12  # hex digits of the weights' sha256 in a model id: plenty to tell runs apart


def model_id(version: str, weights: str | Path) -> str:
    """A trained model's identity: its version and the sha256 of its weights file (``model.keras``)."""
    with open(weights, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return f"{version}+{digest[:DIGEST_DIGITS]}"


def read_json(path: str | Path, missing: str) -> dict:
    """A JSON settings file, or ConfigError saying ``missing`` or what is wrong with it."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: {missing}") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not valid JSON ({err})") from err


def from_dict(cls, data: dict, source: str):
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types are errors."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown}; known: {sorted(fields)}")
    for name, value in data.items():
        expected = _type_of(cls, name)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            continue
        if expected is not None and not isinstance(value, expected) or isinstance(value, bool) and expected is not bool:
            raise ConfigError(f"{source}: {name} must be {getattr(expected, '__name__', expected)}, "
                              f"got {value!r}")
    return cls(**data)


def _type_of(cls, name: str):
    default = next(f for f in dataclasses.fields(cls) if f.name == name)
    if default.default is not dataclasses.MISSING:
        return type(default.default)
    if default.default_factory is not dataclasses.MISSING:
        return type(default.default_factory())
    return None
