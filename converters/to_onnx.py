"""Export the trained Keras model to ONNX (float32), for runtimes other than LiteRT and Core ML.

The ONNX model takes ``image``: float32 (N, size, size, 3) raw RGB crops, 0-255 (the rescaling
is inside the model, as in every other export), and returns ``probability``: (N, 1), P(glass),
and for a model that says which glasses ``dark_probability``: (N, 1), P(dark | glasses).
Its metadata (``metadata_props``) holds the labels, the threshold chosen in training, the
version and the crop the input must be. Converted by tf2onnx from a concrete function; run
by onnxruntime in the parity check.

    python3 converters/to_onnx.py RUN_DIR --out models/
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from glasses_core import ModelConfig
from glasses_core.errors import GlassesError
from converters.runs import export_main
from converters.metadata import Metadata, crop_description, export_fields

OPSET = 17  # onnxruntime 1.16+ and most mobile/web ONNX runtimes read it
OUTPUT = "probability"
KIND_OUTPUT = "dark_probability"


def export_onnx(model, config: ModelConfig, out_dir: str | Path, name: str = "glasses",
                metadata: Metadata = Metadata()) -> Path:
    """Write ``<name>.onnx``; ``model`` is the training model (logit output), the sigmoid is added here."""
    import tensorflow as tf
    import tf2onnx

    from research_and_train_nn.training.model import has_kind_head, inference_model

    probability = inference_model(model)
    size = config.crop.size
    kind = has_kind_head(model)

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name="image")])
    def classify(image):
        if kind:
            glasses, dark = probability(image, training=False)
            return {OUTPUT: glasses, KIND_OUTPUT: dark}
        return {OUTPUT: probability(image, training=False)}

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    proto, _ = tf2onnx.convert.from_function(classify, input_signature=classify.input_signature,
                                             opset=OPSET)
    no, yes = config.labels
    proto.doc_string = f"P({yes!r}) of a {size}x{size} face crop. Input: {crop_description(config)}"
    proto.model_version = _version_number(config.version)
    fields = {"author": metadata.author, "license": metadata.license, **export_fields(config, metadata)}
    for key, value in fields.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    path = out_dir / f"{name}.onnx"
    path.write_bytes(proto.SerializeToString())
    return path


def _version_number(version: str) -> int:
    """ONNX's model_version is an integer: 1.2.3 -> 10203."""
    parts = [int(p) if p.isdigit() else 0 for p in version.split("-")[0].split(".")[:3]]
    major, minor, patch = (parts + [0, 0, 0])[:3]
    return major * 10000 + minor * 100 + patch


def run_onnx(path: Path, crops: np.ndarray, output: str = OUTPUT) -> np.ndarray:
    """P(glass) (or the ``output`` named) for uint8 crops from onnxruntime; GlassesError when the
    file cannot be run."""
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (image,) = session.get_inputs()
        return session.run([output], {image.name: np.asarray(crops, np.float32)})[0].reshape(-1)
    except Exception as err:  # onnxruntime raises its own exception types for bad files
        raise GlassesError(f"{path}: onnxruntime cannot run it ({err})") from err


def onnx_precision(path: Path) -> str:
    """"float16" when any weight is stored in float16, else "float32"."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # protobuf's DecodeError, or an OS error
        raise GlassesError(f"{path}: not an ONNX model ({err})") from err
    kinds = {t.data_type for t in model.graph.initializer}
    return "float16" if onnx.TensorProto.FLOAT16 in kinds else "float32"


def main(argv=None) -> int:
    def export(run, args):
        path = export_onnx(run.model, run.config, args.out, args.name)
        return [f"{path} ({path.stat().st_size / 1024:.1f} KiB)"]

    return export_main(__doc__.splitlines()[0], argv, export)


if __name__ == "__main__":
    sys.exit(main())
