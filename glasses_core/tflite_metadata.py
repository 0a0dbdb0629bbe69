"""The model's metadata inside its ``.tflite`` file, so that the bare file is enough.

A TFLite flatbuffer holds a list of named metadata buffers (``Model.metadata`` in LiteRT's
schema). Ours, ``CONFIG_ENTRY``, holds the model's ``ModelConfig`` as UTF-8 JSON, byte for
byte what ``<model>.json`` beside the file says: labels, threshold, crop, input format,
version and model id. The input and output tensors (and the signature's keys) are named
``image`` and ``probability``, and a model that says which glasses has a second output,
``dark_probability`` (P(dark | glasses)).

Why not the ``TFLITE_METADATA`` entry that Android Studio and the TFLite Task Library read: its
only Python writer, ``tflite-support`` (0.4.4, 2023, no longer released), pins protobuf < 4 and
needs libusb, so it cannot be installed beside TensorFlow 2.21 and numpy 2, and writing that
schema's flatbuffer by hand would be a serializer of our own. The named entry is read with the
TFLite schema that every LiteRT ships (here ``ai_edge_litert.schema_py_generated``; on Android
the schema's generated ``Model.metadata(i)``), without TensorFlow.
"""
from __future__ import annotations

import json
from pathlib import Path

from .config import ModelConfig
from .errors import ModelError

CONFIG_ENTRY = "glasses_or_not.model_config"  # the metadata entry that holds the ModelConfig JSON
INPUT_NAME, OUTPUT_NAME = "image", "probability"
KIND_OUTPUT_NAME = "dark_probability"  # the second output of a model that says which glasses
OUTPUT_NAMES = (OUTPUT_NAME, KIND_OUTPUT_NAME)  # by the Keras model's output order
BATCH_ONE = "_batch1"  # <stem>_batch1.tflite: the same model with a fixed batch of 1, for devices
_IDENTIFIER = b"TFL3"  # a TFLite flatbuffer's file identifier


def _schema():
    from ai_edge_litert import schema_py_generated  # lazily, like the interpreter (litert.py)
    return schema_py_generated


def with_config(model: bytes, config: ModelConfig) -> bytes:
    """``model`` (a TFLite flatbuffer with one input and one or two outputs) with ``config``
    stored inside it and its input and outputs named ``INPUT_NAME`` and ``OUTPUT_NAMES``."""
    import flatbuffers
    import numpy as np

    schema = _schema()
    unpacked = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    _name_input_and_output(unpacked)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(config.to_json().encode("utf-8"), np.uint8)
    unpacked.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = CONFIG_ENTRY, len(unpacked.buffers) - 1
    unpacked.metadata = [m for m in unpacked.metadata or [] if m.name != CONFIG_ENTRY.encode()] + [entry]
    builder = flatbuffers.Builder(len(model) + 4096)
    builder.Finish(unpacked.Pack(builder), file_identifier=_IDENTIFIER)
    return bytes(builder.Output())


def _name_input_and_output(model) -> None:
    graph = model.subgraphs[0]
    if len(model.subgraphs) != 1 or len(graph.inputs) != 1 or len(graph.outputs) not in (1, 2):
        raise ModelError("expected a model with one subgraph, one input and one or two outputs")
    # The converter names every inner tensor by its place in the Keras graph: 9 KB of a 125 KB int8
    # file, read by nobody at run time. They get short names; the input and outputs get ours below.
    for index, tensor in enumerate(graph.tensors):
        tensor.name = f"t{index}"
    graph.tensors[graph.inputs[0]].name = INPUT_NAME
    for signature in model.signatureDefs or []:
        signature.inputs[0].name = INPUT_NAME
    if len(graph.outputs) == 1:
        graph.tensors[graph.outputs[0]].name = OUTPUT_NAME
        for signature in model.signatureDefs or []:
            signature.outputs[0].name = OUTPUT_NAME
        return
    # Two outputs: the converter may list the graph's outputs in any order, but the signature keys
    # them by the Keras model's order (output_0, output_1), or by our names once they are given.
    signatures = model.signatureDefs or []
    if len(signatures) != 1:
        raise ModelError("a model with two outputs needs its signature to tell them apart")
    keys = sorted(signatures[0].outputs, key=lambda o: _output_rank(o.name))
    for output, name in zip(keys, OUTPUT_NAMES):
        output.name = name
        graph.tensors[output.tensorIndex].name = name


def _output_rank(key: bytes) -> int:
    """The Keras output index of a signature key: output_<i> (Keras's export) or one of OUTPUT_NAMES."""
    text = key.decode()
    if text in OUTPUT_NAMES:
        return OUTPUT_NAMES.index(text)
    if text.startswith("output_") and text[7:].isdigit():
        return int(text[7:])
    raise ModelError(f"cannot tell which output {text!r} is: expected output_0/output_1 or {OUTPUT_NAMES}")


def batch_one_path(path: str | Path) -> Path:
    """Where the fixed-batch-of-1 copy of a ``.tflite`` file lives: beside it, as
    ``<stem>_batch1.tflite`` (converters/batch_one.py writes it; LiteRT's compiled-model API,
    as LiteRT.js and Android's CompiledModel use it, refuses a dynamic batch)."""
    path = Path(path)
    return path if path.stem.endswith(BATCH_ONE) else path.with_name(path.stem + BATCH_ONE + path.suffix)


def read_config(path: str | Path) -> ModelConfig | None:
    """The ModelConfig stored inside a ``.tflite`` file; None when it holds none."""
    path = Path(path)
    data = path.read_bytes()
    schema = _schema()
    if len(data) < 8 or not schema.Model.ModelBufferHasIdentifier(data, 0):
        raise ModelError(f"{path}: not a TFLite file (no {_IDENTIFIER.decode()} identifier)")
    model = schema.Model.GetRootAs(data, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() == CONFIG_ENTRY.encode():
            raw = model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
            try:
                data = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise ModelError(f"{path}: its {CONFIG_ENTRY} entry is not JSON ({err})") from err
            return ModelConfig.from_dict(data, source=f"{path}: {CONFIG_ENTRY}")
    return None
