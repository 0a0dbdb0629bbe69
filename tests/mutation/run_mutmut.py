"""Mutation testing of glasses_core/ and converters/parity.py with mutmut, on a fast test subset.

Copies the repository to a folder (as planted.py does), writes mutmut's settings there, runs
``mutmut run`` and writes tests/mutation/mutmut_report.md: the counts per module and every
mutant not killed, with its diff and the reason it cannot be killed where one is given in
tests/mutation/equivalent/<module>.txt (``mutant name: reason``, one per line). A mutant whose
tests ran out of time counts as killed (mutmut's "timeout": the tests noticed something), unless
it has a reason there.
Not run in CI: the first full run took 85 minutes here, on 2 cores shared with other work.
mutmut is pinned in requirements.txt; the tests are SUBSET's (about a minute in all), and
mutmut runs for each mutant only those that reach the mutated function.

    python3 tests/mutation/run_mutmut.py [--max-children 2] [--keep DIR [--resume | --report]] [NAME_PATTERN ...]

``--keep DIR --report`` only writes the report again (after editing the reasons).
``--keep DIR --resume`` goes on from an earlier run kept in DIR: the mutants it killed stay
killed, and the others are tried again with the working tree's current tests and sources; every
mutant of a function whose source changed since is tried afresh.

Each mutant's tests run in a child forked from a server that has only collected the tests
(mutmut's ``process_isolation = forkserver``): test_parity.py's Keras tests load TensorFlow,
whose threads do not survive a fork, so it must be loaded after the fork, not before.
"""
from __future__ import annotations

import argparse
import ast
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from fnmatch import fnmatch
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from planted import ROOT, copy_repository  # noqa: E402

SOURCES = ("glasses_core/", "converters/parity.py")
SUBSET = ("tests/test_crop.py", "tests/test_geometry.py", "tests/test_golden_crops.py", "tests/test_locate.py",
          "tests/test_face_detect.py", "tests/test_image_io.py", "tests/test_runtime.py", "tests/test_config.py",
          "tests/test_tflite_metadata.py", "tests/test_same_preprocessing.py", "tests/test_parity.py")
ALSO_COPY = ("models/", "research_and_train_nn/", "deploy/", "converters/", "data_scraper/")
HERE = Path(__file__).resolve().parent
REPORT = HERE / "mutmut_report.md"
EXPLAINED = HERE / "equivalent"
DETECTED = {"killed", "timeout"}
TARGET = 0.85  # issue 16: at least this share of glasses_core/'s mutants killed


def settings() -> str:
    lines = lambda values: "".join(f"\n    {v}" for v in values)  # noqa: E731
    return (f"[mutmut]\nsource_paths ={lines(SOURCES)}\nalso_copy ={lines(ALSO_COPY)}\n"
            f"pytest_add_cli_args_test_selection ={lines(SUBSET)}\n"
            "pytest_add_cli_args =\n    -p\n    no:cacheprovider\n    -q\n"
            "process_isolation = forkserver\n")


