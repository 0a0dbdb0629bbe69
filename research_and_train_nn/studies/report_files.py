"""How every study leaves its report: NAME.json and NAME.md in one folder, the Markdown printed too,
and the command line that made them (quoted at the top of the Markdown); and the arguments that say
where and of which model."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from glasses_core import DEFAULT_MODEL


def command_line(script: str, argv: list[str] | None) -> str:
    """The command that reruns ``script`` (a file of this folder) with ``argv`` (None: this process's)."""
    return f"python3 research_and_train_nn/studies/{script} " + " ".join(argv if argv is not None else sys.argv[1:])


def write_report(out: Path, name: str, report, text: str, indent: int = 1) -> None:
    """``report`` as ``out/NAME.json``, ``text`` as ``out/NAME.md`` (``out`` made), and ``text`` printed."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=indent) + "\n")
    (out / f"{name}.md").write_text(text)
    print(text)


def add_report_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """--out (the folder for NAME.md and .json) and --model (the model the study scores; the shipped one)."""
    parser.add_argument("--out", type=Path, required=True, help=f"folder for {name}.md and .json")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model .json or .tflite (default: shipped)")
