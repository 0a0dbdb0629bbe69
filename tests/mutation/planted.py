"""Named bugs, planted one at a time in a copy of the repository: the normal tests must kill each.

The bugs of issue 16's review table and the bugs peer projects shipped (the pixels served were
not the pixels trained on). Each is one exact edit of one file; the runner copies the
repository (tracked and untracked, not ignored, files) to a temporary folder beside a link to
../shared, plants the bug there, runs the test files named for it with pytest (``-x``), and
writes which were killed and by which test to tests/mutation/planted_report.md. Not run in CI
(under a minute, but pytest inside pytest); tests/test_planted.py checks in CI that every edit
still applies and that the committed report has no survivor.

    python3 tests/mutation/planted.py            # all, writes the report
    python3 tests/mutation/planted.py --only rotation-sign --no-report
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPORT = Path(__file__).resolve().parent / "planted_report.md"


@dataclass(frozen=True)
class Planted:
    name: str
    what: str  # the bug, in words, and where it was seen
    file: str
    old: str  # exactly once in the file
    new: str
    tests: tuple[str, ...]  # the normal suite's test files that must kill it


PLANTED = (
    Planted("crop-red-blue-swapped", "red and blue swapped in the crop's cut (review table)",
            "glasses_core/geometry.py", "    return np.asarray(patch, dtype=np.uint8)\n",
            "    return np.asarray(patch, dtype=np.uint8)[..., ::-1]\n",
            ("tests/test_crop.py", "tests/test_same_preprocessing.py")),
    Planted("serving-float-input-over-255", "x/255 on the float model's input at serving (review table)",
            "glasses_core/runtime.py", "        return crops.astype(np.float32)\n",
            "        return crops.astype(np.float32) / 255.0\n", ("tests/test_same_preprocessing.py",)),
    Planted("int8-output-over-255", "int8 output divided by 255 instead of times its scale, 1/256 (review table)",
            "glasses_core/runtime.py", "    return ((values.astype(np.float32) - zero) * scale).astype(np.float32)\n",
            "    return ((values.astype(np.float32) - zero) / 255.0).astype(np.float32)\n",
            ("tests/test_runtime.py",)),
    Planted("rotation-sign", "the crop's rotation angle with its sign flipped (review table)",
            "glasses_core/crop.py", "    angle = math.atan2(dy, dx)\n", "    angle = -math.atan2(dy, dx)\n",
            ("tests/test_crop.py",)),
    Planted("threshold-exclusive", "the answer's >= threshold changed to > (review table)",
            "glasses_core/runtime.py", "probability >= self.threshold", "probability > self.threshold",
            ("tests/test_runtime.py",)),
    Planted("decode-bgr", "RGB turned to BGR at decoding (a peer's bug)",
            "glasses_core/image_io.py",
            '    return im if im.mode == "RGB" else im.convert("RGB")\n',
            '    return Image.merge("RGB", (im if im.mode == "RGB" else im.convert("RGB")).split()[::-1])\n',
            ("tests/test_image_io.py", "tests/test_crop.py", "tests/test_same_preprocessing.py")),
    Planted("centre-crop", "a centre crop instead of the eye crop (a peer's bug)",
            "glasses_core/crop.py", "        geometry = eye_geometry(face.right_eye, face.left_eye, config)\n",
            "        geometry = fallback_geometry(photo.size[1], photo.size[0], config)\n",
            ("tests/test_crop.py", "tests/test_same_preprocessing.py")),
    Planted("training-input-over-255", "x/255 at training, raw pixels at serving (a peer's bug)",
            "research_and_train_nn/training/fit.py",
            "        return images.astype(np.float32), labels\n",
            "        return images.astype(np.float32) / 255.0, labels\n",
            ("tests/test_same_preprocessing.py",)),
    Planted("serving-threshold-0.5", "the stored threshold ignored, 0.5 used at serving (a peer's bug)",
            "glasses_core/runtime.py",
            "        self.threshold = self.config.threshold if threshold is None else float(threshold)\n",
            "        self.threshold = 0.5 if threshold is None else float(threshold)\n",
            ("tests/test_runtime.py",)),
    Planted("one-interpreter-for-all-threads", "one LiteRT interpreter shared by every server thread",
            "glasses_core/runtime.py",
            "        self._local = threading.local()  # one interpreter per thread: LiteRT's are not thread-safe\n",
            "        self._local = type('Shared', (), {})()  # planted: one interpreter for every thread\n",
            ("tests/test_server_concurrency.py",)),
    Planted("dead-worker-loses-its-photos", "the photos a dying worker held get errors, not another try",
            "deploy/worker_pool.py", "            done[index] = _one_at_a_time(batches[index], workers, task, failed)\n",
            "            done[index] = [failed(item, DIED) for item in batches[index]]\n",
            ("tests/test_worker_pool.py",)),
    Planted("stale-crop-cache", "the crop cache keyed without the preprocessing code (review finding)",
            "research_and_train_nn/data/crop_cache.py", '"code": preprocessing_digest(core)}', '"code": ""}',
            ("tests/test_datasets.py",)),
)


def plant(root: Path, bug: Planted) -> str:
    """Make the edit in ``root``; returns the file's original text."""
    path = root / bug.file
    text = path.read_text()
    if text.count(bug.old) != 1:
        raise ValueError(f"{bug.name}: the text to replace is in {bug.file} {text.count(bug.old)} times, not once")
    path.write_text(text.replace(bug.old, bug.new))
    return text


