"""Parity: every export gives the Keras model's answers on real validation crops.

TFLite files run in LiteRT through the project's runtime (``GlassesClassifier``), exactly as
deploy/ runs them; their fixed-batch copies (``*_batch1.tflite``, batch_one.py) through LiteRT's
compiled-model API one crop at a time, as a device runs them. Core ML files run in the numpy executor (coreml_numpy.py) on every
platform and, on macOS, in Core ML itself too. ONNX files run in onnxruntime. Each export's
precision — read from the file, not its name — picks its tolerance (``TOLERANCES``).

    python3 converters/parity.py RUN_DIR models/glasses_int8.tflite models/glasses.mlpackage ...
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from glasses_core import GlassesClassifier, ModelConfig
from glasses_core.tflite_metadata import KIND_OUTPUT_NAME
from glasses_core.errors import GlassesError
from glasses_core.quiet import quiet, set_verbose
from glasses_core.tflite_metadata import batch_one_path
from converters.runs import load_run

MIN_CROPS = 500  # fewer validation crops than this cannot show 99 % agreement convincingly


@dataclass(frozen=True)
class Tolerance:
    """What an export of one precision must meet against Keras (None: not checked)."""
    max_difference: float | None = None  # largest |P(export) - P(keras)| over the crops
    min_agreement: float | None = None  # fraction of crops with the same answer
    max_accuracy_change: float | None = None  # |accuracy(export) - accuracy(keras)|, a fraction


# Every precision is held to the same answers and accuracy too: a file whose probabilities stay
# within its |ΔP| limit can still give other answers, when the model's probabilities crowd its
# threshold (a weak model: "same answer 0.00 %, Δ accuracy +77.5 pt" passed on |ΔP| alone).
SAME_ANSWERS = dict(min_agreement=0.99, max_accuracy_change=0.005)
TOLERANCES = {
    "float32": Tolerance(max_difference=1e-4, **SAME_ANSWERS),
    "float16": Tolerance(max_difference=5e-3, **SAME_ANSWERS),
    # max |ΔP| of the shipped int8 file: 0.147 over 2,956 validation crops (conversion_report.md): 2x
    "int8": Tolerance(max_difference=0.3, **SAME_ANSWERS),
}


def check_parity(keras_model, exports: dict[str, str | Path], crops: np.ndarray, labels: np.ndarray,
                 config: ModelConfig = ModelConfig(), min_crops: int = MIN_CROPS) -> dict:
    """Run every export on ``crops`` and compare with the Keras training model (logit output).

    ``exports``: name -> file (.tflite, .mlpackage, .mlmodel). Returns a JSON-ready report:
    the Keras accuracy, and per export its precision, size, differences, agreement, accuracy,
    tolerance and whether it passed (``passed``; ``error`` when it could not run at all).
    """
    crops, labels = np.asarray(crops), np.asarray(labels)
    if len(crops) < min_crops:
        raise ValueError(f"parity needs at least {min_crops} validation crops, got {len(crops)}")
    reference, dark = keras_answers(keras_model, crops)
    report = {"crops": int(len(crops)), "positives": int(labels.sum()), "threshold": config.threshold,
              "keras_accuracy": _accuracy(reference, labels, config.threshold), "exports": {}}
    for name, path in exports.items():
        for runner_name, run in runners(Path(path)):
            primary = runner_name in ("LiteRT", "LiteRT CompiledModel", "numpy executor", "onnxruntime")
            entry = name if primary else f"{name} ({runner_name})"
            report["exports"][entry] = compare(Path(path), runner_name, run, reference, crops, labels, config)
            if dark is not None and "error" not in report["exports"][entry]:
                compare_kinds(report["exports"][entry], Path(path), runner_name, dark, crops, labels, config)
    report["passed"] = all(e["passed"] for e in report["exports"].values())
    return report


def keras_probabilities(keras_model, crops: np.ndarray) -> np.ndarray:
    """P(glass) from the Keras training model: the reference every export is held to."""
    return keras_answers(keras_model, crops)[0]


def keras_answers(keras_model, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(P(glass), P(dark | glasses) or None for a one-answer model) from the Keras training model."""
    from research_and_train_nn.training.model import has_kind_head, inference_model

    outputs = inference_model(keras_model).predict(crops.astype(np.float32), batch_size=100, verbose=0)
    if has_kind_head(keras_model):
        return outputs[0].reshape(-1), outputs[1].reshape(-1)
    return outputs.reshape(-1), None


