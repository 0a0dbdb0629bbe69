"""The converters' verdict (converters/parity.py) on figures made to break one limit at a time.

The exports are the shipped files (their precision is read from them); what they "answer" is
given here, so each limit is tested on its own, at its edge and past it, in seconds.
test_converters.py runs the verdict on really converted models.
"""
from pathlib import Path

import numpy as np
import pytest

from converters.parity import TOLERANCES, compare, failures, format_table, precision_of, runners
from glasses_core import ModelConfig
from glasses_core.errors import GlassesError

MODELS = Path(__file__).resolve().parent.parent / "models"
CONFIG = ModelConfig(threshold=0.5)
N = 1000
# 1000 crops, probabilities 0.05 ... 0.95; labels agree with the answers but on 100 crops
REFERENCE = np.linspace(0.05, 0.95, N).astype(np.float32).astype(np.float64)  # exports answer in float32
LABELS = (REFERENCE >= 0.5).astype(int)
LABELS[::10] = 1 - LABELS[::10]


def verdict(file_name: str, probabilities) -> dict:
    return compare(MODELS / file_name, "LiteRT", lambda crops, positive: np.asarray(probabilities),
                   REFERENCE, np.zeros((N, 1)), LABELS, CONFIG)


def moved(count: int, better: bool = False) -> np.ndarray:
    """The reference with the ``count`` crops nearest below the threshold pushed up to it, all
    of them ones that this makes right (``better``) or wrong: accuracy moves by count / N."""
    p = REFERENCE.copy()
    pushed = [i for i in _below() if LABELS[i] == int(better)][:count]
    p[pushed] = CONFIG.threshold
    return p


