"""The model's settings file: exact JSON, round trips, and every error a bad file gives."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from glasses_core.config import DIGEST_DIGITS, CropConfig, ModelConfig, from_dict, model_id, read_json
from glasses_core.errors import ConfigError, GlassesError

MODELS = Path(__file__).resolve().parent.parent / "models"


def test_the_shipped_json_is_what_to_json_writes():
    """indent 2, sorted keys, lists for tuples and one final newline: the file's bytes exactly."""
    text = (MODELS / "glasses.json").read_text()
    config = ModelConfig.load(MODELS / "glasses.json")
    assert config.to_json() == text
    assert config.labels == ("no_glass", "glass") and isinstance(config.labels, tuple)
    assert config.crop == CropConfig()  # the shipped crop settings are the defaults


def test_to_json_layout():
    text = ModelConfig(version="1.2.3", crop=CropConfig(size=32)).to_json()
    assert text.endswith("}\n") and not text.endswith("\n\n")
    lines = text.splitlines()
    assert lines[0] == "{" and lines[1] == '  "crop": {' and lines[2] == '    "centre_shift": 0.0,'
    keys = [line.split('"')[1] for line in lines if line.startswith('  "')]
    assert keys == sorted(keys) == ["crop", "description", "input_format", "labels", "model_id",
                                    "tflite", "threshold", "version"]
    assert json.loads(text)["crop"]["size"] == 32
    two = json.loads(ModelConfig(kinds=("clear", "dark"), kind_threshold=0.4).to_json())
    assert two["kinds"] == ["clear", "dark"] and two["kind_threshold"] == 0.4  # a two-answer model's keys
    assert ModelConfig.from_dict(two) == ModelConfig(kinds=("clear", "dark"), kind_threshold=0.4)


def test_save_and_load_round_trip(tmp_path):
    config = ModelConfig(crop=CropConfig(size=96, scale=2.0, detector="full", refine="none"),
                         labels=("plain", "specs"), threshold=0.3, version="1.0.0",
                         model_id="1.0.0+0123456789ab", description="d", tflite="m.tflite")
    config.save(tmp_path / "m.json")
    assert (tmp_path / "m.json").read_text() == config.to_json()
    assert ModelConfig.load(tmp_path / "m.json") == config
    assert ModelConfig.load(str(tmp_path / "m.json")) == config  # a str path too


def test_a_missing_file_is_named(tmp_path):
    path = tmp_path / "nowhere.json"
    with pytest.raises(ConfigError) as caught:
        ModelConfig.load(path)
    assert str(caught.value) == f"{path}: model metadata not found (expected next to the model file)"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert isinstance(caught.value, GlassesError)


