"""Photos per second of deploy/run_on_folder.py on 1,000 real photos of mixed sizes.

    .venv-deploy/bin/python benchmarks/bench_folder.py [--model models/glasses.json] [--photos 1000] [--rounds 3]

The folder holds links to MTFL photos (150x150, 160x216, 250x250, 400x400) and CelebA photos
(89x109), drawn at random with a fixed seed. The runner is timed as a user runs it (a fresh
process, start-up included), with one worker and with the default (one per core); the same
photos through the runtime in this process, one by one, give the cost of the runtime alone.
Every photo is read once before anything is timed, so that none of the three pays for the disk,
and the three are measured in turn ``--rounds`` times: each figure is its median.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
RUNNER = ROOT / "deploy" / "run_on_folder.py"


def make_folder(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """Links to ``count`` real photos, 60 % MTFL and 40 % CelebA."""
    rng = random.Random(seed)
    mtfl = sorted((DATA / "mtfl").glob("*/*.jpg"))
    celeba = sorted((DATA / "celeba" / "img_align_celeba").glob("*.jpg"))
    chosen = rng.sample(mtfl, count * 6 // 10) + rng.sample(celeba, count - count * 6 // 10)
    links = []
    for i, photo in enumerate(chosen):
        link = folder / f"{i:04d}_{photo.name}"
        link.symlink_to(photo)
        links.append(link)
    return links


def time_runner(folder: Path, model: Path | None, workers: int) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, photos answered) for one run of the script in a fresh process."""
    command = [sys.executable, str(RUNNER), str(folder), "--all", "--format", "csv",
               "--workers", str(workers), "--no-progress"] + (["--model", str(model)] if model else [])
    cpu_before = _children_cpu()
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    return seconds, _children_cpu() - cpu_before, len(result.stdout.splitlines()) - 1


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the runner and its worker processes
    return usage.ru_utime + usage.ru_stime


def time_in_process(photos: list[Path], model: Path | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the runtime alone, one photo after another."""
    from glasses_core import GlassesClassifier
    classifier = GlassesClassifier(model)
    start, cpu = time.perf_counter(), time.process_time()
    for photo in photos:
        classifier.predict(photo)
    return time.perf_counter() - start, time.process_time() - cpu


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="model .json (default: the shipped model)")
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="measure all three this many times, in turn, and keep each one's median "
                             "(the machine's speed drifts by several per cent within a minute)")
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    runs: dict[str, list[tuple[float, float]]] = {}  # name -> [(photos/s, CPU ms a photo), ...]
    with tempfile.TemporaryDirectory() as tmp:
        photos = make_folder(Path(tmp), args.photos)
        for photo in photos:  # every file in the page cache first: no measurement pays for the disk
            photo.read_bytes()
        for _ in range(args.rounds):
            seconds, cpu = time_in_process(photos, args.model)
            runs.setdefault("in_process_1_thread", []).append((len(photos) / seconds, 1000 * cpu / len(photos)))
            for workers in (1, 0):  # one worker, then the default: one per core
                seconds, cpu, answered = time_runner(Path(tmp), args.model, workers)
                assert answered == len(photos), f"{answered} answers for {len(photos)} photos"
                runs.setdefault(f"runner_workers_{workers or 'auto'}", []).append(
                    (len(photos) / seconds, 1000 * cpu / len(photos)))
    results = {"photos": len(photos), "cores": cores, "python": sys.executable, "rounds": args.rounds}
    for name, measured in runs.items():
        results[name] = round(statistics.median(rate for rate, _ in measured), 1)
        results[f"{name}_cpu_ms_per_photo"] = round(statistics.median(ms for _, ms in measured), 2)
        results[f"{name}_all_rounds"] = [round(rate, 1) for rate, _ in measured]
    results["load_average_1min"] = os.getloadavg()[0]  # other work on the machine skews the numbers
    print(f"{len(photos)} photos, {cores} cores (load average {os.getloadavg()[0]:.1f}), photos per second, "
          f"median of {args.rounds} rounds:")
    for name in runs:
        print(f"  {name:24s} {results[name]:8.1f}  ({results[name + '_cpu_ms_per_photo']} ms CPU a photo; "
              f"rounds {results[name + '_all_rounds']})")
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
