"""The model runtime: photo -> faces -> crops -> LiteRT classifier -> answers. No TensorFlow."""
from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import ModelConfig
from .crop import FaceCrop, preprocess
from .errors import ModelError
from .image_io import ImageSource, Photo, open_photo
from .litert import make_interpreter
from .locate import Detectors
from .tflite_metadata import KIND_OUTPUT_NAME, OUTPUT_NAME, read_config

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "glasses.json"


NO_FACE = "no_face"  # a photo's answer when no face was found in it (PhotoResult.guessed: the fallback's)


@dataclass(frozen=True)
class FaceResult:
    """One face: its box, probability of glasses and answer; or, with ``box`` None, the model's
    guess on the no-face fallback crop (a centre square, see crop.py)."""
    box: tuple[float, float, float, float] | None
    probability: float
    answer: str
    score: float | None = None  # face detector confidence
    kind: str | None = None  # with glasses, which ("clear" or "dark") when the model says; else None
    dark_probability: float | None = None  # P(dark | glasses), when the model says which glasses

    def to_dict(self) -> dict:
        return {"box": None if self.box is None else [round(v, 1) for v in self.box],
                "probability": round(self.probability, 6), "answer": self.answer,
                "score": None if self.score is None else round(self.score, 4), "kind": self.kind,
                "dark_probability": None if self.dark_probability is None else round(self.dark_probability, 6)}


@dataclass(frozen=True)
class PhotoResult:
    """A photo's answer: "glass" when any face wears glasses, "no_glass" when none does, and
    "no_face" when no face was found; ``guessed()`` answers such a photo from its fallback crop."""
    answer: str
    probability: float | None  # highest face probability; None when no face was found
    faces: list[FaceResult] = field(default_factory=list)  # the faces found, largest first
    face_found: bool = True
    fallback: FaceResult | None = None  # no face found: the model's guess on the fallback centre crop
    kind: str | None = None  # the kind of glasses of the face that decided a "glass" answer (most likely to wear them)

    def guessed(self) -> "PhotoResult":
        """This result; for a photo without a face, the fallback crop's guess as its answer
        (``face_found`` stays False: the answer is a guess, not a face's)."""
        if self.fallback is None or self.face_found:
            return self
        return dataclasses.replace(self, answer=self.fallback.answer, probability=self.fallback.probability,
                                   kind=self.fallback.kind)

    def to_dict(self) -> dict:
        return {"answer": self.answer,
                "probability": None if self.probability is None else round(self.probability, 6),
                "kind": self.kind, "face_found": self.face_found, "faces": [f.to_dict() for f in self.faces],
                "fallback": None if self.fallback is None else self.fallback.to_dict()}


MODEL_FILES = ("a model's .json (as models/glasses.json) or a .tflite file (with its metadata inside it, "
               "or its .json beside it)")


def resolve_model(model: str | Path | None) -> tuple[Path, ModelConfig]:
    """(tflite path, its config) from a ``.json`` metadata file or a ``.tflite`` file: the
    ``.json`` beside it when there is one, else the metadata stored inside it."""
    path = Path(model) if model is not None else DEFAULT_MODEL
    if path.suffix == ".json":
        config = ModelConfig.load(path)
        if not config.tflite:
            raise ModelError(f"{path}: no 'tflite' file named in the metadata")
        tflite = path.parent / config.tflite
        if not tflite.is_file():
            raise ModelError(f"{tflite}: model file not found")
        return tflite, config
    if path.suffix != ".tflite":
        raise ModelError(f"{path}: the runtime takes {MODEL_FILES}; convert a training run's "
                         f"model.keras with converters/convert_all.py RUN_DIR")
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    if path.with_suffix(".json").is_file():
        return path, ModelConfig.load(path.with_suffix(".json"))
    config = read_config(path)
    if config is None:
        raise ModelError(f"{path}: no metadata: no {path.with_suffix('.json').name} beside it and none "
                         f"inside it (converters/convert_all.py writes both)")
    return path, dataclasses.replace(config, tflite=path.name)