def mutmut(repo: Path, *args: str, check: bool = True) -> str:
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(repo / "mutants"), str(repo), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=repo, env=env, text=True,
                          capture_output=True)
    if check and done.returncode != 0:
        raise SystemExit(f"mutmut {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def verdicts(repo: Path) -> dict[str, str]:
    """mutmut's verdict on every mutant of the run in ``repo``."""
    return dict(line.strip().rsplit(": ", 1) for line in mutmut(repo, "results", "--all", "true").splitlines()
                if ": " in line)


def explanations() -> dict[str, str]:
    """Mutant name -> why no test can kill it, from EXPLAINED/*.txt."""
    found = {}
    for path in sorted(EXPLAINED.glob("*.txt")):
        for line in path.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, reason = line.split(": ", 1)
                found[name.strip()] = reason.strip()
    return found


def resume(repo: Path) -> list[str]:
    """Bring a kept run's tests and sources up to date. Returns what to try again: the names of
    the mutants it did not kill, and a pattern for every function whose source changed."""
    again = [name for name, verdict in verdicts(repo).items() if verdict not in DETECTED]
    for new, old in (pair for s in SOURCES for pair in _pairs(ROOT / s, repo / s)):
        if not filecmp.cmp(new, old, shallow=False):
            module = ".".join(new.relative_to(ROOT).with_suffix("").parts)
            again += [f"{module}.{mangled}__mutmut_*" for mangled in changed_functions(old, new)]
            shutil.copy2(new, old)
    shutil.copytree(ROOT / "tests", repo / "tests", dirs_exist_ok=True)
    (repo / "setup.cfg").write_text(settings())
    return again


def changed_functions(old: Path, new: Path) -> list[str]:
    """mutmut's names (x_f, xǁClassǁmethod) of the functions whose source differs between two
    versions of a module, or that only the new one has."""
    def functions(path: Path) -> dict[str, str]:
        found = {}
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found[f"x_{node.name}"] = ast.dump(node)
            elif isinstance(node, ast.ClassDef):
                found.update({f"xǁ{node.name}ǁ{item.name}": ast.dump(item) for item in node.body
                              if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))})
        return found
    before, after = functions(old), functions(new)
    return sorted(name for name, tree in after.items() if before.get(name) != tree)


def _pairs(a: Path, b: Path):
    if a.is_file():
        yield a, b
    else:
        for path in sorted(a.rglob("*.py")):
            yield path, b / path.relative_to(a)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temporary folder)")
    parser.add_argument("--resume", action="store_true", help="go on from the run kept in --keep DIR")
    parser.add_argument("--report", action="store_true", help="only write the report again from the run kept "
                                                              "in --keep DIR (after editing the reasons)")
    parser.add_argument("names", nargs="*", help="only mutants matching these patterns, such as "
                                                  "'glasses_core.geometry*' (default: all)")
    args = parser.parse_args(argv)
    if (args.resume or args.report) and not (args.keep and (args.keep / "repo" / "mutants").is_dir()):
        parser.error("--resume and --report need --keep DIR holding an earlier run")
    with tempfile.TemporaryDirectory(prefix="mutmut-") as tmp:
        work = args.keep or Path(tmp)
        started = time.monotonic()
        repo, output = work / "repo", ""
        if args.resume:
            again = [n for n in resume(repo) if not args.names or any(fnmatch(n, p) for p in args.names)]
            print(f"trying again {len(again)} mutants not killed before, or functions changed since: "
                  + ", ".join(n for n in again if n.endswith("*")))
            if again:
                output = mutmut(repo, "run", "--max-children", str(args.max_children), *again, check=False)
        elif not args.report:
            repo = copy_repository(work)
            (repo / "shared").symlink_to(work / "shared")  # the tests run in repo/mutants: ../shared from there
            (repo / "setup.cfg").write_text(settings())
            # mutants/ must exist when mutmut starts: Python caches "no such folder" for a path on
            # PYTHONPATH, and the tests would then import the original code (the editable install's)
            (repo / "mutants").mkdir()
            output = mutmut(repo, "run", "--max-children", str(args.max_children), *args.names, check=False)
        unchecked = [n for n, v in verdicts(repo).items() if v == "not checked"
                     and (not args.names or any(fnmatch(n, p) for p in args.names))]
        if unchecked and not args.report:  # mutmut stopped before testing them: say why, keep the report
            print(output.replace("\r", "\n")[-3000:], file=sys.stderr)
            print(f"mutmut left {len(unchecked)} mutants unchecked (its output above); the report is "
                  "not rewritten", file=sys.stderr)
            return 1
        log = work / "passes.json"
        passes = json.loads(log.read_text()) if log.is_file() and (args.resume or args.report) else []
        if not args.report:
            passes.append({"pass": "resumed" if args.resume else "first", "children": args.max_children,
                           "minutes": round((time.monotonic() - started) / 60)})
            log.write_text(json.dumps(passes, indent=1))
        REPORT.write_text(summarise(repo, args.names, passes))
    print(REPORT.read_text()[:3000])
    return 0