def kind_runner(path: Path, runner_name: str):
    """crops -> P(dark | glasses) from an export, run the way ``runner_name`` runs it."""
    if runner_name == "LiteRT CompiledModel":
        from converters.batch_one import device_probabilities
        return lambda crops: device_probabilities(path, crops, KIND_OUTPUT_NAME)
    if runner_name == "LiteRT":
        def dark(crops):
            found = GlassesClassifier(path).predict_crops_and_kinds(crops)[1]
            if found is None:
                raise GlassesError(f"{path}: no {KIND_OUTPUT_NAME} output (or no kinds in its metadata)")
            return found
        return dark
    if runner_name == "numpy executor":
        from converters import coreml_numpy
        return lambda crops: coreml_numpy.run_coreml(path, crops, output=KIND_OUTPUT_NAME)
    if runner_name == "onnxruntime":
        from converters.to_onnx import run_onnx
        return lambda crops: run_onnx(path, crops, KIND_OUTPUT_NAME)
    if runner_name == "Core ML":
        return lambda crops: coreml_dark(path, crops)
    raise GlassesError(f"{path}: no way to run its second answer with {runner_name}")


def compare_kinds(entry: dict, path: Path, runner_name: str, reference: np.ndarray, crops: np.ndarray,
                  labels: np.ndarray, config: ModelConfig) -> None:
    """The second answer's parity, added to ``entry``: the largest |ΔP(dark)| over every crop, and
    the same kind on the crops with glasses, held to the precision's limits."""
    tolerance = TOLERANCES[entry["precision"]]
    try:
        dark = np.asarray(kind_runner(path, runner_name)(crops), np.float32).reshape(-1)
    except GlassesError as err:
        entry["failures"].append(f"second answer: {err}")
        entry["passed"] = False
        return
    with_glasses = labels == 1
    said, meant = dark >= config.kind_threshold, reference >= config.kind_threshold
    entry.update({"kind_max_difference": float(np.abs(dark.astype(np.float64) - reference).max()),
                  "kind_agreement": float(np.mean(said[with_glasses] == meant[with_glasses])) if with_glasses.any() else 1.0})
    if tolerance.max_difference is not None and not entry["kind_max_difference"] <= tolerance.max_difference:
        entry["failures"].append(f"max |ΔP(dark)| {entry['kind_max_difference']:.2e} > {tolerance.max_difference:.0e}")
    if tolerance.min_agreement is not None and not entry["kind_agreement"] >= tolerance.min_agreement:
        entry["failures"].append(f"same kind on {entry['kind_agreement']:.2%} < {tolerance.min_agreement:.0%}")
    entry["passed"] = not entry["failures"]


def runners(path: Path) -> list[tuple[str, object]]:
    """(runner name, crops -> P(glass)) for each way this file can be run on this machine."""
    if path.suffix == ".tflite" and path == batch_one_path(path):
        from converters.batch_one import device_probabilities
        return [("LiteRT CompiledModel", lambda crops, positive: device_probabilities(path, crops))]
    if path.suffix == ".tflite":
        return [("LiteRT", lambda crops, positive: GlassesClassifier(path).predict_crops(crops))]
    if path.suffix in (".mlpackage", ".mlmodel"):
        from converters import coreml_numpy  # imports coremltools: only when there is Core ML to run
        found = [("numpy executor", lambda crops, positive: coreml_numpy.run_coreml(path, crops, positive))]
        if sys.platform == "darwin":
            found.append(("Core ML", lambda crops, positive: coreml_predict(path, crops, positive)))
        return found
    if path.suffix == ".onnx":
        from converters.to_onnx import run_onnx
        return [("onnxruntime", lambda crops, positive: run_onnx(path, crops))]
    raise GlassesError(f"{path}: unknown export type (expected .tflite, .mlpackage, .mlmodel or .onnx)")


def compare(path: Path, runner_name: str, run, reference: np.ndarray, crops: np.ndarray,
            labels: np.ndarray, config: ModelConfig) -> dict:
    """One export's parity figures and verdict."""
    entry = {"path": str(path), "runner": runner_name, "size_bytes": file_size(path)}
    try:
        entry["precision"] = precision_of(path)
        probabilities = np.asarray(run(crops, config.labels[1]), np.float32).reshape(-1)
    except GlassesError as err:  # a broken export fails the check with the reason, not the whole run
        return {**entry, "passed": False, "error": str(err)}
    tolerance = TOLERANCES[entry["precision"]]
    difference = np.abs(probabilities.astype(np.float64) - reference)
    accuracy = _accuracy(probabilities, labels, config.threshold)
    entry.update({
        "max_difference": float(difference.max()),
        "mean_difference": float(difference.mean()),
        "agreement": float(np.mean((probabilities >= config.threshold) == (reference >= config.threshold))),
        "accuracy": accuracy,
        "accuracy_change": accuracy - _accuracy(reference, labels, config.threshold),
        "tolerance": {k: v for k, v in asdict(tolerance).items() if v is not None},
    })
    entry["failures"] = failures(entry, tolerance)
    entry["passed"] = not entry["failures"]
    return entry


