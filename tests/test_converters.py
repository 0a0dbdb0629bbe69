"""converters/: TFLite, Core ML and ONNX exports of really trained models, checked against Keras.

One module-scoped run: a smaller make_model() (3 blocks, 16-96 filters) trained for a few
epochs on real CelebA crops, checked on 500 real AFLW crops (MTFL's test pool); it holds every
export but int8 to the issue's tolerances. Its int8 file sits near the 99 % line (a model
trained for seconds leaves many crops near its threshold), so a second model — the shipped
Keras model trained one more epoch here — is held to all of them, int8 included.
Then every way the Core ML check must fail: a wrong weight, a wrong layer order, a wrong
scale/bias, swapped labels, an operation the executor does not know; and ONNX's.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from converters import coreml_numpy
from converters.convert_all import choose_default, summary
from converters.convert_all import main as convert_all_main
from converters.metadata import crop_description
from converters.release import main as release_main
from converters.parity import TOLERANCES, check_parity, format_table
from converters.runs import load_run
from glasses_core import GlassesClassifier, ModelConfig
from glasses_core.config import model_id
from glasses_core.errors import GlassesError
from glasses_core.tflite_metadata import read_config

ROOT = Path(__file__).resolve().parent.parent
SMALL = dict(stem_filters=16, blocks=((32, 2), (64, 2), (96, 2)), bn_momentum=0.9)
CHECK = 100  # crops for the break-it tests: a broken file fails on far fewer than 500


def _crops(records, config):
    from glasses_core import Detectors, preprocess
    detectors = Detectors(config.crop)
    return np.stack([preprocess(r.path, detectors, config.crop)[0].pixels for r in records])


def _balanced(records, positives: int, negatives: int, seed: int):
    rng = np.random.default_rng(seed)
    pos = [r for r in records if r.label == 1]
    neg = [r for r in records if r.label == 0]
    return ([pos[i] for i in rng.choice(len(pos), positives, replace=False)]
            + [neg[i] for i in rng.choice(len(neg), negatives, replace=False)])


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, data_dir):
    """A run folder (model.keras, config.json, val_crops.npz, train_crops.npz) of a small model
    trained for 8 epochs on 400 CelebA crops; 500 AFLW crops to check it on."""
    import keras

    from research_and_train_nn.data.datasets import load_celeba, load_mtfl
    from research_and_train_nn.training.model import make_model

    config = ModelConfig(version="0.0.1-test", description="small test model")
    train = _balanced(load_celeba(data_dir / "celeba"), 200, 200, seed=0)
    val = _balanced(load_mtfl(data_dir / "mtfl", "test"), 240, 260, seed=0)
    x, y = _crops(train, config), np.array([r.label for r in train])
    keras.utils.set_random_seed(0)
    model = make_model(**SMALL)
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(x.astype(np.float32), y.astype(np.float32), epochs=8, batch_size=32, verbose=0)
    run = tmp_path_factory.mktemp("small_run")
    model.save(run / "model.keras")
    config.save(run / "config.json")
    np.savez(run / "train_crops.npz", crops=x, labels=y)
    np.savez(run / "val_crops.npz", crops=_crops(val, config), labels=np.array([r.label for r in val]))
    return run


@pytest.fixture(scope="module")
def converted(small_run, tmp_path_factory):
    """convert_all's CLI on the small run: (output folder, exit status, report)."""
    status = convert_all_main([str(small_run)])  # into the run folder: small_run/export
    out = small_run / "export"
    return out, status, json.loads((out / "conversion_report.json").read_text())


@pytest.fixture(scope="module")
def model(small_run):
    return load_run(small_run).model


@pytest.fixture(scope="module")
def check_crops(small_run):
    run = load_run(small_run)
    return run.crops[::5][:CHECK], run.labels[::5][:CHECK]


