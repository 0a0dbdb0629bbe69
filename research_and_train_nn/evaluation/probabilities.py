"""Probabilities of glasses for crops: from a Keras model, a run's model.keras, or an exported
model through the serving runtime."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def predict_probabilities(model, crops: np.ndarray) -> np.ndarray:
    """P(glasses) of each crop from a trained (logit) Keras model, one or two answers."""
    return predict_answers(model, crops)[0]


def predict_logits(model, crops: np.ndarray) -> np.ndarray:
    """(N, answers) float64 logits of each crop from a trained (logit) Keras model."""
    return model.predict(crops.astype(np.float32), batch_size=256, verbose=0).reshape(len(crops), -1).astype(np.float64)


def predict_answers(model, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(P(glasses), P(dark | glasses) or None for a one-answer model) of each crop."""
    probabilities = 1.0 / (1.0 + np.exp(-predict_logits(model, crops)))
    return probabilities[:, 0], probabilities[:, 1] if probabilities.shape[1] == 2 else None


def keras_probabilities(run: Path, crops: np.ndarray) -> np.ndarray:
    import keras
    return predict_probabilities(keras.models.load_model(run / "model.keras", compile=False), crops)


def runtime_probabilities(model: Path, crops: np.ndarray, batch: int = 256) -> np.ndarray:
    """Probabilities from an exported TFLite model through the serving runtime."""
    from glasses_core import GlassesClassifier
    classifier = GlassesClassifier(model)
    return np.concatenate([classifier.predict_crops(crops[i:i + batch]) for i in range(0, len(crops), batch)])
