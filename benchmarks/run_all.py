"""Every benchmark in one run: writes benchmarks/results.json and benchmarks/results.md.

    .venv/bin/python benchmarks/run_all.py [--quick] [--runs 200] [--out benchmarks]
        [--skip-sizes] [--skip-latency] [--skip-pipeline] [--skip-folder] [--skip-server]
        [--skip-training] [--keep-skipped] [--note "2-core dev machine"]

Sections: the size of every export in models/; the classifier alone per crop for each TFLite
variant with 1 and 2 threads, and which is fastest here; the whole pipeline per photo at
640x480, 1920x1080 and 12 MP against the networks' own invoke times (bench_pipeline.py, with
a profile of predict() in profile_predict.txt); the folder runner's photos per second
(bench_folder.py); the server's requests per second against the runtime in process, as it
starts by default (three times in a row), with --threads 1 and as one process (bench_server.py); training throughput read from models/training_log.txt and models/history.csv (or --training-run's). ``--quick`` shortens the folder and
server runs. Timings are medians and depend on the machine and what else runs on it: the JSON
records the cores and the load average. ``--keep-skipped`` measures only the sections not
skipped and keeps the others' figures from --out's results.json (a change to the server need
not put the day's machine noise into the pipeline's figures); the table says when each kept
section was measured.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling bench_*.py scripts
import bench_folder  # noqa: E402
import bench_pipeline  # noqa: E402
import bench_server  # noqa: E402
from photos import median_ms, photo_640x480  # noqa: E402

from glasses_core import GlassesClassifier, ModelConfig  # noqa: E402
from glasses_core.errors import errors_exit_2  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
VARIANTS = ("int8", "float16", "float32")
THREADS = (1, 2)
SECTIONS = ("sizes", "latency", "pipeline", "folder", "server", "training")
SECTION_KEYS = {"sizes": "sizes_kib", "latency": "classifier_ms_per_crop", "pipeline": "pipeline", "folder": "folder",
                "server": "server", "training": "training"}  # each section's key in results.json


def kib(path: Path) -> float:
    """Size of a file, or of everything under a folder (an .mlpackage), in KiB."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 1024, 1)


def model_sizes(models: Path) -> dict:
    exports = sorted(models.glob("*.tflite")) + sorted(models.glob("*.mlmodel")) + sorted(models.glob("*.mlpackage"))
    return {p.name: kib(p) for p in exports}


def real_crop() -> np.ndarray:
    """The model input for the benchmark photo's face, (1, 64, 64, 3) uint8."""
    classifier = GlassesClassifier()
    crops = classifier.crops(photo_640x480())
    assert crops[0].face is not None, "benchmark photo has no face"
    return crops[0].pixels[None]


def classifier_latency(models: Path, runs: int) -> dict:
    """Median ms of predict_crops on one real crop, per variant and thread count."""
    crop = real_crop()
    results = {}
    for variant in VARIANTS:
        for threads in THREADS:
            classifier = GlassesClassifier(model=models / f"glasses_{variant}.json", num_threads=threads)
            results[f"{variant}_{threads}_thread"] = round(median_ms(lambda: classifier.predict_crops(crop), runs), 4)
    return results