def test_every_export_meets_its_tolerance(converted):
    out, status, report = converted
    print("\n" + (out / "conversion_report.md").read_text())  # the figures, shown when the test fails
    exports = report["exports"]
    assert {name.split(" (")[0] for name in exports} == {  # on macOS, also "... (Core ML)"
        "tflite_float32", "tflite_float16", "tflite_int8", "tflite_float32_batch1", "tflite_float16_batch1",
        "tflite_int8_batch1", "coreml_mlpackage", "coreml_mlmodel", "onnx"}
    assert report["crops"] == 500
    for name in ("tflite_float32", "tflite_float32_batch1", "coreml_mlmodel", "onnx"):
        assert exports[name]["precision"] == "float32"
        assert exports[name]["max_difference"] <= 1e-4, name
    for name in ("tflite_float16", "tflite_float16_batch1", "coreml_mlpackage"):
        assert exports[name]["precision"] == "float16"
        assert exports[name]["max_difference"] <= 5e-3, name
    assert all(exports[name]["passed"] for name in exports if not name.startswith("tflite_int8"))
    for variant in ("float32", "float16", "int8"):  # the device copy: the same answers, through the device API
        batched, fixed = exports[f"tflite_{variant}"], exports[f"tflite_{variant}_batch1"]
        assert fixed["runner"] == "LiteRT CompiledModel" and fixed["precision"] == batched["precision"]
        assert fixed["max_difference"] == batched["max_difference"] and fixed["agreement"] == batched["agreement"]
    assert status == (0 if report["passed"] else 1)


def test_int8_figures_and_verdict(converted):
    """int8 of a model trained for seconds sits near the 99 % line (many crops close to the
    threshold): the verdict must follow the tolerance, and the answers must be sane."""
    int8 = converted[2]["exports"]["tflite_int8"]
    tolerance = TOLERANCES["int8"]
    assert int8["precision"] == "int8"
    assert int8["passed"] == (int8["agreement"] >= tolerance.min_agreement
                              and abs(int8["accuracy_change"]) <= tolerance.max_accuracy_change
                              and int8["max_difference"] <= tolerance.max_difference)
    assert int8["agreement"] >= 0.95 and abs(int8["accuracy_change"]) <= 0.03
    sizes = [converted[2]["exports"][f"tflite_{v}"]["size_bytes"] for v in ("int8", "float16", "float32")]
    assert sizes == sorted(sizes)


def test_default_is_the_smallest_passing_tflite(converted):
    out, _, report = converted
    passing = {k: e["size_bytes"] for k, e in report["exports"].items()
               if k.startswith("tflite_") and not k.endswith("_batch1") and e["passed"]}
    assert report["default"] == min(passing, key=passing.get)
    config = ModelConfig.load(out / "glasses.json")
    assert config.tflite == f"glasses_{report['default'].removeprefix('tflite_')}.tflite"
    assert config.version == "0.0.1-test"
    assert GlassesClassifier(out / "glasses.json").predict_crops(np.zeros((2, 64, 64, 3), np.uint8)).shape == (2,)


def test_tflite_files_and_their_metadata(converted, small_run):
    out, _, _ = converted
    crops = load_run(small_run).crops[:8]
    for variant in ("float32", "float16", "int8"):
        config = ModelConfig.load(out / f"glasses_{variant}.json")
        assert config.tflite == f"glasses_{variant}.tflite"
        classifier = GlassesClassifier(out / f"glasses_{variant}.json")
        probabilities = classifier.predict_crops(crops)
        assert probabilities.shape == (8,) and np.all((probabilities >= 0) & (probabilities <= 1))
    interpreter = GlassesClassifier(out / "glasses_int8.json")._interpreter()
    detail = interpreter.get_input_details()[0]
    assert detail["dtype"] == np.uint8 and detail["quantization"] == (1.0, 0)  # raw pixels


def test_report_names_every_export(converted):
    text = (converted[0] / "conversion_report.md").read_text()
    for name in ("tflite_float32", "tflite_float16", "tflite_int8", "tflite_int8_batch1", "coreml_mlpackage",
                 "coreml_mlmodel", "onnx"):
        assert f"| {name} |" in text
    assert "convert_all.py RUN_DIR`" in text


def test_choose_default_refuses_failed_exports():
    report = {"exports": {"tflite_float32": {"size_bytes": 400, "passed": True},
                          "tflite_int8": {"size_bytes": 100, "passed": False},
                          "tflite_float16": {"size_bytes": 200, "passed": True},
                          "tflite_float16_batch1": {"size_bytes": 199, "passed": True},  # a device copy: never
                          "coreml_mlmodel": {"size_bytes": 50, "passed": True}}}
    assert choose_default(report) == "tflite_float16"
    report["exports"]["tflite_float16"]["passed"] = report["exports"]["tflite_float32"]["passed"] = False
    assert choose_default(report) is None


