"""Which files the runtime takes, and a .tflite that describes itself, in the light environment
(LiteRT, no TensorFlow): the shipped int8 file with the shipped config stored inside it."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from glasses_core import GlassesClassifier, ModelConfig
from glasses_core.errors import ModelError
from glasses_core.runtime import resolve_model
from glasses_core.tflite_metadata import CONFIG_ENTRY, read_config, with_config

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
LIGHT_PYTHON = ROOT / ".venv-deploy" / "bin" / "python"


@pytest.fixture(scope="module")
def bare_tflite(tmp_path_factory) -> Path:
    """The shipped int8 model with its config inside it, alone in a folder (no .json)."""
    path = tmp_path_factory.mktemp("bare") / "renamed.tflite"
    path.write_bytes(with_config((MODELS / "glasses_int8.tflite").read_bytes(),
                                 ModelConfig.load(MODELS / "glasses_int8.json")))
    return path


def light(code: str) -> subprocess.CompletedProcess:
    if not LIGHT_PYTHON.exists():
        pytest.fail(f"{LIGHT_PYTHON} is missing: `make venv-deploy` makes it")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([str(LIGHT_PYTHON), "-c", code], capture_output=True, text=True, env=env,
                          cwd=str(ROOT), timeout=300)


def test_a_bare_tflite_gives_the_config_of_its_json_without_tensorflow(bare_tflite):
    done = light(f"""
import json, sys
from glasses_core import GlassesClassifier
classifier = GlassesClassifier({str(bare_tflite)!r})
print(classifier.config.to_json())
print(json.dumps(["tensorflow" in sys.modules, classifier._interpreter().get_signature_list()]))
""")
    assert done.returncode == 0, done.stderr
    config_text, flags = _split(done.stdout)
    expected = dataclasses.replace(ModelConfig.load(MODELS / "glasses_int8.json"), tflite="renamed.tflite")
    assert ModelConfig.from_dict(json.loads(config_text)) == expected
    imported_tensorflow, signatures = json.loads(flags)
    assert imported_tensorflow is False
    assert signatures == {"serving_default": {"inputs": ["image"], "outputs": ["dark_probability", "probability"]}}
    assert done.stderr == ""  # LiteRT's "Created TensorFlow Lite XNNPACK delegate" note included


def _split(stdout: str) -> tuple[str, str]:
    config_text, _, flags = stdout.strip().rpartition("\n")
    return config_text, flags


def test_the_stored_config_changes_no_answer(bare_tflite, data_dir):
    import numpy as np
    from glasses_core.litert import make_interpreter

    interpreter = make_interpreter(bare_tflite)
    assert interpreter.get_input_details()[0]["name"] == "image"
    assert sorted(o["name"] for o in interpreter.get_output_details()) == ["dark_probability", "probability"]
    photos = sorted((data_dir / "celeba" / "img_align_celeba").glob("*.jpg"))[:6]
    shipped, bare = GlassesClassifier(MODELS / "glasses.json"), GlassesClassifier(bare_tflite)
    crops = np.stack([c.pixels for p in photos for c in shipped.crops(p)])
    for ours, theirs in zip(shipped.predict_crops_and_kinds(crops), bare.predict_crops_and_kinds(crops)):
        assert np.array_equal(ours, theirs)


def test_a_json_beside_the_file_wins(bare_tflite, tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(bare_tflite.read_bytes())
    edited = dataclasses.replace(ModelConfig.load(MODELS / "glasses_int8.json"), threshold=0.25, tflite="m.tflite")
    edited.save(tmp_path / "m.json")
    assert resolve_model(model) == (model, edited)


def without_config(model: bytes) -> bytes:
    """A TFLite flatbuffer with our metadata entry taken out, as files exported before it were."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    from glasses_core.tflite_metadata import CONFIG_ENTRY
    unpacked = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    unpacked.metadata = [m for m in unpacked.metadata or [] if m.name != CONFIG_ENTRY.encode()]
    builder = flatbuffers.Builder(len(model))
    builder.Finish(unpacked.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_a_tflite_without_metadata_says_what_is_missing(tmp_path):
    model = tmp_path / "old.tflite"
    model.write_bytes(without_config((MODELS / "glasses_int8.tflite").read_bytes()))
    assert read_config(MODELS / "glasses_int8.tflite") is not None and read_config(model) is None
    with pytest.raises(ModelError, match=r"old.tflite: no metadata: no old.json beside it and none inside it"):
        resolve_model(model)


def test_a_file_that_is_not_tflite(tmp_path):
    model = tmp_path / "fake.tflite"
    model.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(ModelError, match="not a TFLite file"):
        resolve_model(model)


def test_a_broken_config_entry_is_named(tmp_path):
    model = tmp_path / "broken.tflite"
    text = ModelConfig(version="9.9.9").to_json()
    packed = with_config((MODELS / "glasses_int8.tflite").read_bytes(), ModelConfig(version="9.9.9"))
    model.write_bytes(packed.replace(text.encode()[:20], b"{{{{{{{{{{{{{{{{{{{{"))
    with pytest.raises(ModelError, match=CONFIG_ENTRY):
        read_config(model)


@pytest.mark.parametrize("name", ["model.keras", "glasses.onnx", "glasses.mlpackage", "export"])
def test_files_the_runtime_does_not_take(name):
    with pytest.raises(ModelError, match=r"the runtime takes a model's \.json .* or a \.tflite file"):
        resolve_model(Path("runs/mine") / name)


def test_the_folder_runner_names_the_files_it_takes(tmp_path, data_dir):
    done = subprocess.run([sys.executable, "deploy/run_on_folder.py", str(data_dir / "celeba" / "img_align_celeba" / "000001.jpg"),
                           "--model", "runs/mine/model.keras"], capture_output=True, text=True,
                          cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert done.returncode == 1
    assert "runs/mine/model.keras: the runtime takes a model's .json" in done.stderr
    assert "convert_all.py" in done.stderr


def test_model_id_is_the_version_and_the_weights_digest(tmp_path):
    import hashlib

    from glasses_core.config import model_id
    weights = MODELS / "glasses.keras"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert model_id("0.2.0", weights) == f"0.2.0+{digest[:12]}"
    assert ModelConfig(version="0.2.0", model_id="0.2.0+abc").identity == "0.2.0+abc"
    shipped = ModelConfig.load(MODELS / "glasses.json")  # the shipped release: its run's model.keras digest
    assert shipped.identity == shipped.model_id and re.fullmatch(rf"{re.escape(shipped.version)}\+[0-9a-f]{{12}}",
                                                                   shipped.identity)
