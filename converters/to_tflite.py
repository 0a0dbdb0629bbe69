"""Export the trained Keras model to TFLite: float32, float16 and full-integer int8.

Every variant takes raw RGB crops (the rescaling is inside the model), named ``image``, and
outputs P(glass), named ``probability``. Each ``<name>_<variant>.tflite`` carries its
ModelConfig inside it (glasses_core/tflite_metadata.py), so the bare file is enough for
``GlassesClassifier``, and gets the same ModelConfig as ``<name>_<variant>.json`` beside it.
Beside each goes ``<name>_<variant>_batch1.tflite`` (and its ``.json``), the same model with a
fixed batch of 1 for devices (batch_one.py): the runtime, the server and the runner keep the
batched file.

    python3 converters/to_tflite.py RUN_DIR --out models/ [--variants float32 int8]
"""
from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np

from glasses_core import ModelConfig
from glasses_core.quiet import quiet

with quiet():  # TensorFlow's start-up notes (GLASSES_VERBOSE=1 shows them)
    import tensorflow as tf
from glasses_core.tflite_metadata import with_config
from research_and_train_nn.training.model import inference_model

from converters.batch_one import write_batch_one
from converters.runs import export_main

VARIANTS = ("float32", "float16", "int8")
CALIBRATION_CROPS = 300  # int8 calibration sample: enough for stable activation ranges


def convert(model, input_size: int, variant: str, representative: np.ndarray | None = None) -> bytes:
    """One TFLite flatbuffer. ``representative``: uint8 crops to calibrate the int8 variant."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown TFLite variant {variant!r}; choose from {VARIANTS}")
    with tempfile.TemporaryDirectory() as saved:
        # Through Keras's own SavedModel export, which freezes the weights: a concrete
        # function of a Keras 3 model converts with its weights left as resource variables
        # (VAR_HANDLE ops), which int8 calibration cannot read.
        signature = [tf.TensorSpec([None, input_size, input_size, 3], tf.float32, name="image")]
        inference_model(model).export(saved, format="tf_saved_model", input_signature=signature,
                                      verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        _configure(converter, variant, representative)
        return converter.convert()


def _configure(converter, variant: str, representative: np.ndarray | None) -> None:
    if variant == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "int8":
        if representative is None or len(representative) == 0:
            raise ValueError("the int8 variant needs representative crops for calibration")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _calibration(representative)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # One scale per tensor, not per channel: per-channel scales and int64 zero points cost
        # ~35 KB on this small model (160 KB -> 124 KB for v0.1.0), for 99.76 % instead of
        # 99.83 % agreement with Keras on the validation crops; the parity check still applies.
        converter._experimental_disable_per_channel = True
        # Integer input and output: uint8 pixels in, the runtime dequantizes the answer.
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8


def _calibration(crops: np.ndarray):
    crops = np.asarray(crops)
    if crops.dtype != np.uint8 or crops.ndim != 4:
        raise ValueError(f"representative crops must be uint8 (N, H, W, 3), got {crops.dtype} {crops.shape}")
    sample = crops[np.random.default_rng(0).permutation(len(crops))[:CALIBRATION_CROPS]]

    def generate():
        for crop in sample:
            yield [crop[None].astype(np.float32)]

    return generate


def export_tflite(model, config: ModelConfig, out_dir: str | Path, name: str = "glasses",
                  variants=VARIANTS, representative: np.ndarray | None = None) -> dict[str, Path]:
    """Write ``<name>_<variant>.tflite`` (its config inside) and its ``.json`` for each variant,
    and its fixed-batch copy ``<name>_<variant>_batch1.tflite``; returns variant -> path, the
    copies as ``<variant>_batch1``.

    ``model`` is the training model (logit output); the sigmoid is added here.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for variant in variants:
        path = out_dir / f"{name}_{variant}.tflite"
        described = dataclasses.replace(config, tflite=path.name)
        path.write_bytes(with_config(convert(model, config.crop.size, variant, representative), described))
        described.save(path.with_suffix(".json"))
        paths[variant] = path
        paths[f"{variant}_batch1"] = write_batch_one(path)
    return paths


def main(argv=None) -> int:
    def export(run, args):
        paths = export_tflite(run.model, run.config, args.out, args.name, args.variants, run.calibration)
        return [f"{variant:8s} {path} ({path.stat().st_size / 1024:.1f} KiB)"
                for variant, path in paths.items()]

    return export_main(__doc__.splitlines()[0], argv, export, lambda parser: parser.add_argument(
        "--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS))


if __name__ == "__main__":
    sys.exit(main())