@pytest.fixture(scope="module")
def fine_tuned(small_run, tmp_path_factory):
    """The shipped Keras model trained one more epoch, here, on the small run's 400 CelebA crops,
    and convert_all's report on the small run's 500 AFLW crops. The small model above is too
    unsure of itself for int8 (many crops near its threshold); a model trained to the end is
    what the int8 tolerance is for, and this one is still trained in CI."""
    import dataclasses

    import keras
    run = tmp_path_factory.mktemp("fine_tuned")
    for name in ("train_crops.npz", "val_crops.npz"):
        shutil.copy(small_run / name, run / name)
    with np.load(run / "train_crops.npz") as train:
        x, y = train["crops"].astype(np.float32), train["labels"].astype(np.float32)
    keras.utils.set_random_seed(0)
    model = keras.models.load_model(ROOT / "models" / "glasses.keras", compile=False)
    before = [w.copy() for w in model.get_weights()]
    if model.output_shape[-1] == 2:  # a model that says which glasses: kinds unknown here, the first answer learns
        from research_and_train_nn.training.kind_head import UNKNOWN, GlassesAndKindLoss
        loss, y = GlassesAndKindLoss(1.0), np.stack([y, np.full_like(y, UNKNOWN)], axis=1)
    else:
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
    model.compile(keras.optimizers.Adam(1e-4), loss)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    model.save(run / "model.keras")
    config = ModelConfig.load(ROOT / "models" / "glasses.json")
    dataclasses.replace(config, tflite="", version="0.1.0-finetuned").save(run / "config.json")
    status = convert_all_main([str(run)])
    return run, status, json.loads((run / "export" / "conversion_report.json").read_text())


def test_a_fully_trained_model_meets_every_tolerance_int8_included(fine_tuned):
    _, status, report = fine_tuned
    print("\nfine-tuned shipped model:\n" + format_table(report))
    assert report["crops"] == 500 and report["keras_accuracy"] > 0.9
    for name, entry in report["exports"].items():
        assert entry["passed"], (name, entry.get("failures"))
    int8 = report["exports"]["tflite_int8"]
    assert int8["agreement"] >= 0.99 and abs(int8["accuracy_change"]) <= 0.005
    assert int8["max_difference"] <= TOLERANCES["int8"].max_difference
    assert status == 0 and report["default"] == "tflite_int8"


# ---------------------------------------------------------------- ONNX

def test_onnx_file_says_what_an_app_needs(converted):
    import onnx
    model = onnx.load(str(converted[0] / "glasses.onnx"))
    (image,) = model.graph.input
    assert image.name == "image" and image.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_value for d in image.type.tensor_type.shape.dim][1:] == [64, 64, 3]
    assert [o.name for o in model.graph.output] == ["probability"]
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["labels"] == "no_glass,glass" and float(meta["threshold"]) == 0.5
    assert meta["version"] == "0.0.1-test" and "64x64 RGB face crop" in meta["input_crop"]
    assert model.model_version == 1  # 0.0.1


def test_onnx_check_fails_on_a_wrong_weight(converted, model, check_crops, tmp_path):
    import onnx
    from onnx import numpy_helper
    onnx_model = onnx.load(str(converted[0] / "glasses.onnx"))
    kernel = max(onnx_model.graph.initializer, key=lambda t: np.prod(t.dims) if len(t.dims) == 4 else 0)
    values = numpy_helper.to_array(kernel).copy()
    i = np.unravel_index(np.argmax(np.abs(values)), values.shape)
    values[i] = -values[i]
    kernel.CopyFrom(numpy_helper.from_array(values, kernel.name))
    onnx.save(onnx_model, str(tmp_path / "broken.onnx"))
    entry = check_parity(model, {"onnx": tmp_path / "broken.onnx"}, *check_crops, min_crops=CHECK)["exports"]["onnx"]
    assert entry["runner"] == "onnxruntime" and not entry["passed"], entry
    assert entry["max_difference"] > TOLERANCES["float32"].max_difference * 10


def test_a_file_onnxruntime_cannot_read_fails_the_check(model, check_crops, tmp_path):
    (tmp_path / "garbage.onnx").write_bytes(b"not a model")
    entry = check_parity(model, {"onnx": tmp_path / "garbage.onnx"}, *check_crops, min_crops=CHECK)["exports"]["onnx"]
    assert not entry["passed"] and "error" in entry


# ---------------------------------------------------------------- Core ML specs

