"""The runtime: every photo source, the threshold, int8 (de)quantisation, and one result per face."""
import dataclasses
import io
import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from glasses_core import GlassesClassifier, ModelConfig
from glasses_core.errors import ImageLoadError, ModelError
from glasses_core.litert import XNNPACK_NOTE, make_interpreter
from glasses_core.quiet import VERBOSE_ENV, quiet, set_verbose, verbose
from glasses_core.runtime import DEFAULT_MODEL, FaceResult, PhotoResult, _dequantize, _quantize, resolve_model
from glasses_core.tflite_metadata import CONFIG_ENTRY

GLASSES = "mtfl/lfw_5590/Abba_Eban_0001.jpg"  # MTFL label: glasses
NO_GLASSES = "mtfl/lfw_5590/Aaron_Guiel_0001.jpg"  # MTFL label: none


@pytest.fixture(scope="module")
def classifier():
    return GlassesClassifier()  # the shipped int8 model


def test_a_pil_image_gives_the_answer_of_its_file(classifier, data_dir):
    path = data_dir / GLASSES
    from_path = classifier.predict(path)
    with Image.open(path) as image:
        from_pil = classifier.predict(image)
    assert from_pil.answer == from_path.answer
    assert from_pil.probability == pytest.approx(from_path.probability, abs=1e-6)
    assert from_pil.faces[0].box == pytest.approx(from_path.faces[0].box)


def test_the_threshold_is_inclusive_at_the_stored_value(classifier):
    t = classifier.threshold
    assert t == classifier.config.threshold and 0 < t < 1
    assert classifier.answer(t) == "glass"
    assert classifier.answer(np.nextafter(t, 0)) == "no_glass"
    assert classifier.answer(np.nextafter(t, 1)) == "glass"
    assert classifier.answer(t - 1e-3) == "no_glass"


def test_each_face_of_a_group_photo_gets_its_own_result(classifier, data_dir):
    """Two real faces side by side: glasses on the left, a larger face without on the right."""
    with_glasses = classifier.predict(data_dir / GLASSES)
    without = Image.open(data_dir / NO_GLASSES).convert("RGB").resize((300, 300))
    alone = classifier.predict(without)
    assert with_glasses.answer == "glass" and alone.answer == "no_glass"
    canvas = Image.new("RGB", (600, 320), (120, 120, 120))
    canvas.paste(Image.open(data_dir / GLASSES).convert("RGB"), (0, 35))
    canvas.paste(without, (300, 10))
    result = classifier.predict(canvas)
    assert len(result.faces) == 2
    larger, smaller = result.faces  # largest face first
    assert larger.box[0] > 300 > smaller.box[2] - 20
    assert larger.probability == pytest.approx(alone.probability, abs=0.05)
    assert smaller.probability == pytest.approx(with_glasses.probability, abs=0.05)
    assert (larger.answer, smaller.answer) == ("no_glass", "glass")
    assert result.probability == smaller.probability and result.answer == "glass"


def int8_detail(scale, zero, dtype):
    return {"dtype": dtype, "quantization": (scale, zero)}