def test_a_file_that_is_not_json_is_named(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"threshold": ')
    with pytest.raises(ConfigError, match=re.escape(f"{path}: not valid JSON (Expecting value: line 1")) as caught:
        ModelConfig.load(path)
    assert isinstance(caught.value.__cause__, json.JSONDecodeError)


def test_a_bad_setting_in_a_file_names_the_file(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"crop": {"size": "64"}, "threshold": 0.5}')
    with pytest.raises(ConfigError) as caught:
        ModelConfig.load(path)
    assert str(caught.value) == f"{path}: crop: size must be int, got '64'"
    path.write_text('{"threshold": "high"}')
    with pytest.raises(ConfigError) as caught:
        ModelConfig.load(str(path))
    assert str(caught.value) == f"{path}: threshold must be float, got 'high'"


def test_read_json_reads_any_json_and_says_what_is_missing(tmp_path):
    (tmp_path / "a.json").write_text('{"x": [1, 2]}')
    assert read_json(tmp_path / "a.json", "unused") == {"x": [1, 2]}
    assert read_json(str(tmp_path / "a.json"), "unused") == {"x": [1, 2]}
    with pytest.raises(ConfigError, match=r"^.*b\.json: what the caller says is missing$"):
        read_json(str(tmp_path / "b.json"), "what the caller says is missing")


def test_from_dict_fills_defaults_and_turns_a_labels_list_into_a_tuple():
    config = ModelConfig.from_dict({"labels": ["a", "b"], "threshold": 0.7})
    assert config == ModelConfig(labels=("a", "b"), threshold=0.7)
    assert ModelConfig.from_dict({}) == ModelConfig()
    assert ModelConfig.from_dict({"crop": {"size": 128}}).crop == CropConfig(size=128)
    assert ModelConfig.from_dict({"labels": ("x", "y")}).labels == ("x", "y")  # a tuple stays one


def test_from_dict_does_not_change_its_argument():
    data = {"crop": {"size": 32}, "labels": ["a", "b"]}
    ModelConfig.from_dict(data)
    assert data == {"crop": {"size": 32}, "labels": ["a", "b"]}


def test_labels_of_another_type_are_refused():
    with pytest.raises(ConfigError, match=r"^config: labels must be tuple, got 'ab'$"):
        ModelConfig.from_dict({"labels": "ab"})


def test_an_integer_is_a_float_but_a_boolean_is_not():
    config = ModelConfig.from_dict({"threshold": 1, "crop": {"scale": 3}})
    assert config.threshold == 1 and config.crop.scale == 3
    with pytest.raises(ConfigError, match=r"^config: threshold must be float, got True$"):
        ModelConfig.from_dict({"threshold": True})
    with pytest.raises(ConfigError, match=r"^m\.json: crop: size must be int, got False$"):
        ModelConfig.from_dict({"crop": {"size": False}}, source="m.json")
    with pytest.raises(ConfigError, match=r"^config: crop: size must be int, got 64\.0$"):
        ModelConfig.from_dict({"crop": {"size": 64.0}})
    with pytest.raises(ConfigError, match=r"^config: version must be str, got 1$"):
        ModelConfig.from_dict({"version": 1})
    with pytest.raises(ConfigError, match=r"^config: version must be str, got 2$"):  # checked after an int float
        ModelConfig.from_dict({"threshold": 1, "version": 2})


def test_unknown_keys_are_named_with_the_known_ones():
    with pytest.raises(ConfigError) as caught:
        ModelConfig.from_dict({"treshold": 0.5, "zoom": 1}, source="x.json")
    known = sorted(f.name for f in dataclasses.fields(ModelConfig))
    assert str(caught.value) == f"x.json: unknown key(s) ['treshold', 'zoom']; known: {known}"
    with pytest.raises(ConfigError, match=r"^x\.json: crop: unknown key\(s\) \['sise'\]; known: \['centre_shift', "):
        ModelConfig.from_dict({"crop": {"sise": 64}}, source="x.json")


def test_a_crop_that_is_not_a_mapping_is_refused():
    with pytest.raises(ConfigError, match=r"^config: crop: expected a mapping, got list$"):
        ModelConfig.from_dict({"crop": [64]})
    with pytest.raises(ConfigError, match=r"^cfg: expected a mapping, got str$"):
        from_dict(ModelConfig, "{}", "cfg")


@dataclass(frozen=True)
class _Fields:
    required: object
    flag: bool = False
    names: list = field(default_factory=list)


def test_from_dict_checks_each_kind_of_field():
    """No default: anything goes; a bool field takes bools; a factory default gives the type."""
    assert from_dict(_Fields, {"required": 1.5}, "s") == _Fields(1.5)
    assert from_dict(_Fields, {"required": None, "flag": True}, "s") == _Fields(None, True)
    assert from_dict(_Fields, {"required": 0, "names": ["a"]}, "s").names == ["a"]
    with pytest.raises(ConfigError, match=r"^s: names must be list, got 'a'$"):
        from_dict(_Fields, {"required": 0, "names": "a"}, "s")
    with pytest.raises(ConfigError, match=r"^s: flag must be bool, got 1$"):
        from_dict(_Fields, {"required": 0, "flag": 1}, "s")
    with pytest.raises(ConfigError, match=r"^s: required must be "):  # an untyped field takes no bool
        from_dict(_Fields, {"required": True}, "s")
    with pytest.raises(ConfigError, match=r"^config: crop must be CropConfig, got 'big'$"):
        from_dict(ModelConfig, {"crop": "big"}, "config")


def test_model_id_is_the_version_and_twelve_digits_of_the_weights_sha256(tmp_path):
    weights = tmp_path / "model.keras"
    weights.write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    assert DIGEST_DIGITS == 12
    assert model_id("1.2.3", weights) == f"1.2.3+{digest[:12]}"
    assert model_id("1.2.3", str(weights)) == f"1.2.3+{digest[:12]}"


def test_identity_is_the_model_id_else_the_version():
    assert ModelConfig(version="1.0.0", model_id="1.0.0+abc").identity == "1.0.0+abc"
    assert ModelConfig(version="1.0.0").identity == "1.0.0"
