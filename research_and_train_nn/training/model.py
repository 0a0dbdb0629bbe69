"""The compact CNN: a pure builder, no training or I/O (see train.py for those).

Takes raw RGB crops (0-255) and rescales inside the model, so every export takes raw pixels.
Outputs one logit for "glass"; the sigmoid is applied by ``inference_model``.
"""
from __future__ import annotations

import keras
from keras import layers

from research_and_train_nn.training.distribute import multi_replica

# (filters, stride) of each depthwise-separable block after the stem.
DEFAULT_BLOCKS = ((48, 1), (64, 2), (64, 1), (128, 2), (128, 1), (192, 2), (192, 1))


def make_model(input_size: int = 64, stem_filters: int = 24, blocks=DEFAULT_BLOCKS,
               dropout: float = 0.2, bn_momentum: float = 0.99, name: str = "glasses_cnn",
               synchronized_bn: bool | None = None) -> keras.Model:
    """Stride-2 stem, depthwise-separable blocks with batch norm, global average pooling,
    dropout and a single logit. A lower ``bn_momentum`` suits runs of only a few steps.
    ``synchronized_bn`` (default: when built under a tf.distribute strategy of several
    replicas) takes batch statistics over the whole batch, not each replica's share."""
    synchronized = multi_replica() if synchronized_bn is None else synchronized_bn
    bn = {"momentum": bn_momentum, "synchronized": synchronized}
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    x = _conv_bn_relu(x, stem_filters, 3, 2, "stem", bn)
    for i, (filters, stride) in enumerate(blocks):
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                                   name=f"block{i}_dw")(x)
        x = layers.BatchNormalization(**bn, name=f"block{i}_dw_bn")(x)
        x = layers.ReLU(name=f"block{i}_dw_relu")(x)
        x = _conv_bn_relu(x, filters, 1, 1, f"block{i}_pw", bn)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    logits = layers.Dense(1, name="logit")(x)
    return keras.Model(inputs, logits, name=name)


def _conv_bn_relu(x, filters: int, kernel: int, stride: int, name: str, bn: dict):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(**bn, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def inference_model(model: keras.Model) -> keras.Model:
    """The trained model with a sigmoid on top: raw RGB crops in, probability of glasses out."""
    prob = layers.Activation("sigmoid", name="probability")(model.output)
    return keras.Model(model.input, prob, name=f"{model.name}_inference")


def multiply_adds(model: keras.Model) -> int:
    """Multiply-adds of one forward pass (convolutions and dense layers)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense)):
            shape = layer.output.shape
            positions = 1 if len(shape) == 2 else shape[1] * shape[2]
            # Every kernel weight is used once per output position.
            total += positions * layer.get_weights()[0].size
    return int(total)
