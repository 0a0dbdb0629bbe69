"""Consistency training: the same face, cut a little differently, should get the same answer.

The face-in-any-photo measurement (issue 11) found that what moves a face's probability between
photos is mostly where the face mesh puts its eyes: 1.6 % of the eye distance apart in the
median, 3.9 % at the 90th percentile. With the eyes the face got alone, only 2 of 300 placed
faces moved by more than 0.05; with the eyes found in the placement, 15 did. A model that
answers the same under such small moves of the crop is what the crop cannot give.

With ``TrainConfig.consistency`` = w > 0, each training batch of n crops becomes 2n: the
augmented crops, then each one again, moved by about a refiner's error (``jittered``). The
loss is binary cross-entropy over all 2n plus w times the squared difference between the two
logits of each pair.
"""
from __future__ import annotations

import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

# About a refiner's error, in crop sides (the crop is 2.4 eye distances wide): the eye moves'
# 90th percentile is 3.9 % of the eye distance, 1.6 % of the crop's side.
SHIFT = 0.02
SCALE = 0.03
DEGREES = 2.0


def jittered(images: np.ndarray, seed: int) -> np.ndarray:
    """Each (H, W, 3) uint8 image moved by up to SHIFT of its side, scaled by up to SCALE and
    turned by up to DEGREES (black beyond the edges), reproducibly for ``seed``."""
    move = A.Compose([A.Affine(translate_percent=(-SHIFT, SHIFT), scale=(1 - SCALE, 1 + SCALE),
                               rotate=(-DEGREES, DEGREES), border_mode=0, p=1.0)], seed=seed)
    return np.stack([move(image=image)["image"] for image in images])


@keras.saving.register_keras_serializable(package="glasses")
class ConsistentBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy on logits, plus ``weight`` times the squared difference of the
    logits of rows i and i + n of a batch of 2n (a crop and its moved copy)."""

    def __init__(self, weight: float, label_smoothing: float = 0.0, name: str = "consistent_bce", **kwargs):
        super().__init__(name=name, **kwargs)
        self.weight, self.label_smoothing = float(weight), float(label_smoothing)
        self._bce = keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=label_smoothing,
                                                    reduction=None)

    def call(self, y_true, y_pred):
        logits = keras.ops.reshape(y_pred, (-1,))
        bce = self._bce(keras.ops.reshape(y_true, (-1, 1)), keras.ops.reshape(logits, (-1, 1)))
        first, second = keras.ops.split(logits, 2)
        gap = keras.ops.square(first - second)
        return bce + self.weight * keras.ops.concatenate([gap, gap])

    def get_config(self) -> dict:
        return {**super().get_config(), "weight": self.weight, "label_smoothing": self.label_smoothing}