def test_coreml_specs_say_what_the_app_needs(converted):
    out = converted[0]
    for kind, version in (("mlpackage", 6), ("mlmodel", 4)):  # iOS 15 and iOS 13
        spec = coreml_numpy.load_spec(out / f"glasses.{kind}")
        assert spec.specificationVersion == version
        (image,) = spec.description.input
        assert image.name == "image" and image.type.WhichOneof("Type") == "imageType"
        assert (image.type.imageType.width, image.type.imageType.height) == (64, 64)
        assert image.type.imageType.colorSpace == coreml_numpy.FeatureTypes_pb2.ImageFeatureType.RGB
        assert _labels(spec) == ["no_glass", "glass"]
        assert spec.description.predictedFeatureName == "classLabel"
        assert spec.description.predictedProbabilitiesName == "classLabel_probs"
        meta = spec.description.metadata
        assert meta.author and "MIT" in meta.license and "wears glasses" in meta.shortDescription
        assert meta.versionString == "0.0.1-test"
        assert "MTFL" in meta.userDefined["training_data"]
        assert "64x64 RGB face crop" in meta.userDefined["input_crop"]
        assert meta.userDefined["run"] == "small test model"
        assert "eye distances" in image.shortDescription


def test_only_the_stem_computes_in_float32(converted):
    """The ML program is float16 but for its first convolution (to_coreml.FLOAT32_LAYERS)."""
    operations = _operations(coreml_numpy.load_spec(converted[0] / "glasses.mlpackage"))
    convs = [op for op in operations if op.type == "conv"]
    dtypes = [op.outputs[0].type.tensorType.dataType for op in convs]
    assert dtypes[0] == coreml_numpy.MIL_pb2.FLOAT32
    assert all(d == coreml_numpy.MIL_pb2.FLOAT16 for d in dtypes[1:]) and len(dtypes) == 7  # stem + 3 × (dw, pw)


def test_rescaling_is_folded_into_the_image_input(converted):
    out = converted[0]
    network = coreml_numpy.load_spec(out / "glasses.mlmodel").neuralNetworkClassifier
    assert network.preprocessing[0].scaler.channelScale == pytest.approx(1 / 255)
    assert not [layer for layer in network.layers if layer.WhichOneof("layer") == "multiply"]
    operations = _operations(coreml_numpy.load_spec(out / "glasses.mlpackage"))
    assert [op.type for op in operations].count("mul") == 1  # the image input's scale, nothing else
    assert _image_scale(operations).immediateValue.tensor.floats.values[0] == pytest.approx(1 / 255)


# ---------------------------------------------------------------- the check must fail on these

def _labels(spec):
    if spec.WhichOneof("Type") == "neuralNetworkClassifier":
        return list(spec.neuralNetworkClassifier.stringClassLabels.vector)
    (classify,) = [op for op in _operations(spec) if op.type == "classify"]
    values = classify.inputs["classes"].arguments[0].value.immediateValue.list.values
    return [v.immediateValue.tensor.strings.values[0] for v in values]


def _operations(spec):
    function = spec.mlProgram.functions["main"]
    return function.block_specializations[function.opset].operations


def _image_scale(operations):
    """The const value the image input is multiplied by."""
    (mul,) = [op for op in operations if op.type == "mul" and op.inputs["x"].arguments[0].name == "image"]
    name = mul.inputs["y"].arguments[0].name
    (const,) = [op for op in operations if op.type == "const" and op.outputs[0].name == name]
    return const.attributes["val"]


def _wrong_weight(spec, path):
    if spec.WhichOneof("Type") == "neuralNetworkClassifier":
        conv = next(l for l in spec.neuralNetworkClassifier.layers if l.WhichOneof("layer") == "convolution")
        weights = conv.convolution.weights.floatValue
        i = int(np.argmax(np.abs(weights)))
        weights[i] = -weights[i]
        return
    # An ML program keeps its weights in the package's blob file: flip one there.
    conv = next(op for op in _operations(spec) if op.type == "conv")
    name = conv.inputs["weight"].arguments[0].name
    blob = next(op for op in _operations(spec) if op.outputs[0].name == name).attributes["val"].blobFileValue
    data = np.memmap(path / "Data/com.apple.CoreML/weights/weight.bin", np.uint8, "r+")
    dtype = coreml_numpy._BLOB_DTYPES[int(data[blob.offset + 4:blob.offset + 8].view(np.uint32)[0])]
    size, offset = data[blob.offset + 8:blob.offset + 24].view(np.uint64)
    values = data[int(offset):int(offset + size)].view(dtype)
    i = int(np.argmax(np.abs(values)))
    values[i] = -values[i]
    data.flush()