def test_quantize_every_branch():
    crops = np.array([[0, 1, 127, 128, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(_quantize(crops, {"dtype": np.float32}), crops.astype(np.float32))
    np.testing.assert_array_equal(_quantize(crops, int8_detail(1.0, 0, np.uint8)), crops)
    # signed int8 with a zero point: x / scale + zero, rounded, clipped to [-128, 127]
    np.testing.assert_array_equal(_quantize(crops, int8_detail(1.0, -128, np.int8)),
                                  np.array([[-128, -127, -1, 0, 127]], dtype=np.int8))
    np.testing.assert_array_equal(_quantize(crops, int8_detail(2.0, 10, np.int8)),
                                  np.array([[10, 10, 74, 74, 127]], dtype=np.int8))  # 0.5 rounds to even


def test_quantize_uses_the_shortcut_only_for_plain_uint8():
    crops = np.array([[0, 1, 127, 128, 255]], dtype=np.uint8)
    cases = [((1.0, 0, np.uint8), [0, 1, 127, 128, 255]),
             ((2.0, 0, np.uint8), [0, 0, 64, 64, 128]),  # 0.5 and 63.5 round to even
             ((1.0, 1, np.uint8), [1, 2, 128, 129, 255]),  # 256 clipped to 255
             ((1.0, 0, np.int8), [0, 1, 127, 127, 127]),  # clipped to 127, not wrapped
             ((1.0, -130, np.int8), [-128, -128, -3, -2, 125]),  # clipped to -128, not wrapped
             ((0.5, 0, np.int16), [0, 2, 254, 256, 510])]
    for (scale, zero, dtype), expected in cases:
        out = _quantize(crops, int8_detail(scale, zero, dtype))
        assert out.dtype == dtype, (scale, zero, dtype)
        np.testing.assert_array_equal(out, np.array([expected]), err_msg=str((scale, zero, dtype)))
    assert _quantize(crops, {"dtype": np.float32}).dtype == np.float32


def test_dequantize_gives_float32():
    assert _dequantize(np.array([1, 2], np.int8), int8_detail(0.5, 0, np.int8)).dtype == np.float32
    assert _dequantize(np.array([0.5], np.float64), {"dtype": np.float32}).dtype == np.float32


def test_dequantize_every_branch():
    values = np.array([-128, 0, 127], dtype=np.int8)
    np.testing.assert_allclose(_dequantize(values, int8_detail(1 / 256, -128, np.int8)), [0.0, 0.5, 255 / 256])
    np.testing.assert_allclose(_dequantize(np.array([0, 255], np.uint8), int8_detail(1 / 255, 0, np.uint8)), [0, 1])
    floats = np.array([0.25], dtype=np.float32)
    np.testing.assert_array_equal(_dequantize(floats, {"dtype": np.float32}), floats)


# --- Which model files the runtime takes (resolve_model), in process ----------------------------

MODELS = Path(__file__).resolve().parent.parent / "models"
INT8 = MODELS / "glasses_int8.tflite"


def test_the_default_model_is_the_shipped_json():
    assert DEFAULT_MODEL == MODELS / "glasses.json"
    path, config = resolve_model(None)
    assert path == MODELS / "glasses_int8.tflite" and config == ModelConfig.load(MODELS / "glasses.json")


def test_a_json_names_its_tflite_relative_to_its_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "m.tflite").write_bytes(INT8.read_bytes())
    config = ModelConfig(tflite="m.tflite", threshold=0.3)
    config.save(tmp_path / "sub" / "m.json")
    assert resolve_model(str(tmp_path / "sub" / "m.json")) == (tmp_path / "sub" / "m.tflite", config)


def test_a_json_without_a_usable_tflite_is_refused(tmp_path):
    ModelConfig().save(tmp_path / "none.json")
    with pytest.raises(ModelError) as caught:
        resolve_model(tmp_path / "none.json")
    assert str(caught.value) == f"{tmp_path / 'none.json'}: no 'tflite' file named in the metadata"
    ModelConfig(tflite="gone.tflite").save(tmp_path / "gone.json")
    with pytest.raises(ModelError) as caught:
        resolve_model(tmp_path / "gone.json")
    assert str(caught.value) == f"{tmp_path / 'gone.tflite'}: model file not found"


def test_a_missing_tflite_is_refused(tmp_path):
    with pytest.raises(ModelError) as caught:
        resolve_model(tmp_path / "gone.tflite")
    assert str(caught.value) == f"{tmp_path / 'gone.tflite'}: model file not found"


def test_another_kind_of_file_is_refused_with_what_to_do():
    with pytest.raises(ModelError) as caught:
        resolve_model("runs/mine/model.keras")
    assert str(caught.value) == (
        "runs/mine/model.keras: the runtime takes a model's .json (as models/glasses.json) or a .tflite "
        "file (with its metadata inside it, or its .json beside it); convert a training run's model.keras "
        "with converters/convert_all.py RUN_DIR")


def test_a_tflite_uses_the_json_beside_it_else_its_own_metadata(tmp_path):
    stored = ModelConfig.load(MODELS / "glasses_int8.json")
    (tmp_path / "bare.tflite").write_bytes(INT8.read_bytes())
    assert resolve_model(tmp_path / "bare.tflite") == (tmp_path / "bare.tflite",
                                                       dataclasses.replace(stored, tflite="bare.tflite"))
    beside = ModelConfig(threshold=0.25, tflite="elsewhere.tflite")
    beside.save(tmp_path / "bare.json")
    assert resolve_model(tmp_path / "bare.tflite") == (tmp_path / "bare.tflite", beside)


def test_a_tflite_without_any_metadata_is_refused(tmp_path):
    from ai_edge_litert import schema_py_generated as schema
    import flatbuffers

    unpacked = schema.ModelT.InitFromPackedBuf(bytearray(INT8.read_bytes()), 0)
    unpacked.metadata = [m for m in unpacked.metadata if m.name != CONFIG_ENTRY.encode()]
    builder = flatbuffers.Builder(0)
    builder.Finish(unpacked.Pack(builder), file_identifier=b"TFL3")
    (tmp_path / "old.tflite").write_bytes(bytes(builder.Output()))
    with pytest.raises(ModelError) as caught:
        resolve_model(tmp_path / "old.tflite")
    assert str(caught.value) == (f"{tmp_path / 'old.tflite'}: no metadata: no old.json beside it and none "
                                 "inside it (converters/convert_all.py writes both)")


# --- The classifier's settings, batches and results ---------------------------------------------

def test_the_classifier_reports_its_model(classifier):
    shipped = ModelConfig.load(MODELS / "glasses.json")
    assert classifier.model_path == MODELS / "glasses_int8.tflite" and classifier.config == shipped
    assert classifier.version == shipped.version == "0.3.1"
    assert classifier.model_id == shipped.model_id == "0.3.1+6b7c0cf043da"
    assert classifier.kinds == shipped.kinds == ("clear", "dark")


def test_a_threshold_given_overrides_the_stored_one(tmp_path):
    (tmp_path / "m.tflite").write_bytes(INT8.read_bytes())
    ModelConfig(tflite="m.tflite", labels=("plain", "specs"), threshold=0.5, version="7.0.0").save(tmp_path / "m.json")
    stored = GlassesClassifier(tmp_path / "m.json")
    assert stored.threshold == 0.5 and stored.model_id == "7.0.0"
    assert (stored.answer(0.5), stored.answer(0.49)) == ("specs", "plain")
    given = GlassesClassifier(tmp_path / "m.json", threshold=1)
    assert given.threshold == 1.0 and type(given.threshold) is float
    assert (given.answer(1.0), given.answer(0.99)) == ("specs", "plain")


def crops_of(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)


def test_predict_crops_refuses_crops_of_another_shape(classifier):
    for shape in [(64, 64, 3), (1, 64, 64, 4), (1, 32, 64, 3), (1, 64, 32, 3), (1, 1, 64, 64, 3)]:
        with pytest.raises(ValueError) as caught:
            classifier.predict_crops(np.zeros(shape, np.uint8))
        assert str(caught.value) == f"crops must be (N, 64, 64, 3), got {shape}"


def test_predict_crops_of_no_crops(classifier):
    out = classifier.predict_crops(np.zeros((0, 64, 64, 3), np.uint8))
    assert out.shape == (0,) and out.dtype == np.float32


def test_any_batch_size_gives_each_crop_its_own_answer(classifier):
    crops = crops_of(5)
    one_by_one = np.concatenate([classifier.predict_crops(crops[i:i + 1]) for i in range(5)])
    assert one_by_one.shape == (5,) and one_by_one.dtype == np.float32
    assert np.all((one_by_one >= 0) & (one_by_one <= 1)) and len(set(one_by_one.tolist())) > 1
    np.testing.assert_allclose(classifier.predict_crops(crops), one_by_one, atol=1e-6)
    np.testing.assert_allclose(classifier.predict_crops(list(crops[:2])), one_by_one[:2], atol=1e-6)  # a list too
    np.testing.assert_allclose(classifier.predict_crops(crops[2:5]), one_by_one[2:], atol=1e-6)
    np.testing.assert_allclose(classifier.predict_crops(crops[4:]), one_by_one[4:], atol=1e-6)


def test_each_thread_gets_its_own_interpreter_from_a_batch_of_one(classifier):
    """A new thread's first batch of 2 must resize its fresh interpreter (made for batches of 1)."""
    crops = crops_of(2, seed=1)
    expected = np.concatenate([classifier.predict_crops(crops[:1]), classifier.predict_crops(crops[1:])])
    mine = classifier._interpreter()
    assert classifier._interpreter() is mine  # the same one again in this thread
    seen = {}

    def input_batch(interpreter):
        return int(interpreter.get_input_details()[0]["shape"][0])

    def other_thread():
        interpreter = seen["interpreter"] = classifier._interpreter()
        seen["batches"] = [(classifier._local.batch, input_batch(interpreter))]
        seen["probabilities"] = classifier.predict_crops(crops)
        seen["batches"].append((classifier._local.batch, input_batch(interpreter)))

    worker = threading.Thread(target=other_thread)
    worker.start()
    worker.join(timeout=60)
    assert seen["interpreter"] is not mine
    assert seen["batches"] == [(1, 1), (2, 2)]  # the batch it remembers is its interpreter's
    np.testing.assert_allclose(seen["probabilities"], expected, atol=1e-6)


def test_a_photo_without_a_face_says_so_and_keeps_the_fallback_crops_guess_apart(classifier):
    """Issue 29: a blank grey picture used to be a firm "no_glass" (0.55) with the fallback crop
    listed as a face. Now it answers no_face, with no probability and no face; the model's guess
    on the fallback crop is kept apart, and ``guessed()`` makes it the answer on request."""
    grey = np.full((240, 320, 3), 128, np.uint8)
    result = classifier.predict(grey)
    assert result.face_found is False and result.faces == []
    assert result.answer == "no_face" and result.probability is None
    guess = result.fallback
    assert guess.box is None and guess.score is None
    assert guess.probability == pytest.approx(
        float(classifier.predict_crops(np.stack([classifier.crops(grey)[0].pixels]))[0]), abs=1e-6)
    assert guess.answer == classifier.answer(guess.probability)
    guessed = result.guessed()
    assert (guessed.answer, guessed.probability) == (guess.answer, guess.probability)
    assert guessed.face_found is False and guessed.faces == [] and guessed.fallback == guess


def test_a_photo_with_a_face_is_its_own_guess(classifier, data_dir):
    result = classifier.predict(data_dir / GLASSES)
    assert result.face_found and result.fallback is None and result.guessed() is result


def test_predict_many_answers_each_photo_with_its_own_faces(classifier, data_dir):
    grey = np.full((240, 320, 3), 128, np.uint8)
    photo = data_dir / GLASSES
    results = classifier.predict_many([photo, grey, str(photo)], ["a", "b", "c"])
    single = classifier.predict(photo)
    assert [r.face_found for r in results] == [True, False, True]
    assert results[0] == results[2] and results[0].to_dict() == single.to_dict()
    face = results[0].faces[0]
    assert face.score is not None and 0.5 <= face.score <= 1 and len(face.box) == 4
    assert classifier.predict_many([grey]) == [classifier.predict(grey)]


def test_the_name_given_is_the_one_an_error_reports(classifier):
    with pytest.raises(ImageLoadError) as caught:
        classifier.predict(b"not an image", name="upload.jpg")
    assert (caught.value.source, caught.value.reason) == ("upload.jpg", "not a recognised image format")
    assert str(caught.value) == "upload.jpg: not a recognised image format"
    with pytest.raises(ImageLoadError) as caught:
        classifier.predict_many([np.zeros((10, 10, 3), np.uint8), b"\x00" * 10], ["ok", "second.png"])
    assert caught.value.source == "second.png"


def test_a_result_as_json():
    result = PhotoResult(answer="glass", probability=0.123456789, kind="dark", faces=[
        FaceResult(box=(10.04, 20.06, 30.0, 40.96), probability=0.987654321, answer="glass", score=0.87654321,
                   kind="dark", dark_probability=0.91234567),
        FaceResult(box=(1.0, 2.0, 3.0, 4.0), probability=0.5, answer="no_glass")])
    assert result.to_dict() == {
        "answer": "glass", "probability": 0.123457, "kind": "dark", "face_found": True,
        "faces": [{"box": [10.0, 20.1, 30.0, 41.0], "probability": 0.987654, "answer": "glass", "score": 0.8765,
                   "kind": "dark", "dark_probability": 0.912346},
                  {"box": [1.0, 2.0, 3.0, 4.0], "probability": 0.5, "answer": "no_glass", "score": None,
                   "kind": None, "dark_probability": None}],
        "fallback": None}
    assert PhotoResult(answer="no_glass", probability=0.0).to_dict() == {
        "answer": "no_glass", "probability": 0.0, "kind": None, "face_found": True, "faces": [], "fallback": None}
    none = PhotoResult(answer="no_face", probability=None, face_found=False,
                       fallback=FaceResult(box=None, probability=0.5555556, answer="no_glass"))
    assert none.to_dict() == {"answer": "no_face", "probability": None, "kind": None, "face_found": False,
                              "faces": [], "fallback": {"box": None, "probability": 0.555556, "answer": "no_glass",
                                                        "score": None, "kind": None, "dark_probability": None}}
    assert none.guessed().to_dict() == {**none.to_dict(), "answer": "no_glass", "probability": 0.555556}


def test_the_highest_face_decides_the_photo(classifier, data_dir):
    crops = classifier.crops(data_dir / GLASSES)[:1] * 3
    t = classifier.threshold
    result = classifier._photo_result(crops, [(t - 0.2, None), (t, None), (t - 0.1, None)])
    assert result.answer == "glass" and result.probability == t and result.kind is None
    assert [f.answer for f in result.faces] == ["no_glass", "glass", "no_glass"]
    assert [f.probability for f in result.faces] == [t - 0.2, t, t - 0.1]
    assert classifier._photo_result(crops[:1], [(t - 0.2, None)]).answer == "no_glass"


def test_the_face_that_decides_says_which_glasses(data_dir):
    """A model that says which glasses: each face with glasses is clear or dark at the kind
    threshold; a face without glasses has no kind, however dark; the photo's kind is its deciding
    face's."""
    classifier = GlassesClassifier(threshold=0.5)
    classifier.config = dataclasses.replace(classifier.config, kinds=("clear", "dark"), kind_threshold=0.6)
    crops = classifier.crops(data_dir / GLASSES)[:1] * 3
    result = classifier._photo_result(crops, [(0.7, 0.9), (0.95, 0.2), (0.1, 0.99)])
    assert [f.kind for f in result.faces] == ["dark", "clear", None]
    assert result.kind == "clear" and result.probability == 0.95
    assert classifier._photo_result(crops[:1], [(0.4, 0.9)]).kind is None
    assert classifier.kind(0.9, 0.6) == "dark" and classifier.kind(0.9, 0.59) == "clear"


# --- LiteRT loading (litert.py) and quiet stderr (quiet.py), which the runtime uses -------------

def test_a_missing_or_broken_model_file_is_a_model_error(tmp_path):
    with pytest.raises(ModelError) as caught:
        make_interpreter(tmp_path / "gone.tflite")
    assert str(caught.value) == f"{tmp_path / 'gone.tflite'}: model file not found"
    with pytest.raises(ModelError) as caught:
        make_interpreter(tmp_path)  # a folder is not a model file
    assert str(caught.value) == f"{tmp_path}: model file not found"
    (tmp_path / "junk.tflite").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match=r"junk\.tflite: not a usable TFLite model \(.+\)$") as caught:
        make_interpreter(str(tmp_path / "junk.tflite"))
    assert isinstance(caught.value.__cause__, (ValueError, RuntimeError))


class FakeInterpreter:
    """Stands in for LiteRT's Interpreter: records its arguments and talks on descriptor 2."""
    made = []
    fail = None

    def __init__(self, model_path, num_threads):
        FakeInterpreter.made.append((model_path, num_threads))
        os.write(2, f"  {XNNPACK_NOTE}  \nWARNING: a real problem\n{XNNPACK_NOTE} and more\n".encode())

    def allocate_tensors(self):
        if FakeInterpreter.fail:
            raise FakeInterpreter.fail

    def get_input_details(self):
        return [{"index": 0, "shape": np.array([1, 64, 64, 3]), "dtype": np.uint8, "name": "image"}]

    def get_output_details(self):
        return [{"index": 1, "shape": np.array([1, 1]), "dtype": np.uint8, "name": "probability"}]


@pytest.fixture
def fake_litert(monkeypatch):
    import ai_edge_litert.interpreter
    monkeypatch.setattr(ai_edge_litert.interpreter, "Interpreter", FakeInterpreter)
    monkeypatch.setenv(VERBOSE_ENV, "0")  # not verbose, whatever the caller's environment
    FakeInterpreter.made, FakeInterpreter.fail = [], None
    return FakeInterpreter


def test_make_interpreter_hides_only_the_xnnpack_note(fake_litert, capfd):
    interpreter = make_interpreter(INT8)
    assert isinstance(interpreter, FakeInterpreter)
    assert fake_litert.made == [(str(INT8), 1)]
    assert capfd.readouterr().err == f"WARNING: a real problem\n{XNNPACK_NOTE} and more\n"
    make_interpreter(str(INT8), num_threads=3)
    assert fake_litert.made[-1] == (str(INT8), 3)


def test_the_thread_count_reaches_every_interpreter_the_classifier_makes(fake_litert):
    """The classifier's, the face detector's and the face mesh's (all made when it is)."""
    GlassesClassifier()
    assert len(fake_litert.made) == 3 and {n for _, n in fake_litert.made} == {1}
    assert str(INT8) in [p for p, _ in fake_litert.made]
    fake_litert.made = []
    GlassesClassifier(num_threads=3)
    assert len(fake_litert.made) == 3 and {n for _, n in fake_litert.made} == {3}


@pytest.mark.parametrize("error", [ValueError("bad buffer"), RuntimeError("bad op")])
def test_a_model_litert_refuses_is_a_model_error(fake_litert, capfd, error):
    fake_litert.fail = error
    with pytest.raises(ModelError) as caught:
        make_interpreter(INT8)
    assert str(caught.value) == f"{INT8}: not a usable TFLite model ({error})"
    assert caught.value.__cause__ is error
    # what LiteRT said before failing is passed on with the error's traceback (a GlassesError is not)
    assert "WARNING: a real problem" in capfd.readouterr().err


def test_verbose_is_set_by_any_value_but_0(monkeypatch):
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    assert VERBOSE_ENV == "GLASSES_VERBOSE" and verbose() is False
    for value, expected in [("", False), ("0", False), ("1", True), ("yes", True), ("00", True)]:
        monkeypatch.setenv(VERBOSE_ENV, value)
        assert verbose() is expected, value
    monkeypatch.delenv(VERBOSE_ENV)
    set_verbose(False)
    assert VERBOSE_ENV not in os.environ
    set_verbose(True)
    assert os.environ[VERBOSE_ENV] == "1"


def test_verbose_lets_everything_through(monkeypatch, capfd):
    monkeypatch.setenv(VERBOSE_ENV, "1")
    with quiet():
        os.write(2, b"third-party note\n")
    assert capfd.readouterr().err == "third-party note\n"
    with pytest.raises(ModelError):
        with quiet():
            raise ModelError("bad")


def test_quiet_hides_everything_by_default_and_keeps_lines_whole(monkeypatch, capfd):
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    with quiet():
        os.write(2, b"noise\n")
    assert capfd.readouterr().err == ""
    with quiet(keep=lambda line: line.startswith("k")):
        os.write(2, b"k1\nnoise\nk2 \xff bytes\nk3 without newline")
    assert capfd.readouterr().err == "k1\nk2 \ufffd bytes\nk3 without newline"


def test_quiet_passes_on_everything_when_the_block_fails_but_not_for_our_errors(monkeypatch, capfd):
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    with pytest.raises(KeyError):
        with quiet(keep=lambda line: False):
            os.write(2, b"why\nit failed \xff\n")
            raise KeyError("x")
    assert capfd.readouterr().err == "why\nit failed \ufffd\n"
    with pytest.raises(ImageLoadError):
        with quiet(keep=lambda line: line.startswith("kept")):
            os.write(2, b"noise\nkept\n")
            raise ImageLoadError("x", "y")
    assert capfd.readouterr().err == "kept\n"


def test_quiet_flushes_python_stderr_and_leaks_no_descriptor(monkeypatch, capfd):
    """Python-level stderr written before the block shows; what the block writes there is hidden."""
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    buffered = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False), 1 << 16))
    monkeypatch.setattr(sys, "stderr", buffered)
    before = set(os.listdir("/dev/fd"))
    buffered.write("before\n")
    with quiet():
        buffered.write("inside\n")
    buffered.write("after\n")
    buffered.flush()
    assert set(os.listdir("/dev/fd")) == before
    assert capfd.readouterr().err == "before\nafter\n"


def test_quiet_blocks_nest_and_the_outer_one_filters_the_inner_ones_lines(monkeypatch, capfd):
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    with quiet(keep=lambda line: "outer" in line):
        with quiet(keep=lambda line: "inner" in line):
            os.write(2, b"inner only\ninner and outer\nneither\n")
        os.write(2, b"outer\n")
    assert capfd.readouterr().err == "inner and outer\nouter\n"
