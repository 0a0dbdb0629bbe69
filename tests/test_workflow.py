"""The README's way from training to a usable model, run as written on a tiny budget: train a
run, convert it (into the run folder), use the new model with the folder runner. The shipped
model in models/ must be byte for byte what it was."""
from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import documentation
from glasses_core import ModelConfig

ROOT = Path(__file__).resolve().parent.parent
TINY_BUDGET = ["--max-train", "600", "--epochs", "1"]  # 600 validation crops too: parity needs 500


def readme_workflow() -> list[list[str]]:
    """The commands of the README's block marked <!-- workflow -->."""
    text = documentation.text()
    block = re.search(r"<!-- workflow -->\n```sh\n(.*?)```", text, re.S)
    assert block, "the documentation lost its <!-- workflow --> block"
    return [shlex.split(line) for line in block.group(1).splitlines() if line.strip()]


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_readme_train_convert_use(tmp_path):
    shipped = digests(ROOT / "models")
    commands = readme_workflow()
    assert [c[1] for c in commands] == ["research_and_train_nn/train.py", "converters/convert_all.py",
                                        "deploy/run_on_folder.py"]
    run = tmp_path / "mine"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = []
    for command in commands:
        args = [a.replace("runs/mine", str(run)) for a in command[1:]]
        if command[1].endswith("train.py"):
            args += TINY_BUDGET
        done.append(subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=str(ROOT),
                                   env=env, timeout=3000))
    train, convert, use = done
    assert train.returncode == 0, train.stderr[-3000:]
    assert convert.returncode in (0, 1), convert.stderr[-3000:]  # 1: an export failed, and is named
    assert ("failed, never used as the default:" in convert.stderr) == (convert.returncode == 1)
    assert use.returncode == 0, use.stderr
    config = ModelConfig.load(run / "config.json")
    assert config.model_id.startswith(config.version + "+")
    rows = list(csv.DictReader(io.StringIO(use.stdout)))
    assert len(rows) == len(list((ROOT / "examples").glob("*.jpg"))) and {r["model"] for r in rows} == {config.model_id}
    assert digests(ROOT / "models") == shipped