def failures(entry: dict, tolerance: Tolerance) -> list[str]:
    """Which of the tolerance's limits the figures break, in words."""
    found = []
    if tolerance.max_difference is not None and not entry["max_difference"] <= tolerance.max_difference:
        found.append(f"max |ΔP| {entry['max_difference']:.2e} > {tolerance.max_difference:.0e}")
    if tolerance.min_agreement is not None and not entry["agreement"] >= tolerance.min_agreement:
        found.append(f"same answer on {entry['agreement']:.2%} < {tolerance.min_agreement:.0%}")
    limit = tolerance.max_accuracy_change
    if limit is not None and not abs(entry["accuracy_change"]) <= limit:
        found.append(f"accuracy moved {entry['accuracy_change'] * 100:+.2f} points, limit "
                     f"±{limit * 100:.1f}")
    return found


def precision_of(path: Path) -> str:
    """"float32", "float16" or "int8", read from the file itself."""
    if path.suffix == ".tflite":
        return tflite_precision(path)
    if path.suffix == ".onnx":
        from converters.to_onnx import onnx_precision
        return onnx_precision(path)
    from converters import coreml_numpy
    return coreml_numpy.precision(path)


def tflite_precision(path: Path) -> str:
    from glasses_core.litert import make_interpreter

    interpreter = make_interpreter(path)
    if np.issubdtype(interpreter.get_input_details()[0]["dtype"], np.integer):
        return "int8"
    dtypes = {np.dtype(t["dtype"]) for t in interpreter.get_tensor_details()}
    return "float16" if np.dtype(np.float16) in dtypes else "float32"


def coreml_predict(path: Path, crops: np.ndarray, positive: str) -> np.ndarray:
    """P(``positive``) from Core ML itself (macOS only)."""
    import coremltools as ct
    from PIL import Image

    from converters.to_coreml import PROBABILITIES

    model = ct.models.MLModel(str(path))
    return np.array([model.predict({"image": Image.fromarray(crop)})[PROBABILITIES][positive]
                     for crop in crops], np.float32)


def coreml_dark(path: Path, crops: np.ndarray) -> np.ndarray:
    """P(dark | glasses) from Core ML itself (macOS only)."""
    import coremltools as ct
    from PIL import Image

    model = ct.models.MLModel(str(path))
    return np.array([np.asarray(model.predict({"image": Image.fromarray(crop)})[KIND_OUTPUT_NAME]).reshape(-1)[0]
                     for crop in crops], np.float32)


def file_size(path: Path) -> int:
    """Bytes of a file, or of every file in a folder (an .mlpackage)."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def _accuracy(probabilities: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    return float(np.mean((probabilities >= threshold) == (labels == 1)))


def format_table(report: dict) -> str:
    """The report's exports as a Markdown table."""
    kinds = any("kind_max_difference" in e for e in report["exports"].values())
    extra = (" max \\|ΔP(dark)\\| | same kind |", "---:|---:|") if kinds else ("", "")
    rows = ["| export | precision | size | max \\|ΔP\\| | mean \\|ΔP\\| | same answer | accuracy | "
            f"Δ accuracy |{extra[0]} run by | passed |",
            f"|---|---|---:|---:|---:|---:|---:|---:|{extra[1]}---|---|"]
    for name, e in report["exports"].items():
        size = f"{e['size_bytes'] / 1024:.1f} KiB"
        if "error" in e:
            rows.append(f"| {name} | {e.get('precision', '?')} | {size} | | | | | |{' | |' if kinds else ''} {e['runner']} | "
                        f"**no**: {_cell(e['error'])} |")
            continue
        verdict = "yes" if e["passed"] else "**no**: " + _cell("; ".join(e["failures"]))
        kind = (f" | {e['kind_max_difference']:.2e} | {e['kind_agreement']:.2%}" if "kind_max_difference" in e
                else " | | " if kinds else "")
        rows.append(f"| {name} | {e['precision']} | {size} | {e['max_difference']:.2e} | "
                    f"{e['mean_difference']:.2e} | {e['agreement']:.2%} | {e['accuracy']:.2%} | "
                    f"{e['accuracy_change'] * 100:+.2f} pt{kind} | {e['runner']} | {verdict} |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    """Text as one Markdown table cell: its | escaped (as in "max |ΔP|"), its lines joined."""
    return str(text).replace("\n", " ").replace("|", "\\|")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="training run: model.keras, config.json, val_crops.npz")
    parser.add_argument("exports", nargs="+", help=".tflite, .mlpackage, .mlmodel or .onnx files")
    parser.add_argument("--json", help="also write the report here")
    parser.add_argument("--verbose", action="store_true", help="also show TensorFlow's and LiteRT's messages")
    args = parser.parse_args(argv)
    set_verbose(args.verbose)
    try:
        with quiet():
            run = load_run(args.run_dir)
            report = check_parity(run.model, {Path(p).name: p for p in args.exports}, run.crops,
                                  run.labels, run.config)
    except (GlassesError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{report['crops']} validation crops, Keras accuracy {report['keras_accuracy']:.2%}\n")
    print(format_table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