def swapped(count: int) -> np.ndarray:
    """``count`` answers changed, about half of them to right and half to wrong: accuracy stays."""
    p = REFERENCE.copy()
    wrong, right = [i for i in _below() if LABELS[i] == 1], [i for i in _below() if LABELS[i] == 0]
    p[wrong[: count // 2] + right[: count - count // 2]] = CONFIG.threshold
    return p


def _below() -> list[int]:
    """Crops under the threshold, nearest first."""
    return [int(i) for i in np.argsort(np.abs(REFERENCE - CONFIG.threshold)) if REFERENCE[i] < CONFIG.threshold]


def test_an_export_with_the_keras_answers_passes():
    entry = verdict("glasses_int8.tflite", REFERENCE)
    assert entry["precision"] == "int8" and entry["passed"] and entry["failures"] == []
    assert entry["max_difference"] == 0 and entry["agreement"] == 1 and entry["accuracy_change"] == 0
    assert entry["accuracy"] == pytest.approx(0.9)
    assert entry["size_bytes"] == (MODELS / "glasses_int8.tflite").stat().st_size
    assert entry["tolerance"] == {"max_difference": 0.3, "min_agreement": 0.99, "max_accuracy_change": 0.005}


def test_int8_is_held_to_99_percent_of_the_same_answers():
    entry = verdict("glasses_int8.tflite", swapped(11))
    assert entry["agreement"] == pytest.approx(0.989) and abs(entry["accuracy_change"]) <= 0.001 + 1e-9
    assert not entry["passed"] and entry["failures"] == ["same answer on 98.90% < 99%"]
    assert verdict("glasses_int8.tflite", swapped(10))["passed"]  # 99.0 %: on the line, passes


def test_int8_is_held_to_half_a_point_of_accuracy():
    for better, sign in ((False, "-"), (True, "+")):  # a better accuracy is a change too
        entry = verdict("glasses_int8.tflite", moved(6, better))
        assert entry["agreement"] == pytest.approx(0.994)
        assert entry["failures"] == [f"accuracy moved {sign}0.60 points, limit ±0.5"]
        assert verdict("glasses_int8.tflite", moved(4, better))["passed"]


def test_int8_is_held_to_a_probability_limit():
    p = REFERENCE.copy()
    p[0] += 0.31  # far off, but on the same side of the threshold
    entry = verdict("glasses_int8.tflite", p)
    assert entry["agreement"] == 1 and entry["failures"] == ["max |ΔP| 3.10e-01 > 3e-01"]
    p[0] = REFERENCE[0] + 0.29
    assert verdict("glasses_int8.tflite", p)["passed"]


@pytest.mark.parametrize("file_name, limit", [("glasses_float32.tflite", 1e-4), ("glasses_float16.tflite", 5e-3)])
def test_float_exports_are_held_to_their_probability_limit(file_name, limit):
    p = REFERENCE.copy()
    p[3] += 0.9 * limit
    entry = verdict(file_name, p)
    assert entry["precision"] == file_name.split("_")[1].split(".")[0] and entry["passed"]
    p[3] = REFERENCE[3] + 1.5 * limit
    entry = verdict(file_name, p)
    assert not entry["passed"] and len(entry["failures"]) == 1 and entry["failures"][0].startswith("max |ΔP|")
    assert entry["tolerance"] == {"max_difference": limit}


def test_an_export_that_cannot_run_fails_with_the_reason():
    def broken(crops, positive):
        raise GlassesError("no such op")
    entry = compare(MODELS / "glasses_int8.tflite", "LiteRT", broken, REFERENCE, np.zeros((N, 1)), LABELS, CONFIG)
    assert entry == {"path": str(MODELS / "glasses_int8.tflite"), "runner": "LiteRT", "precision": "int8",
                     "size_bytes": (MODELS / "glasses_int8.tflite").stat().st_size, "passed": False,
                     "error": "no such op"}


def test_the_table_says_which_passed_and_why_not():
    report = {"exports": {"good": verdict("glasses_int8.tflite", REFERENCE),
                          "bad": verdict("glasses_int8.tflite", moved(6)),
                          "broken": {"runner": "LiteRT", "size_bytes": 2048, "precision": "int8",
                                     "passed": False, "error": "no such op"}}}
    rows = format_table(report).splitlines()
    assert len(rows) == 5 and rows[0].startswith("| export | precision | size |")
    assert rows[2].startswith("| good | int8 |") and rows[2].endswith("| LiteRT | yes |")
    assert "0.00e+00 | 0.00e+00 | 100.00% | 90.00% | +0.00 pt |" in rows[2]
    assert rows[3].endswith("**no**: accuracy moved -0.60 points, limit ±0.5 |")
    assert rows[4] == "| broken | int8 | 2.0 KiB | | | | | | LiteRT | **no**: no such op |"


def test_failures_read_every_limit():
    tolerance = TOLERANCES["int8"]
    entry = {"max_difference": 0.31, "agreement": 0.5, "accuracy_change": 0.01}
    assert len(failures(entry, tolerance)) == 3
    assert failures({"max_difference": 0.3, "agreement": 0.99, "accuracy_change": -0.004}, tolerance) == []
    assert failures({"max_difference": float("nan"), "agreement": 1.0, "accuracy_change": 0.0}, tolerance)


def test_precision_is_read_from_the_file_and_runners_by_kind(tmp_path):
    assert [precision_of(MODELS / f"glasses_{p}.tflite") for p in ("float32", "float16", "int8")] == \
        ["float32", "float16", "int8"]
    assert [name for name, _ in runners(MODELS / "glasses_int8.tflite")] == ["LiteRT"]
    assert [name for name, _ in runners(MODELS / "glasses.onnx")] == ["onnxruntime"]
    assert runners(MODELS / "glasses.mlmodel")[0][0] == "numpy executor"
    with pytest.raises(GlassesError, match="unknown export type"):
        runners(tmp_path / "model.pt")
    (_, run), = runners(MODELS / "glasses_int8.tflite")
    probabilities = run(np.zeros((2, 64, 64, 3), np.uint8), "glass")
    assert probabilities.shape == (2,) and np.all((probabilities >= 0) & (probabilities <= 1))