def pipeline(models: Path, runs: int, out: Path) -> dict:
    return bench_pipeline.measure(models / "glasses.json", max(5, runs // 2), out / "profile_predict.txt")


def invoked(counts: dict) -> str:
    """'1 BlazeFace, 2 face mesh, 1 classifier': the invokes a photo made (those it did not make unsaid)."""
    names = {"blazeface": "BlazeFace", "blazeface_detail": "BlazeFace in detail", "face_mesh": "face mesh",
             "classifier": "classifier"}
    return ", ".join(f"{n} {names[name]}" for name, n in counts.items() if n)


def fastest(latency: dict) -> str:
    """The TFLite variant with the lowest single-thread time per crop."""
    return min((ms, key.split("_")[0]) for key, ms in latency.items() if key.endswith("_1_thread"))[1]


def folder(models: Path, quick: bool) -> dict:
    size = ["--photos", "200", "--rounds", "1"] if quick else ["--photos", "1000"]
    return bench_folder.main(["--model", str(models / "glasses.json"), *size])


SERVER_SETTINGS = {"default": "--processes 0", "threads_1": "--processes 0 --threads 1",
                   "processes_1": "--processes 1"}


def server(models: Path, quick: bool) -> dict:
    """The server as it starts by default (one process per core, photos classified on each event
    loop's thread), then with one inference thread per process, then as one process, each
    against the runtime in process with as many inference threads."""
    seconds = ["--seconds", "5", "--in-process-seconds", "3"] if quick else []
    repeat = {"default": ["--repeat", "1" if quick else "3"]}  # issue 26: at 0.9 or more three times in a row
    return {name: bench_server.main(["--model", str(models / "glasses.json"), "--server-args", settings, *seconds,
                                     *repeat.get(name, [])])
            for name, settings in SERVER_SETTINGS.items()}


def training(models: Path) -> dict:
    """Training throughput from a run's log and history (the shipped model's, or --training-run's)."""
    log = (models / "training_log.txt").read_text()
    crops = int(re.search(r"^train (\d+) crops", log, re.M).group(1))
    epoch_s = [int(s) for s in re.findall(r"^\d+/\d+ - (\d+)s - ", log, re.M)]
    wall = int(re.search(r"training took (\d+) s", log).group(1))
    with open(models / "history.csv", newline="") as f:
        epochs = len(list(csv.DictReader(f)))
    if not epoch_s or len(epoch_s) != epochs:
        raise ValueError(f"{models}: {len(epoch_s)} epoch times in training_log.txt, {epochs} rows in history.csv")
    version = json.loads((models / "train_config.json").read_text()).get("version", "?")
    return {"version": version, "run": str(models), "train_crops_per_epoch": crops, "epochs": epochs, "wall_s": wall,
            "epoch_s_median": float(np.median(epoch_s)), "epoch_s_min": min(epoch_s), "epoch_s_max": max(epoch_s),
            "crops_per_s_median_epoch": round(crops / float(np.median(epoch_s)), 1),
            "crops_per_s_overall": round(crops * epochs / wall, 1)}


def machine(note: str) -> dict:
    return {"note": note, "cores": len(os.sched_getaffinity(0)), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "python": platform.python_version(),
            "load_average_1min_start": round(os.getloadavg()[0], 2),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def markdown(results: dict) -> str:
    """One table: a row per measurement, grouped by section."""
    m = results["machine"]
    lines = [f"Benchmarks on {m['note'] or 'this machine'}: {m['cores']} cores, {m['processor']}, "
             f"Python {m['python']}, load average {m['load_average_1min_start']} at the start "
             f"({m['date']}). Medians; other work on the machine skews them.{earlier_runs(results)}", "",
             "| section | measurement | value |", "|---|---|---|"]
    lines += [f"| {section} | {name} | {value} |" for section, name, value in rows(results)]
    return "\n".join(lines) + "\n"


def rows(results: dict):
    for name, size in results.get("sizes_kib", {}).items():
        yield "model size", f"`{name}`", f"{size} KiB"
    for key, ms in results.get("classifier_ms_per_crop", {}).items():
        variant, threads = key.split("_")[:2]
        yield "classifier, 1 crop", f"{variant}, {threads} thread{'s' if threads != '1' else ''}", f"{ms:.3f} ms"
    if "classifier_ms_per_crop" in results:
        yield "classifier, 1 crop", "fastest on this CPU (1 thread)", \
            f"`glasses_{fastest(results['classifier_ms_per_crop'])}.tflite` (choose it with `--model`)"
    if "pipeline" in results:
        p = results["pipeline"]
        net = p["networks_ms"]
        yield "networks (invoke only)", "BlazeFace / face mesh / classifier", \
            f"{net['blazeface_ms']:.2f} / {net['face_mesh_ms']:.2f} / {net['classifier_ms']:.3f} ms"
        for shape, ms in net["blazeface_detail_ms"].items():
            yield "networks (invoke only)", f"BlazeFace in detail ({shape.replace('x', ' × ')} input)", f"{ms:.2f} ms"
        for size, row in p["photos"].items():
            yield f"predict() {size} ({p['model']})", "end to end", \
                f"{row['predict_ms']:.2f} ms ({row['mesh_invokes']} face-mesh invoke{'' if row['mesh_invokes'] == 1 else 's'}, decoded at 1/{', 1/'.join(map(str, row['reductions']))})"
            yield f"predict() {size} ({p['model']})", "decode / detect / refine / crop / classify", \
                " / ".join(f"{row[k + '_ms']:.2f}" for k in ("decode", "detect", "refine", "crop", "classify")) + " ms"
            yield f"predict() {size} ({p['model']})", "with a full-size decode first (0.1.0's)", \
                f"{row['predict_full_decode_ms']:.2f} ms"
            yield f"predict() {size} ({p['model']})", "its decode + every network invoke it makes", \
                f"{row['unavoidable_ms']:.2f} ms ({invoked(row['invokes'])})"
            if "cut_ms" in row:
                yield f"predict() {size} ({p['model']})", "cutting squares out of the photo (Pillow's affine sampling)", \
                    f"{row['cut_ms']:.2f} ms ({row['cuts']} cuts: face-mesh regions and crops)"
        for size, row in p.get("no_face", {}).items():
            yield f"predict() {size}, no face ({p['model']})", "end to end", \
                f"{row['predict_ms']:.2f} ms ({'a face found' if row['face_found'] else 'no face found'}, " \
                f"decoded at 1/{', 1/'.join(map(str, row['reductions']))})"
            yield f"predict() {size}, no face ({p['model']})", "its decode + every network invoke it makes", \
                f"{row['unavoidable_ms']:.2f} ms ({invoked(row['invokes'])})"
        for name, value in p["ratios"].items():
            rounds = p.get("round_ratios", {}).get(name)
            yield "ratios (one run)", name.replace("_", " "), f"{value:.2f}x" + (
                f" (median of {len(rounds)} paired rounds: {', '.join(f'{r:.2f}' for r in rounds)})" if rounds else "")
    if "folder" in results:
        f = results["folder"]
        for key in ("in_process_1_thread", "runner_workers_1", "runner_workers_auto"):
            yield f"folder runner ({f['photos']} photos)", key.replace("_", " "), f"{f[key]} photos/s"
        yield "ratios (one run)", "folder runner, workers auto vs 1 thread in process", \
            f"{f['runner_workers_auto'] / f['in_process_1_thread']:.2f}x"
    for name, s in results.get("server", {}).items():
        how = f"`{s['server_args']}`" + (" (the default)" if name == "default" else "")
        yield "REST server", f"{s['clients']} clients, {how}", \
            f"{s['server']['per_second']} req/s (p50 {s['server']['p50_ms']} ms, p99 {s['server']['p99_ms']} ms, " \
            f"{s['server']['errors']} errors)"
        yield "REST server", f"runtime in process, {s['server_threads']} thread{'s' if s['server_threads'] != 1 else ''}", f"{s['in_process']['per_second']} photos/s"
        yield "ratios (one run)", f"REST server {how} vs the runtime in process", \
            f"{s['server']['per_second'] / s['in_process']['per_second']:.2f}x"
        if "cpu_ms" in s:
            cpu = s["cpu_ms"]
            yield "ratios (one run)", f"REST server {how}: CPU time a request (server, clients) vs the runtime's a photo", \
                f"{cpu['server_per_request']:.2f} ms, {cpu['clients_per_request']:.2f} ms vs {cpu['runtime_per_photo']:.2f} ms: " \
                f"CPU time alone gives {s['cpu_ratio']:.2f}x"
        if "repeat_ratios" in s:
            yield "ratios (one run)", f"REST server {how} vs the runtime in process, {len(s['repeat_ratios'])} " \
                "runs in a row (median of each run's alternating rounds)", \
                ", ".join(f"{ratio:.2f}x" for ratio in s["repeat_ratios"])
    if "training" in results:
        t = results["training"]
        section = f"training (model {t.get('version', '?')})"
        yield section, "crops per epoch", t["train_crops_per_epoch"]
        yield section, "seconds per epoch (median, min-max)", \
            f"{t['epoch_s_median']:g} s ({t['epoch_s_min']}-{t['epoch_s_max']} s)"
        yield section, "crops per second (median epoch)", t["crops_per_s_median_epoch"]
        yield section, f"wall time, {t['epochs']} epochs", f"{t['wall_s']} s ({t['crops_per_s_overall']} crops/s)"


def earlier_runs(results: dict) -> str:
    """' Kept from an earlier run (--keep-skipped): SECTION, ... measured at DATE (load L at the start).'
    for every earlier run whose sections this file keeps; '' when every section is this run's."""
    now = results["machine"]["date"]
    kept: dict[tuple, list[str]] = {}
    for section, when in results.get("measured", {}).items():
        if when["date"] != now:
            kept.setdefault((when["date"], when["load_average_1min_start"]), []).append(section)
    return "".join(f" Kept from an earlier run (--keep-skipped): {', '.join(sections)} measured at {date} "
                   f"(load average {load} at the start)." for (date, load), sections in sorted(kept.items()))


def kept_results(out: Path) -> dict:
    """The sections of ``out``/results.json, each with when it was measured (``measured``; a file
    written before run_all recorded that: its machine's date and load, for every section in it)."""
    earlier = json.loads((out / "results.json").read_text())
    when = {k: earlier["machine"][k] for k in ("date", "load_average_1min_start")}
    present = [section for section in SECTIONS if SECTION_KEYS[section] in earlier]
    measured = earlier.get("measured") or {section: when for section in present}
    return {**{SECTION_KEYS[section]: earlier[SECTION_KEYS[section]] for section in present},
            "measured": {section: measured[section] for section in present}}


def run(args) -> dict:
    results = {"machine": machine(args.note), "runs": args.runs, "quick": args.quick}
    if args.keep_skipped:
        results.update(kept_results(args.out))
    measured_now = {k: results["machine"][k] for k in ("date", "load_average_1min_start")}
    steps = {"sizes": lambda: model_sizes(args.models),
             "latency": lambda: classifier_latency(args.models, args.runs),
             "pipeline": lambda: pipeline(args.models, args.runs, args.out),
             "folder": lambda: folder(args.models, args.quick),
             "server": lambda: server(args.models, args.quick),
             "training": lambda: training(args.training_run or args.models)}
    for section in SECTIONS:
        if getattr(args, f"skip_{section}"):
            continue
        start = time.perf_counter()
        print(f"[run_all] {section}...", flush=True)
        results[SECTION_KEYS[section]] = steps[section]()
        results.setdefault("measured", {})[section] = measured_now
        print(f"[run_all] {section} done in {time.perf_counter() - start:.1f} s", flush=True)
    results["machine"]["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks", help="folder for results.json and .md")
    parser.add_argument("--models", type=Path, default=MODELS, help="folder of the exports and their .json")
    parser.add_argument("--training-run", type=Path, default=None,
                        help="folder with the training_log.txt, history.csv and train_config.json the training rows "
                             "read (default --models: the shipped model's; 0.3.1 trained only its kind head, so "
                             "research_and_train_nn/reports/v0.3.0 gives a whole network's training)")
    parser.add_argument("--runs", type=int, default=200, help="timed runs per latency and per stage")
    parser.add_argument("--quick", action="store_true", help="200 photos for the folder runner, 5 s of server load")
    parser.add_argument("--note", default="", help="where it ran, e.g. '2-core dev machine, shared'")
    for section in SECTIONS:
        parser.add_argument(f"--skip-{section}", action="store_true", help=f"leave out the {section} section")
    parser.add_argument("--keep-skipped", action="store_true",
                        help="keep the skipped sections' figures from --out's results.json (measure again only "
                             "what a change touched); the table says when each kept section was measured")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.keep_skipped and not (args.out / "results.json").is_file():
        parser.error(f"--keep-skipped: no {args.out / 'results.json'} to keep the skipped sections from")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    ModelConfig.load(args.models / "glasses_int8.json")  # a wrong --models stops here, before --out is made
    args.out.mkdir(parents=True, exist_ok=True)
    results = run(args)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (args.out / "results.md").write_text(table)
    print(table)
    return results


if __name__ == "__main__":
    # A server run with failed requests is written down, then fails the command, as bench_server.py does.
    sys.exit(errors_exit_2(lambda: 1 if any(s["server"]["errors"] for s in main().get("server", {}).values()) else 0)())
