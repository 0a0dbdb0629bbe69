"""One command: a trained run -> every export under models/, checked against Keras.

Writes ``<name>.keras`` (the Keras model every export is checked against, without its
optimizer state: for fine-tuning and for re-checking the exports), the TFLite variants
(each with its JSON), the Core ML files, the ONNX file, the parity report
(``conversion_report.md`` and ``.json``) and ``<name>.json``: the config naming the TFLite
variant deploy/ uses by default — the smallest that passed parity, so that int8 is chosen
only when its answers and accuracy stay within tolerance.

    python3 converters/convert_all.py RUN_DIR --out models/

Exit status: 0 when every export passed, 1 when one failed (the files and report are still
written; no default is written when no TFLite export passed), 2 on a bad run folder.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from glasses_core.errors import GlassesError
from converters.parity import MIN_CROPS, TOLERANCES, check_parity, format_table
from converters.runs import load_run
from converters.to_coreml import Metadata, export_coreml
from converters.to_onnx import export_onnx
from converters.to_tflite import CALIBRATION_CROPS, VARIANTS, export_tflite


def convert_all(run_dir: str | Path, out_dir: str | Path, name: str = "glasses",
                metadata: Metadata = Metadata(), min_crops: int = MIN_CROPS) -> dict:
    """Export, check and choose; returns the report (also written as JSON and Markdown)."""
    run, out_dir = load_run(run_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run.model.save(out_dir / f"{name}.keras")  # loaded without its optimizer: weights only
    exports = {f"tflite_{v}": p for v, p in
               export_tflite(run.model, run.config, out_dir, name, VARIANTS, run.calibration).items()}
    exports.update({f"coreml_{k}": p for k, p in
                    export_coreml(run.model, run.config, out_dir, name, metadata).items()})
    exports["onnx"] = export_onnx(run.model, run.config, out_dir, name, metadata)
    report = check_parity(run.model, exports, run.crops, run.labels, run.config, min_crops)
    report.update({"run": str(run_dir), "version": run.config.version,
                   "calibration": (f"{min(len(run.calibration), CALIBRATION_CROPS)} crops from "
                                   f"{run.calibration_source}"),
                   "tolerances": {k: dataclasses.asdict(v) for k, v in TOLERANCES.items()}})
    report["default"] = choose_default(report)
    if report["default"]:
        default = Path(report["exports"][report["default"]]["path"]).name
        dataclasses.replace(run.config, tflite=default).save(out_dir / f"{name}.json")
    (out_dir / "conversion_report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "conversion_report.md").write_text(markdown(report, name))
    return report


def choose_default(report: dict) -> str | None:
    """The smallest TFLite export that passed parity (None when none did)."""
    passed = [(e["size_bytes"], key) for key, e in report["exports"].items()
              if key.startswith("tflite_") and e["passed"]]
    return min(passed)[1] if passed else None


def markdown(report: dict, name: str) -> str:
    default = report["default"]
    chosen = (f"`{Path(report['exports'][default]['path']).name}`, the smallest TFLite export that "
              f"passed, is named in `{name}.json`: deploy/ uses it by default." if default else
              "**No TFLite export passed: no default was written.**")
    lines = [
        "# Conversion report", "",
        f"Run `{report['run']}` (version {report['version']}): {report['crops']} validation crops "
        f"({report['positives']} with glasses); Keras accuracy {report['keras_accuracy']:.2%} at "
        f"threshold {report['threshold']}. int8 calibrated on {report['calibration']}.", "",
        format_table(report), "",
        "ΔP: difference from the Keras model's probability of glasses on the same crop. "
        "Tolerances: float32 max |ΔP| ≤ 1e-4; float16 ≤ 5e-3; int8 the same answer on ≥ 99 % "
        "of crops and accuracy within ±0.5 points.",
        "Core ML files are run by converters/coreml_numpy.py (their saved spec, in numpy) on "
        "every platform, and by Core ML itself on macOS; the ONNX file by onnxruntime.", "",
        f"Default: {chosen}", "",
        "Reproduce: `python3 converters/convert_all.py RUN_DIR --out models/`", "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="training run: model.keras, config.json, val_crops.npz "
                                        "(and train_crops.npz for int8 calibration)")
    parser.add_argument("--out", default="models", help="output folder (default: models)")
    parser.add_argument("--name", default="glasses", help="file name stem (default: glasses)")
    parser.add_argument("--training-data", default=Metadata.training_data,
                        help="what the model was trained on, for the Core ML metadata")
    parser.add_argument("--min-crops", type=int, default=MIN_CROPS,
                        help=f"refuse to check parity on fewer validation crops (default: {MIN_CROPS})")
    args = parser.parse_args(argv)
    try:
        report = convert_all(args.run_dir, args.out, args.name, Metadata(training_data=args.training_data),
                             args.min_crops)
    except (GlassesError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print((Path(args.out) / "conversion_report.md").read_text())
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