def copy_repository(into: Path) -> Path:
    """The working tree's files (tracked and untracked, not ignored) in ``into/repo``, with
    ``into/shared`` linked to the real ../shared, so tests find their data and models."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    repo = into / "repo"
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    (into / "shared").symlink_to((ROOT.parent / "shared").resolve())
    return repo


def run_tests(repo: Path, tests: tuple[str, ...], timeout: float) -> tuple[str, str, float]:
    """(verdict, first failing test or reason, seconds) for pytest on ``tests`` in ``repo``."""
    env = {**os.environ, "PYTHONPATH": str(repo), "NO_ALBUMENTATIONS_UPDATE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-rfE", "-p", "no:cacheprovider", *tests],
                              cwd=repo, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "killed (timeout)", f"over {timeout:.0f} s", time.monotonic() - started
    seconds = time.monotonic() - started
    failed = re.search(r"^(?:FAILED|ERROR) (\S+)", done.stdout, re.M)
    if done.returncode == 0:
        return "SURVIVED", "", seconds
    if done.returncode < 0:
        return "killed (crash)", f"signal {-done.returncode}", seconds
    return "killed", failed.group(1) if failed else done.stdout.strip().splitlines()[-1], seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="only the planted bug(s) of this name")
    parser.add_argument("--no-report", action="store_true", help="do not write planted_report.md")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per bug (default 600)")
    args = parser.parse_args(argv)
    bugs = [b for b in PLANTED if not args.only or b.name in args.only]
    rows = []
    with tempfile.TemporaryDirectory(prefix="planted-") as tmp:
        repo = copy_repository(Path(tmp))
        verdict, reason, seconds = run_tests(repo, ("tests/test_planted.py", "-k", "still_applies"), args.timeout)
        if verdict != "SURVIVED":  # the clean copy must pass before any bug is planted
            raise SystemExit(f"the unplanted copy fails its tests: {reason}")
        for bug in bugs:
            original = plant(repo, bug)
            try:
                verdict, reason, seconds = run_tests(repo, bug.tests, args.timeout)
            finally:
                (repo / bug.file).write_text(original)
            rows.append(f"| `{bug.name}` | {bug.what} | `{bug.file}` | {verdict} | {reason} | {seconds:.0f} s |")
            print(rows[-1], flush=True)
    survived = sum("SURVIVED" in row for row in rows)
    if not args.no_report:
        REPORT.write_text(report(rows, survived))
    return 1 if survived else 0


def report(rows: list[str], survived: int) -> str:
    return ("# Planted bugs\n\n"
            "Written by `python3 tests/mutation/planted.py` (not run in CI: under a minute, but pytest inside pytest; "
            "`tests/test_planted.py` checks in CI that every edit still applies). Each bug is planted "
            "alone in a copy of the repository and the test files named for it in `planted.py` are run "
            "with `pytest -x`; the first test that failed is named.\n\n"
            f"{len(rows) - survived} of {len(rows)} killed.\n\n"
            "| bug | what | file | verdict | killed by | time |\n|---|---|---|---|---|---|\n"
            + "\n".join(rows) + "\n")


if __name__ == "__main__":
    sys.exit(main())
