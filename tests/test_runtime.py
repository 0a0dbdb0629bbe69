"""The runtime: every photo source, the threshold, int8 (de)quantisation, and one result per face."""
import numpy as np
import pytest
from PIL import Image

from glasses_core import GlassesClassifier
from glasses_core.runtime import _dequantize, _quantize

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


def test_dequantize_every_branch():
    values = np.array([-128, 0, 127], dtype=np.int8)
    np.testing.assert_allclose(_dequantize(values, int8_detail(1 / 256, -128, np.int8)), [0.0, 0.5, 255 / 256])
    np.testing.assert_allclose(_dequantize(np.array([0, 255], np.uint8), int8_detail(1 / 255, 0, np.uint8)), [0, 1])
    floats = np.array([0.25], dtype=np.float32)
    np.testing.assert_array_equal(_dequantize(floats, {"dtype": np.float32}), floats)