def _wrong_layer_order(spec, path):
    """relu(conv(x)) becomes conv(relu(x)): the same layers, wired in the wrong order."""
    if spec.WhichOneof("Type") == "neuralNetworkClassifier":
        layers = spec.neuralNetworkClassifier.layers
        i = next(i for i in range(1, len(layers)) if layers[i].WhichOneof("layer") == "convolution")
        conv, relu = layers[i], layers[i + 1]
        x, y, z = conv.input[0], conv.output[0], relu.output[0]
        relu.input[0], relu.output[0], conv.input[0], conv.output[0] = x, y, y, z
        _swap(layers, i, i + 1)
        return
    operations = _operations(spec)
    i = next(i for i, op in enumerate(operations) if op.type == "conv"
             and operations[i + 1].type == "relu" and i > 0)
    conv, relu = operations[i], operations[i + 1]
    x, y, z = conv.inputs["x"].arguments[0].name, conv.outputs[0].name, relu.outputs[0].name
    relu.inputs["x"].arguments[0].name, relu.outputs[0].name = x, y
    conv.inputs["x"].arguments[0].name, conv.outputs[0].name = y, z
    _swap(operations, i, i + 1)


def _swap(repeated, i: int, j: int):
    first, second = type(repeated[i])(), type(repeated[j])()
    first.CopyFrom(repeated[i])
    second.CopyFrom(repeated[j])
    repeated[i].CopyFrom(second)
    repeated[j].CopyFrom(first)


def _wrong_scale(spec, path):
    if spec.WhichOneof("Type") == "neuralNetworkClassifier":
        spec.neuralNetworkClassifier.preprocessing[0].scaler.channelScale *= 2
        return
    _image_scale(_operations(spec)).immediateValue.tensor.floats.values[0] *= 2


def _wrong_bias(spec, path):
    spec.neuralNetworkClassifier.preprocessing[0].scaler.redBias = -0.5


def _bgr(spec, path):
    spec.description.input[0].type.imageType.colorSpace = coreml_numpy.FeatureTypes_pb2.ImageFeatureType.BGR


def _swapped_labels(spec, path):
    if spec.WhichOneof("Type") == "neuralNetworkClassifier":
        labels = spec.neuralNetworkClassifier.stringClassLabels.vector
        labels[0], labels[1] = labels[1], labels[0]
        return
    (classify,) = [op for op in _operations(spec) if op.type == "classify"]
    values = classify.inputs["classes"].arguments[0].value.immediateValue.list.values
    first, second = (v.immediateValue.tensor.strings.values for v in values)
    first[0], second[0] = second[0], first[0]


BREAKS = [(kind, edit) for kind in ("mlmodel", "mlpackage")
          for edit in (_wrong_weight, _wrong_layer_order, _wrong_scale, _bgr, _swapped_labels)]
BREAKS.append(("mlmodel", _wrong_bias))  # the ML program has no bias op to break: ours is 0


def _broken_copy(out, kind, edit, tmp_path):
    path = tmp_path / f"broken.{kind}"
    (shutil.copytree if kind == "mlpackage" else shutil.copy)(out / f"glasses.{kind}", path)
    spec = coreml_numpy.load_spec(path)
    edit(spec, path)
    coreml_numpy.save_spec(spec, path)
    return path


@pytest.mark.parametrize("kind", ["mlmodel", "mlpackage"])
def test_unbroken_copies_pass_on_the_break_crops(converted, model, check_crops, kind, tmp_path):
    path = _broken_copy(converted[0], kind, lambda spec, path: None, tmp_path)
    report = check_parity(model, {kind: path}, *check_crops, min_crops=CHECK)
    assert report["passed"], report


@pytest.mark.parametrize("kind, edit", BREAKS, ids=[f"{k}-{e.__name__.strip('_')}" for k, e in BREAKS])
def test_check_fails_on_a_broken_spec(converted, model, check_crops, kind, edit, tmp_path):
    path = _broken_copy(converted[0], kind, edit, tmp_path)
    report = check_parity(model, {kind: path}, *check_crops, min_crops=CHECK)
    entry = report["exports"][kind]
    assert not entry["passed"], entry
    assert entry["max_difference"] > TOLERANCES[entry["precision"]].max_difference * 10


