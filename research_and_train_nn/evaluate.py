"""Evaluate a trained run on a test set: ``python3 research_and_train_nn/evaluate.py RUN_DIR``.

Writes ``evaluation_report.json`` and ``evaluation_report.md`` (into the run folder, or --out) with accuracy, balanced accuracy,
precision/recall/F1 for glasses, ROC-AUC, PR-AUC, the confusion matrix and a breakdown per
source, all at the threshold stored in the run's ``config.json`` (chosen on validation),
plus ROC/PR curves and a contact sheet of the most confident errors
(research_and_train_nn/evaluation/report.py). A report or figure already there (train.py writes
them when it has a test set) is never replaced silently: exit status 2 unless --overwrite.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from glasses_core.errors import errors_exit_2
from glasses_core.quiet import quiet, set_verbose
from research_and_train_nn.data.crops import DEFAULT_CACHE
from research_and_train_nn.evaluation.report import FIGURES, REPORTS, evaluate_run


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate a trained run folder on a test set.")
    parser.add_argument("run", type=Path, help="run folder made by train.py")
    parser.add_argument("--test", default="mtfl-test:../shared/data/mtfl", help="KIND:PATH of the test set")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="crop cache folder")
    parser.add_argument("--out", type=Path, help="folder for the report (default: the run folder)")
    parser.add_argument("--figures", type=Path, help="folder for the figures (default: --out)")
    parser.add_argument("--export", type=Path, action="append", default=[], metavar="MODEL",
                        help="also evaluate an exported model (.json or .tflite) through the serving "
                             "runtime, on the same crops (repeatable)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a report and figures already there (train.py writes them when it has "
                             "a test set); without it they are kept and nothing is evaluated")
    parser.add_argument("--verbose", action="store_true", help="let TensorFlow's own notes through to stderr")
    args = parser.parse_args(argv)
    set_verbose(args.verbose)
    taken = written_before(args.run, args.out, args.figures)
    if taken and not args.overwrite:
        print(f"error: {', '.join(map(str, taken))} already there: --overwrite to replace, or --out DIR "
              f"(and --figures DIR) for another place", file=sys.stderr)
        return 2
    with quiet():  # TensorFlow's and absl's start-up notes (--verbose shows them)
        import keras  # noqa: F401
    evaluate_run(args.run, args.test, args.cache, args.figures, args.out, tuple(args.export))
    return 0


def written_before(run: Path, out: Path | None, figures: Path | None) -> list[Path]:
    """The files of an evaluation already where this one would write."""
    out = out or run
    return [path for path in [out / name for name in REPORTS] + [(figures or out) / name for name in FIGURES]
            if path.exists()]


if __name__ == "__main__":
    sys.exit(main())
