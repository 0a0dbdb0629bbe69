"""One model from several: the mean of their weights, every weight (batch-norm statistics too).

Models fine-tuned from the same starting weights with different seeds (batch order, augmentation)
end in one basin of the loss, and the mean of their weights is a model of the same size and cost
that tends to be right where its draws disagree (Wortsman et al., "Model soups", 2022). Models
that did not start from the same weights have no such mean: average only runs of one recipe.
"""
from __future__ import annotations

import numpy as np

from glasses_core.errors import ConfigError


def average_weights(models: list, names: list[str]):
    """The first model with every weight replaced by the mean over ``models`` (named ``names`` in
    errors); ConfigError when their weights differ in number, name or shape."""
    first = models[0]
    shapes = [(w.path, tuple(w.shape)) for w in first.weights]
    for model, name in zip(models[1:], names[1:]):
        other = [(w.path, tuple(w.shape)) for w in model.weights]
        if other != shapes:
            differs = next((f"{a} against {b}" for a, b in zip(shapes, other) if a != b),
                           f"{len(shapes)} weights against {len(other)}")
            raise ConfigError(f"{name} is not the same network as {names[0]} ({differs}): "
                              "only runs of one recipe can be averaged")
    values = [model.get_weights() for model in models]
    first.set_weights([np.mean([v[i].astype(np.float64) for v in values], axis=0).astype(values[0][i].dtype)
                       for i in range(len(shapes))])
    return first
