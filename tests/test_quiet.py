"""Quiet tools: in a normal run, stderr holds the tool's own lines and no third-party notes;
GLASSES_VERBOSE=1 (the converters' --verbose) lets them through."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from glasses_core.errors import ModelError
from glasses_core.quiet import VERBOSE_ENV, quiet

ROOT = Path(__file__).resolve().parent.parent
LIGHT_PYTHON = ROOT / ".venv-deploy" / "bin" / "python"
FULL_PYTHON = ROOT / ".venv" / "bin" / "python"
SUMMARY = re.compile(r"^\d+ photos: \d+ with glasses, \d+ without.*; [\d.]+ s$")


def tool(python: Path, *args: str, verbose: bool = False) -> subprocess.CompletedProcess:
    """A tool as a person runs it: none of the test suite's logging settings in its environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", VERBOSE_ENV)}
    env["PYTHONPATH"] = str(ROOT)
    if verbose:
        env[VERBOSE_ENV] = "1"
    return subprocess.run([str(python), *args], capture_output=True, text=True, env=env, cwd=str(ROOT),
                          timeout=600)


def test_convert_all_help_prints_nothing_on_stderr():
    done = tool(FULL_PYTHON, "converters/convert_all.py", "--help")
    assert done.returncode == 0 and "--force" in done.stdout and "--verbose" in done.stdout
    assert done.stderr == ""


def test_release_help_prints_nothing_on_stderr():
    done = tool(FULL_PYTHON, "converters/release.py", "--help")
    assert done.returncode == 0 and "--version" in done.stdout and done.stderr == ""


def test_folder_runner_prints_only_its_summary_on_stderr():
    done = tool(LIGHT_PYTHON, "deploy/run_on_folder.py", "examples/")
    assert done.returncode == 0 and done.stdout
    assert len(done.stderr.splitlines()) == 1 and SUMMARY.match(done.stderr.strip()), done.stderr


def test_verbose_lets_litert_speak():
    done = tool(LIGHT_PYTHON, "deploy/run_on_folder.py", "examples/", verbose=True)
    assert done.returncode == 0 and "XNNPACK delegate" in done.stderr


def test_quiet_hides_c_level_output_and_keeps_what_it_is_told(capfd):
    with quiet(keep=lambda line: line.startswith("keep")):
        os.write(2, b"noise from C\nkeep this\n")
    assert capfd.readouterr().err == "keep this\n"


def test_quiet_passes_everything_on_when_the_block_fails(capfd):
    with pytest.raises(RuntimeError):
        with quiet():
            os.write(2, b"why it failed\n")
            raise RuntimeError("boom")
    assert capfd.readouterr().err == "why it failed\n"
    with pytest.raises(ModelError):  # our own errors explain themselves
        with quiet():
            os.write(2, b"noise\n")
            raise ModelError("bad model")
    assert capfd.readouterr().err == ""


def test_quiet_blocks_nest(capfd):
    """convert_all runs quietly and LiteRT's interpreters are made quietly inside it: the
    inner block must not wait for the outer one (it did, with a plain lock, for ever)."""
    import threading

    def nested():
        with quiet():
            with quiet(keep=lambda line: True):
                os.write(2, b"inner\n")
            os.write(2, b"outer\n")

    worker = threading.Thread(target=nested, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "nested quiet() blocks deadlocked"
    assert capfd.readouterr().err == ""  # the inner line went to the outer block, which hides it


def test_no_test_prints_past_pytest_capture():
    """The suite prints only pytest's own output: figures a test prints are captured (shown when
    it fails), never written past the capture in the middle of the dots."""
    import re
    from pathlib import Path
    tests = Path(__file__).resolve().parent
    offenders = [f"{path.name}:{number}" for path in sorted(tests.rglob("*.py")) if path.name != Path(__file__).name
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if re.search(r"\b(capsys|capfd|capsysbinary|capfdbinary)\.disabled\(", line)]
    assert offenders == []
