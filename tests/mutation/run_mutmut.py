"""Mutation testing of glasses_core/ and converters/parity.py with mutmut, on a fast test subset.

Copies the repository to a temporary folder (as planted.py does), writes mutmut's settings
there, runs ``mutmut run`` and writes the counts and every surviving mutant's diff to
tests/mutation/mutmut_report.md. Not run in CI: it takes about an hour on 2 cores. mutmut is
pinned in requirements.txt; the tests are those of SUBSET (about a minute in all), and mutmut
runs for each mutant only those that reach the mutated function.

    python3 tests/mutation/run_mutmut.py [--max-children 2] [--keep DIR]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from fnmatch import fnmatch
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from planted import copy_repository  # noqa: E402

SOURCES = ("glasses_core/", "converters/parity.py")
SUBSET = ("tests/test_crop.py", "tests/test_runtime.py", "tests/test_image_io.py", "tests/test_face_detect.py",
          "tests/test_same_preprocessing.py", "tests/test_parity.py")
ALSO_COPY = ("models/", "research_and_train_nn/", "deploy/", "converters/", "data_scraper/")
REPORT = Path(__file__).resolve().parent / "mutmut_report.md"


def settings() -> str:
    lines = lambda values: "".join(f"\n    {v}" for v in values)  # noqa: E731
    return (f"[mutmut]\nsource_paths ={lines(SOURCES)}\nalso_copy ={lines(ALSO_COPY)}\n"
            f"pytest_add_cli_args_test_selection ={lines(SUBSET)}\n"
            "pytest_add_cli_args =\n    -p\n    no:cacheprovider\n    -q\n")


def mutmut(repo: Path, *args: str, check: bool = True) -> str:
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(repo / "mutants"), str(repo), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=repo, env=env, text=True,
                          capture_output=True)
    if check and done.returncode != 0:
        raise SystemExit(f"mutmut {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temporary folder)")
    parser.add_argument("names", nargs="*", help="only mutants matching these patterns, such as "
                                                  "'glasses_core.geometry*' (default: all)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mutmut-") as tmp:
        work = args.keep or Path(tmp)
        repo = copy_repository(work)
        (repo / "shared").symlink_to(work / "shared")  # the tests run in repo/mutants: ../shared from there
        (repo / "setup.cfg").write_text(settings())
        started = time.monotonic()
        mutmut(repo, "run", "--max-children", str(args.max_children), *args.names, check=False)
        note = f"{(time.monotonic() - started) / 60:.0f} min with {args.max_children} children"
        REPORT.write_text(summarise(repo, args.names, note))
    print(REPORT.read_text())
    return 0


def summarise(repo: Path, names: list[str], note: str) -> str:
    """The report: mutmut's verdict on every mutant matching ``names``, the diff of each not killed."""
    verdicts = dict(line.strip().rsplit(": ", 1) for line in mutmut(repo, "results", "--all", "true").splitlines()
                    if ": " in line)
    verdicts = {k: v for k, v in verdicts.items() if not names or any(fnmatch(k, n) for n in names)}
    counts = Counter(verdicts.values())
    killed, total = counts.get("killed", 0), len(verdicts)
    body = "\n".join(f"### `{name}` ({verdict})\n\n```diff\n{mutmut(repo, 'show', name, check=False).strip()}\n```\n"
                     for name, verdict in verdicts.items() if verdict != "killed")
    return (f"# Mutation testing: mutmut on {', '.join(f'`{s}`' for s in SOURCES)}\n\n"
            f"Written by `python3 tests/mutation/run_mutmut.py` ({note}"
            f"{'; only ' + ', '.join(f'`{n}`' for n in names) if names else ''}). "
            f"Tests: {', '.join(f'`{t}`' for t in SUBSET)}.\n\n"
            f"**{killed} of {total} mutants killed ({100 * killed / max(total, 1):.1f} %).** "
            f"{', '.join(f'{v}: {n}' for v, n in sorted(counts.items()))}.\n\n## Not killed\n\n{body or 'None.'}\n")


if __name__ == "__main__":
    sys.exit(main())
