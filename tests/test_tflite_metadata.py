"""The ModelConfig stored inside a .tflite file: written, named, replaced, read back, and every
file it refuses. Built from the shipped int8 model, in process (no TensorFlow)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from glasses_core.config import CropConfig, ModelConfig
from glasses_core.errors import ConfigError, ModelError
from glasses_core.litert import make_interpreter
from glasses_core.tflite_metadata import CONFIG_ENTRY, INPUT_NAME, OUTPUT_NAME, read_config, with_config

MODELS = Path(__file__).resolve().parent.parent / "models"
SHIPPED = MODELS / "glasses_int8.tflite"
CONFIG = ModelConfig(crop=CropConfig(size=64, scale=2.2), labels=("none", "specs"), threshold=0.625,
                     version="3.1.4", model_id="3.1.4+00112233aabb", description="a test config")


def pack(model: schema.ModelT) -> bytes:
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def unpack(data: bytes) -> schema.ModelT:
    return schema.ModelT.InitFromPackedBuf(bytearray(data), 0)


@pytest.fixture(scope="module")
def converter_output() -> bytes:
    """The shipped model as the converter writes it: its own tensor and signature names, no config;
    one output (P(glasses): a model that also says which glasses keeps only its first answer here)."""
    model = unpack(SHIPPED.read_bytes())
    model.metadata = [m for m in model.metadata if m.name != CONFIG_ENTRY.encode()]
    graph = model.subgraphs[0]
    (first,) = [o for o in model.signatureDefs[0].outputs if o.name == OUTPUT_NAME.encode()]
    graph.outputs, model.signatureDefs[0].outputs = [first.tensorIndex], [first]
    graph.tensors[graph.inputs[0]].name = b"serving_default_input:0"
    graph.tensors[graph.outputs[0]].name = b"StatefulPartitionedCall:0"
    model.signatureDefs[0].inputs[0].name = b"input"
    model.signatureDefs[0].outputs[0].name = b"output_0"
    return pack(model)


def names(data: bytes):
    model = unpack(data)
    graph = model.subgraphs[0]
    signature = model.signatureDefs[0]
    return (graph.tensors[graph.inputs[0]].name, graph.tensors[graph.outputs[0]].name,
            signature.inputs[0].name, signature.outputs[0].name)


def entries(data: bytes) -> list[tuple[bytes, bytes]]:
    """(name, bytes of its buffer) of every metadata entry."""
    model = unpack(data)
    return [(m.name, bytes(np.asarray(model.buffers[m.buffer].data, np.uint8))) for m in model.metadata]


def test_the_config_goes_in_and_comes_back(converter_output, tmp_path):
    assert read_config_of(converter_output, tmp_path) is None
    assert names(converter_output) == (b"serving_default_input:0", b"StatefulPartitionedCall:0", b"input", b"output_0")
    packed = with_config(converter_output, CONFIG)
    assert packed[4:8] == b"TFL3"
    assert read_config_of(packed, tmp_path) == CONFIG
    assert names(packed) == (b"image", b"probability", b"image", b"probability")
    assert (INPUT_NAME, OUTPUT_NAME) == ("image", "probability")
    stored = entries(packed)
    assert [name for name, _ in stored] == [b"min_runtime_version", b"CONVERSION_METADATA", CONFIG_ENTRY.encode()]
    assert stored[-1][1] == CONFIG.to_json().encode()  # byte for byte what the .json beside it says
    assert stored[:2] == entries(converter_output)  # the converter's own entries are kept
    assert len(unpack(packed).buffers) == len(unpack(converter_output).buffers) + 1


def read_config_of(data: bytes, folder: Path, name: str = "m.tflite"):
    path = folder / name
    path.write_bytes(data)
    return read_config(path)


def test_the_model_with_its_config_gives_the_same_answers(converter_output, tmp_path):
    crops = np.random.default_rng(0).integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)

    def run(data: bytes, name: str) -> np.ndarray:
        (tmp_path / name).write_bytes(data)
        interpreter = make_interpreter(tmp_path / name)
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], crops)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

    packed = with_config(converter_output, CONFIG)
    assert np.array_equal(run(converter_output, "a.tflite"), run(packed, "b.tflite"))
    signatures = make_interpreter(tmp_path / "b.tflite").get_signature_list()
    assert signatures == {"serving_default": {"inputs": ["image"], "outputs": ["probability"]}}


def test_storing_again_replaces_the_entry(converter_output, tmp_path):
    other = dataclasses.replace(CONFIG, threshold=0.125, version="9.0.0")
    twice = with_config(with_config(converter_output, CONFIG), other)
    assert [name for name, _ in entries(twice)].count(CONFIG_ENTRY.encode()) == 1
    assert read_config_of(twice, tmp_path) == other


def test_a_model_without_signatures_or_metadata_takes_a_config(converter_output, tmp_path):
    model = unpack(converter_output)
    model.signatureDefs, model.metadata = None, None
    packed = with_config(pack(model), CONFIG)
    assert read_config_of(packed, tmp_path) == CONFIG
    assert [name for name, _ in entries(packed)] == [CONFIG_ENTRY.encode()]
    graph = unpack(packed).subgraphs[0]
    assert graph.tensors[graph.inputs[0]].name == b"image" and graph.tensors[graph.outputs[0]].name == b"probability"


@pytest.mark.parametrize("change", ["two subgraphs", "two inputs", "three outputs"])
def test_a_model_of_another_shape_is_refused(converter_output, change):
    model = unpack(converter_output)
    graph = model.subgraphs[0]
    if change == "two subgraphs":
        model.subgraphs.append(unpack(converter_output).subgraphs[0])
    elif change == "two inputs":
        graph.inputs = list(graph.inputs) + [graph.outputs[0]]
    else:
        graph.outputs = list(graph.outputs) + [graph.inputs[0], graph.inputs[0]]
    with pytest.raises(ModelError, match=r"^expected a model with one subgraph, one input and one or two outputs$"):
        with_config(pack(model), CONFIG)


def test_two_outputs_are_named_by_the_signature_not_by_the_graph_s_order(converter_output):
    """A second output (which glasses) gets its name from the signature's Keras order, whatever
    order the graph lists its outputs in; without a signature there is no telling them apart."""
    model = unpack(converter_output)
    graph = model.subgraphs[0]
    graph.outputs = [graph.inputs[0], graph.outputs[0]]  # the graph lists the second output first
    second = type(model.signatureDefs[0].outputs[0])()
    second.name, second.tensorIndex = b"output_1", graph.inputs[0]
    model.signatureDefs[0].outputs[0].name = b"output_0"
    model.signatureDefs[0].outputs = [second, model.signatureDefs[0].outputs[0]]
    named = unpack(with_config(pack(model), CONFIG)).subgraphs[0]
    assert named.tensors[named.outputs[1]].name == b"probability"
    assert named.tensors[named.outputs[0]].name == b"dark_probability"
    model.signatureDefs = None
    with pytest.raises(ModelError, match="signature to tell them apart"):
        with_config(pack(model), CONFIG)


@pytest.mark.parametrize("data", [b"", b"TFL3", b"\x00\x00\x00\x00TFL", b"\x10\x00\x00\x00TFL2" + bytes(64),
                                  b"not a flatbuffer at all"])
def test_a_file_that_is_not_tflite_is_refused(tmp_path, data):
    path = tmp_path / "fake.tflite"
    path.write_bytes(data)
    with pytest.raises(ModelError) as caught:
        read_config(path)
    assert str(caught.value) == f"{path}: not a TFLite file (no TFL3 identifier)"


def test_a_file_with_the_identifier_is_read(tmp_path):
    """Identifier checks start at byte 4; the shortest file that has it is 8 bytes."""
    model = schema.ModelT()
    model.version = 3
    data = pack(model)
    assert data[4:8] == b"TFL3"
    assert read_config_of(data, tmp_path) is None
    assert read_config(str(tmp_path / "m.tflite")) is None


def test_only_the_identifier_decides_what_a_tflite_file_is(tmp_path):
    """8 bytes are enough to hold the identifier: they pass the check (and hold no entries)."""
    assert read_config_of(bytes(4) + b"TFL3", tmp_path) is None
    with pytest.raises(ModelError, match="not a TFLite file"):
        read_config_of(bytes(3) + b"TFL3", tmp_path)


def test_a_small_model_takes_a_config(tmp_path):
    """A model smaller than the builder's 4 KiB of headroom (one subgraph: input -> output)."""
    model = schema.ModelT()
    model.version = 3
    graph = schema.SubGraphT()
    graph.tensors = []
    for name in (b"x", b"y"):
        tensor = schema.TensorT()
        tensor.name, tensor.shape, tensor.buffer = name, np.array([1, 4], np.int32), 0
        graph.tensors.append(tensor)
    graph.inputs, graph.outputs = np.array([0], np.int32), np.array([1], np.int32)
    model.subgraphs, model.buffers = [graph], [schema.BufferT()]
    small = pack(model)
    assert len(small) < 4096
    packed = with_config(small, CONFIG)
    assert read_config_of(packed, tmp_path) == CONFIG
    tensors = unpack(packed).subgraphs[0].tensors
    assert [t.name for t in tensors] == [b"image", b"probability"]