class GlassesClassifier:
    """Detects faces and says, for each, whether it wears glasses.

    ``model``: a ``.json`` metadata file or a ``.tflite`` file (its ``.json`` beside it, or
    its metadata inside it); default: the shipped model. ``threshold`` overrides the one stored with the model.
    """

    def __init__(self, model: str | Path | None = None, threshold: float | None = None,
                 num_threads: int = 1):
        self.model_path, self.config = resolve_model(model)
        self.threshold = self.config.threshold if threshold is None else float(threshold)
        self._num_threads = num_threads
        self._local = threading.local()  # one interpreter per thread: LiteRT's are not thread-safe
        self._detectors = Detectors(self.config.crop, num_threads)
        self._interpreter()

    @property
    def version(self) -> str:
        return self.config.version

    @property
    def model_id(self) -> str:
        """What tells this model from others: version plus weights digest (the version alone
        for a model exported before model ids)."""
        return self.config.identity

    @property
    def input_format(self) -> str:
        """What the model file takes, read from it: RGB crops of 0-255 as uint8 (an int8 file)
        or as float32 (a float32 or float16 file)."""
        dtype = np.dtype(self._interpreter().get_input_details()[0]["dtype"]).name
        return f"RGB {dtype} 0-255, rescaled inside the model"

    def _interpreter(self):
        if getattr(self._local, "interpreter", None) is None:
            self._local.interpreter = make_interpreter(self.model_path, self._num_threads)
            self._local.batch = 1
        return self._local.interpreter

    @property
    def kinds(self) -> tuple[str, ...]:
        """The second answer's kinds ("clear", "dark") when the model says which glasses; else ()."""
        return self.config.kinds if self._kind_output() is not None else ()

    def predict_crops(self, crops: np.ndarray) -> np.ndarray:
        """Probability of glasses for a batch of crops, (N, size, size, 3) uint8 -> (N,)."""
        return self.predict_crops_and_kinds(crops)[0]

    def predict_crops_and_kinds(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(P(glasses), P(dark | glasses) or None for a model without the second answer), each (N,)."""
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != (self.config.crop.size, self.config.crop.size, 3):
            raise ValueError(f"crops must be (N, {self.config.crop.size}, {self.config.crop.size}, 3), "
                             f"got {crops.shape}")
        if len(crops) == 0:
            return np.zeros(0, dtype=np.float32), (np.zeros(0, dtype=np.float32) if self.kinds else None)
        interpreter = self._interpreter()
        inp = interpreter.get_input_details()[0]
        if self._local.batch != len(crops):
            interpreter.resize_tensor_input(inp["index"], [len(crops), *crops.shape[1:]])
            interpreter.allocate_tensors()
            self._local.batch = len(crops)
            inp = interpreter.get_input_details()[0]
        interpreter.set_tensor(inp["index"], _quantize(crops, inp))
        interpreter.invoke()
        read = lambda out: _dequantize(interpreter.get_tensor(out["index"]), out).reshape(len(crops))  # noqa: E731
        kind = self._kind_output()
        return read(self._glasses_output()), None if kind is None or not self.config.kinds else read(kind)

    def _glasses_output(self) -> dict:
        outputs = self._interpreter().get_output_details()
        return next((o for o in outputs if o["name"] == OUTPUT_NAME), outputs[0])

    def _kind_output(self) -> dict | None:
        """The output of P(dark | glasses), when the file has one (and its metadata its kinds)."""
        if not self.config.kinds:
            return None
        return next((o for o in self._interpreter().get_output_details() if o["name"] == KIND_OUTPUT_NAME), None)

    def crops(self, photo: Photo | ImageSource | np.ndarray) -> list[FaceCrop]:
        """The model inputs for a photo (the core's one preprocessing function)."""
        return preprocess(photo, self._detectors, self.config.crop)

    def predict(self, source, name: str | None = None) -> PhotoResult:
        """Answer for one photo: a path, encoded bytes, a PIL image, an RGB uint8 array or a
        Photo. Paths and bytes decode only the pixels the answer needs (a JPEG at 1/8 size
        when its faces are large enough). A photo without a face answers "no_face" (its
        ``guessed()`` gives the fallback crop's answer)."""
        return self.predict_many([source], [name])[0]

    def predict_many(self, sources, names=None) -> list[PhotoResult]:
        """Answers for many photos, with the classifier run once on all their crops."""
        names = names or [None] * len(sources)
        per_photo = [self.crops(open_photo(s, n)) for s, n in zip(sources, names)]
        glasses, dark = self.predict_crops_and_kinds(np.stack([c.pixels for crops in per_photo for c in crops]))
        answers = iter(zip(glasses.tolist(), [None] * len(glasses) if dark is None else dark.tolist()))
        return [self._photo_result(crops, [next(answers) for _ in crops]) for crops in per_photo]

    def answer(self, probability: float) -> str:
        return self.config.labels[1] if probability >= self.threshold else self.config.labels[0]

    def kind(self, probability: float, dark: float | None) -> str | None:
        """Which glasses a face with ``probability`` of glasses and ``dark`` = P(dark | glasses)
        wears: None when it wears none or the model does not say."""
        if dark is None or probability < self.threshold or not self.config.kinds:
            return None
        return self.config.kinds[1] if dark >= self.config.kind_threshold else self.config.kinds[0]

    def _face_result(self, crop: FaceCrop, probability: float, dark: float | None) -> FaceResult:
        return FaceResult(box=None if crop.face is None else crop.face.box, probability=probability,
                          answer=self.answer(probability), score=None if crop.face is None else crop.face.score,
                          kind=self.kind(probability, dark), dark_probability=dark)

    def _photo_result(self, crops: list[FaceCrop], answers: list[tuple[float, float | None]]) -> PhotoResult:
        if crops[0].face is None:  # preprocess() gives one fallback crop when it finds no face
            return PhotoResult(answer=NO_FACE, probability=None, face_found=False,
                               fallback=self._face_result(crops[0], *answers[0]))
        faces = [self._face_result(c, p, d) for c, (p, d) in zip(crops, answers)]
        decider = max(faces, key=lambda f: f.probability)
        return PhotoResult(answer=decider.answer, probability=decider.probability, faces=faces, kind=decider.kind)


def _quantize(crops: np.ndarray, detail: dict) -> np.ndarray:
    dtype = detail["dtype"]
    if dtype == np.float32:
        return crops.astype(np.float32)
    scale, zero = detail["quantization"]
    if dtype == np.uint8 and scale == 1.0 and zero == 0:
        return crops.astype(np.uint8)
    info = np.iinfo(dtype)
    return np.clip(np.round(crops / scale + zero), info.min, info.max).astype(dtype)


def _dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return values.astype(np.float32)
    scale, zero = detail["quantization"]
    return ((values.astype(np.float32) - zero) * scale).astype(np.float32)
