"""One training step of the project's model on one device and under MirroredStrategy over two
logical CPUs, from the same weights on the same batch of real photos; prints the largest weight
difference as JSON. Run as a script (tests/test_distribute.py): the CPU must be split into
logical devices before TensorFlow starts, which a test process has already done."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CELEBA = ROOT.parent / "shared" / "data" / "celeba"


def real_batch(size: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """CelebA's first ``count`` photos resized to the crop size, with their Eyeglasses labels."""
    lines = (CELEBA / "list_attr_celeba.txt").read_text().splitlines()
    column = lines[1].split().index("Eyeglasses") + 1
    rows = [line.split() for line in lines[2:2 + count]]
    images = np.stack([np.asarray(Image.open(CELEBA / "img_align_celeba" / row[0]).convert("RGB")
                                  .resize((size, size), Image.BILINEAR)) for row in rows])
    return images.astype(np.float32), np.array([row[column] == "1" for row in rows], dtype=np.float32)


def main() -> None:
    from research_and_train_nn.training.distribute import make_strategy
    strategy = make_strategy("mirrored", ["/cpu:0", "/cpu:1"])
    import keras

    from research_and_train_nn.training.fit import build, class_weights
    from research_and_train_nn.training.config import TrainConfig
    config = TrainConfig(dropout=0.0)  # dropout draws differ per replica; nothing else may
    images, labels = real_batch(config.crop.size, 32)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        mirrored = build(config)  # as train.py --strategy mirrored builds it: batch norm synchronised
        loss = mirrored.loss  # the project's loss (logits, label smoothing)
        _plain_sgd(mirrored, loss)
    single = keras.Model.from_config(mirrored.get_config())  # the same layers, on one device
    _plain_sgd(single, loss)
    start = mirrored.get_weights()
    single.set_weights(start)
    for model in (single, mirrored):  # fit(), not train_on_batch(): only fit() splits the batch
        model.fit(images, labels, batch_size=len(images), epochs=1, shuffle=False, verbose=0,
                  class_weight=class_weights(labels.astype(int)))
    json.dump({"replicas": strategy.num_replicas_in_sync,
               "max_difference": _largest(single.get_weights(), mirrored.get_weights()),
               "max_change": _largest(single.get_weights(), start)}, sys.stdout)


def _plain_sgd(model, loss) -> None:
    """The model's loss with plain SGD. AdamW's first step is about lr * sign(gradient), so
    float noise in a gradient near zero becomes a whole step; SGD keeps the weights a linear
    function of the gradients, and any difference between the two runs shows at its true size."""
    import keras
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss)


def _largest(first: list, second: list) -> float:
    return max(float(np.abs(a - b).max()) for a, b in zip(first, second))


if __name__ == "__main__":
    main()
