"""converters/batch_one.py: the shipped TFLite files with a fixed batch of 1, which LiteRT's
compiled-model API (LiteRT.js, Android's CompiledModel) runs as they are, giving the same answers
as the batched files the server and the runner use."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from converters.batch_one import device_probabilities, example_crops, fixed_batch, main, write_batch_one
from glasses_core import GlassesClassifier, ModelConfig
from glasses_core.errors import ModelError
from glasses_core.tflite_metadata import batch_one_path, read_config

MODELS = Path(__file__).resolve().parent.parent / "models"


def signatures(path: Path) -> list[list[int]]:
    from ai_edge_litert import schema_py_generated as schema
    model = schema.ModelT.InitFromPackedBuf(bytearray(path.read_bytes()), 0)
    return [list(t.shapeSignature) for g in model.subgraphs for t in g.tensors if t.shapeSignature is not None]


@pytest.fixture(scope="module")
def crops():
    return example_crops()


@pytest.mark.parametrize("variant", ["float32", "float16", "int8"])
def test_the_shipped_copies_are_the_batched_files_with_a_batch_of_one(variant, crops):
    source, copy = MODELS / f"glasses_{variant}.tflite", MODELS / f"glasses_{variant}_batch1.tflite"
    assert batch_one_path(source) == copy and batch_one_path(copy) == copy
    assert any(s[0] == -1 for s in signatures(source))  # the batched file: dynamic
    assert signatures(copy) and all(-1 not in s and s[0] == 1 for s in signatures(copy))
    assert np.array_equal(device_probabilities(copy, crops), GlassesClassifier(source).predict_crops(crops))
    config = read_config(copy)
    assert config == ModelConfig.load(copy.with_suffix(".json"))
    assert config.tflite == copy.name and config.model_id == ModelConfig.load(MODELS / "glasses.json").model_id


def test_the_compiled_model_api_refuses_a_dynamic_batch_with_a_clear_message(crops):
    with pytest.raises(ModelError, match="batch is not fixed at 1.*batch_one.py"):
        device_probabilities(MODELS / "glasses_int8.tflite", crops[:1])


def test_the_runtime_still_batches_a_fixed_batch_file(crops):
    """resize_tensor_input is not strict: the Python runtime takes any batch from either file."""
    assert np.array_equal(GlassesClassifier(MODELS / "glasses_int8_batch1.tflite").predict_crops(crops),
                          GlassesClassifier(MODELS / "glasses_int8.tflite").predict_crops(crops))


def test_another_dynamic_dimension_is_refused():
    from ai_edge_litert import schema_py_generated as schema
    import flatbuffers
    model = schema.ModelT.InitFromPackedBuf(bytearray((MODELS / "glasses_int8.tflite").read_bytes()), 0)
    model.subgraphs[0].tensors[model.subgraphs[0].inputs[0]].shapeSignature = np.array([-1, -1, 64, 3], np.int32)
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    with pytest.raises(ModelError, match="dynamic dimension other than the batch"):
        fixed_batch(bytes(builder.Output()))


def test_the_command_writes_the_copy_and_checks_it(tmp_path, capsys):
    for suffix in (".tflite", ".json"):
        shutil.copy(MODELS / f"glasses_int8{suffix}", tmp_path / f"mine{suffix}")
    assert main([str(tmp_path / "mine.tflite")]) == 0
    out = capsys.readouterr().out
    assert "mine_batch1.tflite" in out and "max |ΔP| against mine.tflite on 16 crops" in out and "0.00e+00" in out
    assert json.loads((tmp_path / "mine_batch1.json").read_text())["tflite"] == "mine_batch1.tflite"
    assert read_config(tmp_path / "mine_batch1.tflite").tflite == "mine_batch1.tflite"
    with pytest.raises(ModelError, match="already a fixed-batch file"):
        write_batch_one(tmp_path / "mine_batch1.tflite")


def test_a_file_that_is_no_model_exits_2(tmp_path, capsys):
    (tmp_path / "bad.tflite").write_bytes(b"not a model")
    assert main([str(tmp_path / "bad.tflite")]) == 2
    assert "bad.tflite" in capsys.readouterr().err