@pytest.mark.parametrize("kind", ["mlmodel", "mlpackage"])
def test_unknown_operation_fails_loudly(converted, model, check_crops, kind, tmp_path):
    def to_tanh(spec, path):
        if kind == "mlmodel":
            layer = next(l for l in spec.neuralNetworkClassifier.layers if l.WhichOneof("layer") == "activation")
            layer.activation.tanh.SetInParent()
        else:
            next(op for op in _operations(spec) if op.type == "relu").type = "tanh"

    path = _broken_copy(converted[0], kind, to_tanh, tmp_path)
    with pytest.raises(coreml_numpy.UnsupportedOpError, match="tanh"):
        coreml_numpy.run_coreml(path, check_crops[0])
    entry = check_parity(model, {kind: path}, *check_crops, min_crops=CHECK)["exports"][kind]
    assert not entry["passed"] and "tanh" in entry["error"]


def test_layer_read_before_written_is_an_error(converted, check_crops, tmp_path):
    def reorder(spec, path):
        _swap(spec.neuralNetworkClassifier.layers, 1, 2)

    path = _broken_copy(converted[0], "mlmodel", reorder, tmp_path)
    with pytest.raises(coreml_numpy.CoreMLSpecError, match="before any earlier layer writes it"):
        coreml_numpy.run_mlmodel(path, check_crops[0])


# ---------------------------------------------------------------- the run folder and the CLIs

def test_parity_needs_enough_crops(model, check_crops):
    with pytest.raises(ValueError, match="at least 500"):
        check_parity(model, {}, *check_crops)


def test_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(GlassesError, match="model.keras"):
        load_run(tmp_path)
    assert convert_all_main([str(tmp_path), "--out", str(tmp_path / "models")]) == 2


def _with_validation_crops(run: Path, count: int, into: Path) -> Path:
    """A copy of the run folder ``run`` that keeps only its first ``count`` validation crops."""
    into.mkdir()
    for name in ("model.keras", "config.json", "train_crops.npz"):
        shutil.copy(run / name, into / name)
    with np.load(run / "val_crops.npz") as val:
        np.savez(into / "val_crops.npz", crops=val["crops"][:count], labels=val["labels"][:count])
    return into


def test_a_run_with_too_few_validation_crops_is_refused_before_any_work(tiny_run, tmp_path, capfd):
    """Issue 29: a run trained with --max-train 400 was exported for 30 s, then refused by the
    parity check after ~60 lines of library noise, leaving a half-filled export/ that made a rerun
    exit 2 with "not empty". Now the count is checked first: one line, nothing written, and a
    rerun says the same."""
    run = _with_validation_crops(tiny_run, 400, tmp_path / "small")
    before = sorted(p.name for p in run.iterdir())
    for _ in range(2):
        assert convert_all_main([str(run)]) == 2
        err = capfd.readouterr().err
        assert len(err.splitlines()) == 1, err  # the reason, and no library noise
        assert "400 validation crops in val_crops.npz; the parity check needs at least 500" in err
        assert "--max-train N keeps at most N validation crops" in err and "--max-train 500" in err
        assert sorted(p.name for p in run.iterdir()) == before  # no export/, no temporary folder


def test_an_export_that_stops_half_way_leaves_no_half_export(tiny_run, tmp_path, monkeypatch, capsys):
    """Issue 29: everything is written into a temporary folder and moved into place at the end."""
    from converters import to_tflite

    def half_way(model, config, out_dir, name, *args):
        (Path(out_dir) / f"{name}_float32.tflite").write_bytes(b"half a file")
        raise KeyboardInterrupt  # Ctrl-C, or a kill, half-way through the exports

    monkeypatch.setattr(to_tflite, "export_tflite", half_way)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        convert_all_main([str(tiny_run), "--out", str(out)])
    assert list(tmp_path.iterdir()) == []  # neither the output folder nor a temporary one
    out.mkdir()
    (out / "glasses.json").write_text("an earlier export's default")
    with pytest.raises(KeyboardInterrupt):
        convert_all_main([str(tiny_run), "--out", str(out), "--force"])
    assert list(tmp_path.iterdir()) == [out] and [p.name for p in out.iterdir()] == ["glasses.json"]
    assert (out / "glasses.json").read_text() == "an earlier export's default"


