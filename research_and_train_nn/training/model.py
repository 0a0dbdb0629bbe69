"""The compact CNN: a pure builder, no training or I/O (see train.py for those).

Takes raw RGB crops (0-255) and rescales inside the model, so every export takes raw pixels.
Outputs one logit for "glass" or, with ``kind_head``, two (glass, then dark glasses given glasses:
kind_head.py); the sigmoids are applied by ``inference_model``. The second logit reads the pooled
features (``kind_features="pooled"``) or the eye band of the last 8 x 8 feature map
(``"eye_band"``: a linear map of its middle rows, where the lenses are in our crop, position by
position; global pooling mixes the lenses with the rest of the face).
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers

from research_and_train_nn.training.config import KIND_FEATURES
from research_and_train_nn.training.distribute import multi_replica

# (filters, stride) of each depthwise-separable block after the stem.
DEFAULT_BLOCKS = ((48, 1), (64, 2), (64, 1), (128, 2), (128, 1), (192, 2), (192, 1))
EYE_BAND_BLOCK = 4  # the block whose output the eye-band kind head reads (8 x 8 x 128 for 64 px crops)
KIND_BAND, KIND_PICK, KIND_LOGIT = "kind_band", "kind_pick", "kind_logit"  # the eye-band head's layers
EYE_BAND_LAYERS = (KIND_BAND,)  # the eye-band head's trainable layers (KIND_PICK is fixed)


def make_model(input_size: int = 64, stem_filters: int = 24, blocks=DEFAULT_BLOCKS,
               dropout: float = 0.2, bn_momentum: float = 0.99, name: str = "glasses_cnn",
               synchronized_bn: bool | None = None, kind_head: bool = False,
               kind_features: str = "pooled") -> keras.Model:
    """Stride-2 stem, depthwise-separable blocks with batch norm, global average pooling,
    dropout and a single logit (two with ``kind_head``: the pooled features say which glasses,
    or with ``kind_features="eye_band"`` the eye band of block ``EYE_BAND_BLOCK``'s output).
    A lower ``bn_momentum`` suits runs of only a few steps.
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
        if i == min(EYE_BAND_BLOCK, len(blocks) - 1):
            band_features = x
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    if not kind_head:
        return keras.Model(inputs, layers.Dense(1, name="logit")(x), name=name)
    if kind_features == "pooled":
        return keras.Model(inputs, layers.Dense(2, name="logits")(x), name=name)
    if kind_features != "eye_band":
        raise ValueError(f"kind_features must be one of {KIND_FEATURES}, not {kind_features!r}")
    glasses = layers.Dense(1, name="logit")(x)
    dark = _eye_band_logit(band_features)
    return keras.Model(inputs, layers.Concatenate(name="answers")([glasses, dark]), name=name)


def _eye_band_logit(features):
    """One logit from the middle half of the rows of an H x W feature map (rows H/4 to 3H/4: the
    eyes and brows in our crop), one weight per position and channel. Made of convolutions and a
    mean only, which every export and runtime knows: a (H/2) x W convolution slides over the H/2 + 1
    row positions, and a fixed convolution keeps the middle one."""
    height, width = features.shape[1], features.shape[2]
    band = height // 2
    if band < 1:
        raise ValueError(f"an eye band needs a feature map of 2 rows or more, not {height}")
    slid = layers.Conv2D(1, (band, width), padding="valid", name=KIND_BAND)(features)
    pick = layers.Conv2D(1, (band + 1, 1), padding="valid", use_bias=False, trainable=False, name=KIND_PICK)
    picked = pick(slid)
    one_hot = np.zeros((band + 1, 1, 1, 1), dtype="float32")
    one_hot[height // 4] = 1.0
    pick.set_weights([one_hot])
    return layers.GlobalAveragePooling2D(name=KIND_LOGIT)(picked)


def freeze_all_but_kind_head(model: keras.Model) -> None:
    """Every layer but the eye-band kind head stops training: the first answer stays exactly the
    starting model's (batch norm included: a frozen BatchNormalization layer runs on its moving
    statistics)."""
    for layer in model.layers:
        layer.trainable = layer.name in EYE_BAND_LAYERS


def thaw(model: keras.Model) -> None:
    """Every layer trainable again but the eye-band head's fixed pick: what a kind-only run's
    best model is saved as, so that whoever fine-tunes it trains the whole network."""
    for layer in model.layers:
        layer.trainable = layer.name != KIND_PICK


def has_kind_head(model: keras.Model) -> bool:
    """Whether the model answers which glasses too (two logits)."""
    return model.output.shape[-1] == 2


def load_weights_into(model: keras.Model, source: keras.Model) -> None:
    """``source``'s weights into ``model`` layer by layer (same names): a one-answer model's weights
    start a two-answer one, its logit becoming the first of the two and the second starting at 0;
    a pooled two-answer model's first logit starts an eye-band model's (its kind head starts anew)."""
    own = {layer.name: layer for layer in model.layers}
    for layer in source.layers:
        if layer.name in own and layer.get_weights() and own[layer.name].get_weights():
            own[layer.name].set_weights(layer.get_weights())
    if "logits" in {layer.name for layer in source.layers} and "answers" in own:
        kernel, bias = source.get_layer("logits").get_weights()
        own["logit"].set_weights([kernel[:, :1], bias[:1]])
    if "logit" in {layer.name for layer in source.layers} and "logits" in own:
        kernel, bias = source.get_layer("logit").get_weights()
        own["logits"].set_weights([np.concatenate([kernel, np.zeros_like(kernel)], axis=1),
                                   np.concatenate([bias, np.zeros_like(bias)])])


def _conv_bn_relu(x, filters: int, kernel: int, stride: int, name: str, bn: dict):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(**bn, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def inference_model(model: keras.Model) -> keras.Model:
    """The trained model with a sigmoid on top: raw RGB crops in, probability of glasses out
    (``probability``, (N, 1)); with a kind head also ``dark_probability`` (N, 1), P(dark | glasses)."""
    if not has_kind_head(model):
        prob = layers.Activation("sigmoid", name="probability")(model.output)
        return keras.Model(model.input, prob, name=f"{model.name}_inference")
    if "answers" in {layer.name for layer in model.layers}:
        # An eye-band model: each answer from its own logit, not from the concatenation, so that an
        # int8 export quantizes each logit on its own range (a shared tensor's scale would be set by
        # the wider of the two, and the first answer would lose resolution).
        glasses = layers.Activation("sigmoid", name="probability")(model.get_layer("logit").output)
        dark = layers.Activation("sigmoid", name="dark_probability")(model.get_layer(KIND_LOGIT).output)
        return keras.Model(model.input, [glasses, dark], name=f"{model.name}_inference")
    # Each logit picked out of the two by a fixed one-output dense layer: every export is then
    # convolutions and matrix products only (a slice would be one more operation for every
    # runtime, and for our Core ML executor, to know).
    picks = [layers.Dense(1, name=name, trainable=False) for name in ("glasses_logit", "dark_logit")]
    glasses = layers.Activation("sigmoid", name="probability")(picks[0](model.output))
    dark = layers.Activation("sigmoid", name="dark_probability")(picks[1](model.output))
    inference = keras.Model(model.input, [glasses, dark], name=f"{model.name}_inference")
    for i, pick in enumerate(picks):
        pick.set_weights([np.eye(2, dtype="float32")[:, i:i + 1], np.zeros(1, "float32")])
    return inference


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