def with_entry(model: bytes, raw: bytes) -> bytes:
    """``model`` with ``raw`` as the config entry's bytes."""
    unpacked = unpack(with_config(model, CONFIG))
    entry = next(m for m in unpacked.metadata if m.name == CONFIG_ENTRY.encode())
    unpacked.buffers[entry.buffer].data = np.frombuffer(raw, np.uint8)
    return pack(unpacked)


@pytest.mark.parametrize("raw, reason", [(b'{"threshold": ', "Expecting value"),
                                         (b"\xff\xfe{}", "can't decode byte 0xff")])
def test_an_entry_that_is_not_json_is_named(converter_output, tmp_path, raw, reason):
    path = tmp_path / "broken.tflite"
    path.write_bytes(with_entry(converter_output, raw))
    with pytest.raises(ModelError) as caught:
        read_config(path)
    assert str(caught.value).startswith(f"{path}: its {CONFIG_ENTRY} entry is not JSON (")
    assert reason in str(caught.value) and caught.value.__cause__ is not None


def test_an_entry_with_a_bad_config_names_the_file_and_the_entry(converter_output, tmp_path):
    path = tmp_path / "bad.tflite"
    path.write_bytes(with_entry(converter_output, b'{"threshold": 0.5, "zoom": 2}'))
    with pytest.raises(ConfigError, match=rf"^{path}: {CONFIG_ENTRY}: unknown key\(s\) \['zoom'\]"):
        read_config(path)
    path.write_bytes(with_entry(converter_output, b'{"labels": ["a", "b"], "crop": {"size": 32}}'))
    assert read_config(path) == ModelConfig(labels=("a", "b"), crop=CropConfig(size=32))


def test_another_entry_of_a_similar_name_is_not_read(converter_output, tmp_path):
    model = unpack(with_config(converter_output, CONFIG))
    for entry in model.metadata:
        if entry.name == CONFIG_ENTRY.encode():
            entry.name = CONFIG_ENTRY.encode() + b".old"
    assert read_config_of(pack(model), tmp_path) is None
