"""How every study leaves its report: NAME.json and NAME.md in one folder, the Markdown printed too,
and the command line that made them (quoted at the top of the Markdown)."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def command_line(script: str, argv: list[str] | None) -> str:
    """The command that reruns ``script`` (a file of this folder) with ``argv`` (None: this process's)."""
    return f"python3 research_and_train_nn/studies/{script} " + " ".join(argv if argv is not None else sys.argv[1:])


def write_report(out: Path, name: str, report, text: str, indent: int = 1) -> None:
    """``report`` as ``out/NAME.json``, ``text`` as ``out/NAME.md`` (``out`` made), and ``text`` printed."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=indent) + "\n")
    (out / f"{name}.md").write_text(text)
    print(text)