def test_the_report_names_the_files_where_they_are(converted):
    out, _, report = converted
    for entry in report["exports"].values():
        assert Path(entry["path"]).parent == out and Path(entry["path"]).exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".export.partial-")]


def test_tiny_run_converts(tiny_run, tiny_exports, tmp_path):
    """train.py's run folder and default width: the float32 exports give Keras's answers."""
    from converters.parity import format_table
    from converters.to_coreml import export_coreml
    run = load_run(tiny_run)
    exports = {"tflite_float32": tiny_exports["float32"], "tflite_float16": tiny_exports["float16"],
               **export_coreml(run.model, run.config, tmp_path)}
    report = check_parity(run.model, exports, run.crops, run.labels, run.config)
    print("\ntrain.py's tiny run (default width, 4 epochs):\n" + format_table(report))
    assert report["exports"]["tflite_float32"]["passed"] and report["exports"]["mlmodel"]["passed"]


def test_scripts_run_as_files():
    for script in ("converters/convert_all.py", "converters/parity.py"):
        done = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True,
                              cwd=str(ROOT))
        assert done.returncode == 0 and "usage" in done.stdout, done.stderr



# ---------------------------------------------------------------- identity, metadata, output folder

def test_every_file_carries_the_run_s_model_id(converted, small_run):
    out, _, report = converted
    expected = model_id("0.0.1-test", small_run / "model.keras")
    assert report["model_id"] == expected and expected.startswith("0.0.1-test+")
    for variant in ("float32", "float16", "int8"):
        inside = read_config(out / f"glasses_{variant}.tflite")
        assert inside == ModelConfig.load(out / f"glasses_{variant}.json")  # the bare file says it all
        assert inside.model_id == expected and inside.tflite == f"glasses_{variant}.tflite"
    assert GlassesClassifier(out / "glasses.json").model_id == expected
    assert f"model {expected}" in (out / "conversion_report.md").read_text()


def test_tflite_core_ml_and_onnx_say_the_same(converted):
    import onnx
    out = converted[0]
    tflite = read_config(out / "glasses_float32.tflite")
    expected = {"version": tflite.version, "model_id": tflite.model_id, "labels": ",".join(tflite.labels),
                "threshold": str(tflite.threshold), "input_crop": crop_description(tflite)}
    onnx_model = onnx.load(str(out / "glasses.onnx"))
    onnx_fields = {p.key: p.value for p in onnx_model.metadata_props}
    assert {k: onnx_fields[k] for k in expected} == expected
    for kind in ("mlpackage", "mlmodel"):
        meta = coreml_numpy.load_spec(out / f"glasses.{kind}").description.metadata
        assert {k: meta.userDefined[k] for k in expected} == expected and meta.versionString == tflite.version
    assert [o.name for o in onnx_model.graph.output] == ["probability"]
    interpreter = GlassesClassifier(out / "glasses_float32.tflite")._interpreter()
    assert interpreter.get_signature_list() == {"serving_default": {"inputs": ["image"], "outputs": ["probability"]}}


def test_convert_all_refuses_a_folder_that_is_not_empty(small_run, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "glasses.json").write_text("someone's model")
    assert convert_all_main([str(small_run), "--out", str(out)]) == 2
    assert "not empty; choose another --out, or --force" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["glasses.json"] and (out / "glasses.json").read_text() == "someone's model"
    assert convert_all_main([str(small_run)]) == 2  # the run's export/ folder, written by `converted`


def test_the_summary_names_failed_exports_and_never_makes_them_the_default(converted):
    import copy
    out, _, report = converted
    report = copy.deepcopy(report)
    for key in ("tflite_int8", "tflite_float16"):
        report["exports"][key].update(passed=False, failures=["same answer on 50.00% < 99%"])
    report["default"] = choose_default(report)
    assert report["default"] == "tflite_float32"
    lines = summary(report, out, "glasses")
    assert lines[1] == "failed, never used as the default:"
    assert "  tflite_int8 (glasses_int8.tflite): same answer on 50.00% < 99%" in lines
    assert lines[-1].startswith("default: glasses_float32.tflite")
    for key in ("tflite_float32",):
        report["exports"][key]["passed"] = False
    report["default"] = choose_default(report)
    assert summary(report, out, "glasses")[-1].startswith("no default: no TFLite export passed")


# ---------------------------------------------------------------- release.py