def module_of(name: str) -> str:
    """'glasses_core.locate' of 'glasses_core.locate.x__starts__mutmut_1' (or of '...xǁClassǁmethod...')."""
    return re.split(r"\.x[_ǁ]", name, maxsplit=1)[0]


def kind_of(name: str, verdict: str, reasons: dict[str, str]) -> str:
    """killed, explained or unexplained. A timeout counts as killed, unless the mutant has a
    reason (an equivalent mutant cannot make a test hang: its time ran out on a busy machine)."""
    if verdict == "killed" or verdict == "timeout" and name not in reasons:
        return "killed"
    return "explained" if name in reasons else "unexplained"


def describe(passes: list[dict]) -> str:
    """'a first pass of 85 min, then 2 resumed passes (35, 23 min), with 2 children'"""
    if not passes:
        return "passes not recorded"
    first, again = passes[0], passes[1:]
    return (f"a {first['pass']} pass of {first['minutes']} min"
            + (f", then {len(again)} resumed pass{'es' if len(again) > 1 else ''} "
               f"({', '.join(str(p['minutes']) for p in again)} min)" if again else "")
            + f", with {first['children']} children")


def summarise(repo: Path, names: list[str], passes: list[dict]) -> str:
    """The report: counts per module, then the diff of every mutant not killed, with its reason."""
    found = {k: v for k, v in verdicts(repo).items() if not names or any(fnmatch(k, n) for n in names)}
    reasons = explanations()
    per_module: dict[str, Counter] = defaultdict(Counter)
    for name, verdict in found.items():
        per_module[module_of(name)][kind_of(name, verdict, reasons)] += 1
    rows = ["| module | mutants | killed | not killed, explained | not killed, unexplained |", "|---|---|---|---|---|"]
    for module, c in sorted(per_module.items()):
        rows.append(f"| `{module}` | {sum(c.values())} | {c['killed']} | {c['explained']} | {c['unexplained']} |")
    core = Counter()
    for module, c in per_module.items():
        if module.startswith("glasses_core."):
            core.update(c)
    core_total = max(sum(core.values()), 1)
    stale = sorted(n for n in reasons if found.get(n) == "killed")
    body = []
    for name, verdict in found.items():
        if kind_of(name, verdict, reasons) == "killed":
            continue
        diff = "\n".join(line for line in mutmut(repo, "show", name, check=False).splitlines()
                         if line.startswith(("-", "+")) and not line.startswith(("---", "+++")))
        why = reasons.get(name, "**UNEXPLAINED**")
        body.append(f"### `{name}` ({verdict})\n\n{why}\n\n```diff\n{diff}\n```\n")
    counts = Counter(found.values())
    return (f"# Mutation testing: mutmut on {', '.join(f'`{s}`' for s in SOURCES)}\n\n"
            f"Written by `python3 tests/mutation/run_mutmut.py` ({describe(passes)}"
            f"{'; only ' + ', '.join(f'`{n}`' for n in names) if names else ''}). "
            f"Tests: {', '.join(f'`{t}`' for t in SUBSET)}. mutmut's verdicts: "
            f"{', '.join(f'{v} {n}' for v, n in sorted(counts.items()))} (a timeout counts as killed, unless the "
            f"mutant has a reason below).\n\n"
            f"**glasses_core/: {core['killed']} of {sum(core.values())} mutants killed "
            f"({100 * core['killed'] / core_total:.1f} %; target {100 * TARGET:.0f} %); "
            f"{core['explained']} not killed, each explained below; {core['unexplained']} unexplained.**\n\n"
            + "\n".join(rows) + "\n\n"
            "Reasons come from `tests/mutation/equivalent/<module>.txt`. Most are equivalent mutants "
            "(no behaviour changes) or change only speed (LiteRT thread counts); the few that change "
            "numbers too little for any test to tell are said so, with what was measured.\n\n"
            + (f"Reasons given for mutants now killed (stale): {', '.join(stale)}.\n\n" if stale else "")
            + "## Not killed\n\n" + ("\n".join(body) or "None.\n"))


if __name__ == "__main__":
    sys.exit(main())
