"""One command: a trained run -> every export, checked against Keras, in the run's export/ folder.

Writes ``<name>.keras`` (the Keras model every export is checked against, without its
optimizer state: for fine-tuning and for re-checking the exports), the TFLite variants
(each with its metadata inside it and in a JSON beside it, and each with a fixed-batch copy
``*_batch1.tflite`` for devices, checked through LiteRT's compiled-model API), the Core ML files, the ONNX
file, the parity report (``conversion_report.md`` and ``.json``) and ``<name>.json``: the
config naming the TFLite variant deploy/ uses by default — the smallest that passed parity,
so that int8 is chosen only when its answers and accuracy stay within tolerance. Every file
carries the run's model id (version + weights digest).

    python3 converters/convert_all.py RUN_DIR              # into RUN_DIR/export/
    python3 converters/convert_all.py RUN_DIR --out DIR    # DIR must be empty, or --force

What can be checked is checked before any work starts: the run folder, its metadata, and its
validation crops, of which the parity check needs at least 500 (--min-crops); a run trained
with --max-train N keeps at most N. Everything is written into a temporary folder beside the
output folder and moved into place at the end, so an export that stops half-way (an error, a
kill, Ctrl-C) leaves no half-filled output folder behind.

The shipped model in models/ is replaced only by converters/release.py, after its checks.

Exit status: 0 when every export passed; 1 when one failed (the files and report are still
written, the failures are named on stderr, and no failed file becomes the default: no
``<name>.json`` is written when no TFLite export passed); 2 on a bad run folder (too few
validation crops included: nothing is written), or an output folder that is not empty without
--force.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from glasses_core.config import model_id
from glasses_core.errors import GlassesError
from glasses_core.quiet import quiet, set_verbose
from converters.metadata import Metadata
from converters.parity import MIN_CROPS, format_table
from converters.runs import EXPORT_DIR, add_output_arguments, check_run, output_problem


def convert_all(run_dir: str | Path, out_dir: str | Path, name: str = "glasses",
                metadata: Metadata = Metadata(), min_crops: int = MIN_CROPS, version: str = "") -> dict:
    """Export, check and choose; returns the report (also written as JSON and Markdown).
    ``version``: the release version to give the exports instead of the run's (release.py).
    Nothing reaches ``out_dir`` before every file is written (see ``move_into_place``)."""
    check_run(run_dir, min_crops)  # in seconds, before TensorFlow is loaded and any file written
    from converters.runs import MODEL, load_run  # these import TensorFlow: not for --help

    run, out_dir = load_run(run_dir), Path(out_dir)
    if version:
        run.config = dataclasses.replace(run.config, version=version,
                                         model_id=model_id(version, Path(run_dir) / MODEL))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    staging.chmod(0o777 & ~_umask())  # as a folder made by mkdir: mkdtemp's is private
    try:
        report = export_and_check(run, run_dir, staging, name, metadata, min_crops)
        for entry in report["exports"].values():  # where the files will be
            entry["path"] = str(out_dir / Path(entry["path"]).relative_to(staging))
        if report["default"]:
            default = Path(report["exports"][report["default"]]["path"]).name
            dataclasses.replace(run.config, tflite=default).save(staging / f"{name}.json")
        (staging / "conversion_report.json").write_text(json.dumps(report, indent=2) + "\n")
        (staging / "conversion_report.md").write_text(markdown(report, name))
        move_into_place(staging, out_dir, stale=() if report["default"] else (f"{name}.json",))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def export_and_check(run, run_dir: str | Path, out_dir: Path, name: str, metadata: Metadata, min_crops: int) -> dict:
    """Every export of ``run`` written into ``out_dir``, its parity report and default."""
    from converters.parity import TOLERANCES, check_parity
    from converters.to_coreml import export_coreml
    from converters.to_onnx import export_onnx
    from converters.to_tflite import CALIBRATION_CROPS, VARIANTS, export_tflite

    run.model.save(out_dir / f"{name}.keras")  # loaded without its optimizer: weights only
    exports = {f"tflite_{v}": p for v, p in
               export_tflite(run.model, run.config, out_dir, name, VARIANTS, run.calibration).items()}
    exports.update({f"coreml_{k}": p for k, p in
                    export_coreml(run.model, run.config, out_dir, name, metadata).items()})
    exports["onnx"] = export_onnx(run.model, run.config, out_dir, name, metadata)
    report = check_parity(run.model, exports, run.crops, run.labels, run.config, min_crops)
    report.update({"run": str(run_dir), "version": run.config.version, "model_id": run.config.identity,
                   "calibration": (f"{min(len(run.calibration), CALIBRATION_CROPS)} crops from "
                                   f"{run.calibration_source}"),
                   "tolerances": {k: dataclasses.asdict(v) for k, v in TOLERANCES.items()}})
    report["default"] = choose_default(report)
    return report


def move_into_place(staging: Path, out_dir: Path, stale: tuple[str, ...] = ()) -> None:
    """Every file and package of ``staging`` into ``out_dir``: the folder renamed as a whole when
    ``out_dir`` is missing or empty; otherwise (--force, a release's staging) each entry in place
    of its namesake. ``stale``: names in ``out_dir`` to remove (a default this export has not)."""
    if out_dir.is_dir() and not any(out_dir.iterdir()):
        out_dir.rmdir()
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    for old in stale:
        (out_dir / old).unlink(missing_ok=True)
    for entry in sorted(staging.iterdir()):
        target = out_dir / entry.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        entry.replace(target)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def choose_default(report: dict) -> str | None:
    """The smallest TFLite export that passed parity (None when none did); never a fixed-batch
    copy, which the runtime would have to resize for every batch."""
    passed = [(e["size_bytes"], key) for key, e in report["exports"].items()
              if key.startswith("tflite_") and not key.endswith("_batch1") and e["passed"]]
    return min(passed)[1] if passed else None


def markdown(report: dict, name: str) -> str:
    default = report["default"]
    chosen = (f"`{Path(report['exports'][default]['path']).name}`, the smallest TFLite export that "
              f"passed, is named in `{name}.json`: deploy/ uses it by default." if default else
              "**No TFLite export passed: no default was written.**")
    lines = [
        "# Conversion report", "",
        f"Run `{report['run']}` (model {report['model_id']}): {report['crops']} validation crops "
        f"({report['positives']} with glasses); Keras accuracy {report['keras_accuracy']:.2%} at "
        f"threshold {report['threshold']}. int8 calibrated on {report['calibration']}.", "",
        format_table(report), "",
        "ΔP: difference from the Keras model's probability of glasses on the same crop. "
        "Tolerances: max |ΔP| ≤ 1e-4 for float32, ≤ 5e-3 for float16, ≤ 0.3 for int8; and for "
        "every precision the same answer on ≥ 99 % of crops and accuracy within ±0.5 points."
        + (" ΔP(dark): the same for the second answer, P(dark | glasses), on every crop, held to the same "
           "limits; same kind: on the crops with glasses, at the kind threshold."
           if any("kind_max_difference" in e for e in report["exports"].values()) else ""),
        "Core ML files are run by converters/coreml_numpy.py (their saved spec, in numpy) on "
        "every platform, and by Core ML itself on macOS; the ONNX file by onnxruntime. The "
        "`*_batch1` files are the TFLite files with a fixed batch of 1 for devices "
        "(converters/batch_one.py), run by LiteRT's compiled-model API one crop at a time.", "",
        f"Default: {chosen}", "",
        "Reproduce: `python3 converters/convert_all.py RUN_DIR`", "",
    ]
    return "\n".join(lines)


def summary(report: dict, out_dir: Path, name: str) -> list[str]:
    """The closing lines: the default, and each failed export by name (for stderr)."""
    failed = [f"  {key} ({Path(e['path']).name}): " + (e.get("error") or "; ".join(e["failures"]))
              for key, e in report["exports"].items() if not e["passed"]]
    lines = [f"{len(report['exports']) - len(failed)} of {len(report['exports'])} exports passed "
             f"(model {report['model_id']}); written to {out_dir}"]
    if failed:
        lines += ["failed, never used as the default:", *failed]
    default = report["default"]
    lines.append(f"default: {Path(report['exports'][default]['path']).name}, named in "
                 f"{out_dir / (name + '.json')}" if default else
                 "no default: no TFLite export passed, so no " + name + ".json was written")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"The run folder and its validation crops are checked before any work starts: the "
               f"parity check needs\nat least {MIN_CROPS} (--min-crops), and a run trained with "
               f"train.py --max-train N keeps at most N.\nEverything is written into a temporary "
               f"folder and moved into place at the end: an export that\nstops half-way leaves "
               f"no half-filled output folder.\n\nExit status: 0 every export passed, 1 one failed "
               f"(its files and report written), 2 bad run folder\n(too few validation crops "
               f"included: nothing written) or output folder.")
    add_output_arguments(parser)
    parser.add_argument("--training-data", default=Metadata.training_data,
                        help="what the model was trained on, for the exports' metadata")
    parser.add_argument("--min-crops", type=int, default=MIN_CROPS,
                        help=f"refuse to check parity on fewer validation crops (default: {MIN_CROPS}; "
                             f"train.py --max-train N keeps at most N)")
    args = parser.parse_args(argv)
    set_verbose(args.verbose)
    out_dir = args.out or args.run_dir / EXPORT_DIR
    problem = output_problem(out_dir, args.force)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        with quiet():
            report = convert_all(args.run_dir, out_dir, args.name,
                                 Metadata(training_data=args.training_data), args.min_crops)
    except (GlassesError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print((out_dir / "conversion_report.md").read_text())
    print("\n".join(summary(report, out_dir, args.name)), file=sys.stderr)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