def _digests(folder: Path) -> dict[str, str]:
    import hashlib
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def models_copy(tmp_path):
    copy = tmp_path / "models"
    shutil.copytree(ROOT / "models", copy)
    return copy


SHIPPED_VERSION = ModelConfig.load(ROOT / "models" / "glasses.json").version
NEXT_VERSION = "{}.{}.0".format(SHIPPED_VERSION.split(".")[0], int(SHIPPED_VERSION.split(".")[1]) + 1)


def test_release_refuses_a_model_worse_than_the_shipped_one(tiny_run, models_copy, capsys):
    shipped, before = _digests(ROOT / "models"), _digests(models_copy)
    assert release_main([str(tiny_run), "--version", NEXT_VERSION, "--models", str(models_copy)]) == 1
    err = capsys.readouterr().err
    assert "refused: the Keras model is worse than the shipped model on the test set: f1" in err
    assert f"models untouched: {models_copy}" in err
    assert _digests(models_copy) == before and _digests(ROOT / "models") == shipped


@pytest.mark.parametrize("version, why", [(SHIPPED_VERSION, f"not newer than the shipped model's {SHIPPED_VERSION}"),
                                          ("v2", "a release version is three numbers")])
def test_release_needs_a_new_clean_version(tiny_run, models_copy, capsys, version, why):
    assert release_main([str(tiny_run), "--version", version, "--models", str(models_copy)]) == 2
    assert why in capsys.readouterr().err


def test_release_replaces_the_models_after_its_checks(fine_tuned, models_copy, capsys):
    run = fine_tuned[0]
    shipped = _digests(ROOT / "models")
    readme = (models_copy / "README.md").read_text()
    assert release_main([str(run), "--version", NEXT_VERSION, "--models", str(models_copy), "--max-drop", "0.1"]) == 0
    expected = model_id(NEXT_VERSION, run / "model.keras")
    assert f"released {expected} into {models_copy}" in capsys.readouterr().err
    config = ModelConfig.load(models_copy / "glasses.json")
    assert (config.version, config.model_id) == (NEXT_VERSION, expected)
    assert read_config(models_copy / config.tflite).model_id == expected
    assert GlassesClassifier(models_copy / "glasses.json").model_id == expected
    evaluation = json.loads((models_copy / "evaluation_report.json").read_text())
    assert evaluation["overall"]["images"] == 2995 and "glasses.json" in evaluation["exports"]
    assert json.loads((models_copy / "conversion_report.json").read_text())["passed"]
    assert (models_copy / "README.md").read_text() == readme
    assert _digests(ROOT / "models") == shipped


def test_a_two_answer_model_exports_both_answers_everywhere(tiny_kind_run, tmp_path):
    """TFLite, Core ML and ONNX files of a model that says which glasses carry P(dark | glasses)
    as a second named output, the kinds and their threshold in their metadata, and give the Keras
    model's second answer too (parity covers it)."""
    import onnxruntime

    from converters import coreml_numpy
    from converters.parity import check_parity
    from converters.to_coreml import export_coreml
    from converters.to_onnx import export_onnx
    from converters.to_tflite import export_tflite
    from glasses_core import GlassesClassifier
    from glasses_core.tflite_metadata import read_config
    run = load_run(tiny_kind_run)
    tflite = export_tflite(run.model, run.config, tmp_path, variants=("float32",))
    exports = {"tflite_float32": tflite["float32"], **export_coreml(run.model, run.config, tmp_path),
               "onnx": export_onnx(run.model, run.config, tmp_path)}
    assert read_config(tflite["float32"]).kinds == ("clear", "dark")
    classifier = GlassesClassifier(tflite["float32"])
    assert classifier.kinds == ("clear", "dark")
    names = {o["name"] for o in classifier._interpreter().get_output_details()}
    assert names == {"probability", "dark_probability"}
    assert "dark_probability" in coreml_numpy.output_names(exports["mlpackage"])
    session = onnxruntime.InferenceSession(str(exports["onnx"]), providers=["CPUExecutionProvider"])
    assert {o.name for o in session.get_outputs()} == {"probability", "dark_probability"}  # read by name
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["kinds"] == "clear,dark" and float(meta["kind_threshold"]) == run.config.kind_threshold
    report = check_parity(run.model, exports, run.crops, run.labels, run.config)
    for name, entry in report["exports"].items():
        if entry["precision"] == "float32":
            assert entry["kind_max_difference"] < 1e-4 and entry["kind_agreement"] >= 0.99, name
