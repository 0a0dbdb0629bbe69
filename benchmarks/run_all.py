"""Every benchmark in one run: writes benchmarks/results.json and benchmarks/results.md.

    .venv/bin/python benchmarks/run_all.py [--quick] [--runs 200] [--out benchmarks]
        [--skip-sizes] [--skip-latency] [--skip-pipeline] [--skip-folder] [--skip-server]
        [--skip-training] [--note "2-core dev machine"]

Sections: the size of every export in models/; the classifier alone per crop for each TFLite
variant with 1 and 2 threads; the full pipeline per photo by stage (decode, face detection,
crop, classify) at 640x480 and 1920x1080; the folder runner's photos per second
(bench_folder.py); the server's requests per second (bench_server.py); training throughput
read from models/training_log.txt and models/history.csv. ``--quick`` shortens the folder and
server runs. Timings are medians and depend on the machine and what else runs on it: the JSON
records the cores and the load average.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling bench_*.py scripts
import bench_folder  # noqa: E402
import bench_server  # noqa: E402
from bench_detect_crop import median_ms, photo_640x480  # noqa: E402

from glasses_core import Detectors, GlassesClassifier, crop_face, load_image  # noqa: E402
from glasses_core.crop import usable_faces  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
VARIANTS = ("int8", "float16", "float32")
THREADS = (1, 2)
SECTIONS = ("sizes", "latency", "pipeline", "folder", "server", "training")


def kib(path: Path) -> float:
    """Size of a file, or of everything under a folder (an .mlpackage), in KiB."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 1024, 1)


def model_sizes(models: Path) -> dict:
    exports = sorted(models.glob("*.tflite")) + sorted(models.glob("*.mlmodel")) + sorted(models.glob("*.mlpackage"))
    return {p.name: kib(p) for p in exports}


def photo_1920x1080() -> bytes:
    """The same real photo as the 640x480 one, scaled to 1080 rows in a 1920x1080 frame."""
    small = Image.open(io.BytesIO(photo_640x480()))
    frame = Image.new("RGB", (1920, 1080), (90, 110, 120))
    frame.paste(small.resize((1440, 1080), Image.LANCZOS), (240, 0))
    buf = io.BytesIO()
    frame.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def real_crop() -> np.ndarray:
    """The model input for the benchmark photo's face, (1, 64, 64, 3) uint8."""
    classifier = GlassesClassifier()
    crops = classifier.crops(load_image(photo_640x480()))
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


def pipeline_stages(jpeg: bytes, classifier: GlassesClassifier, runs: int) -> dict:
    """Median ms of each stage for one photo, single thread, as the runtime runs them."""
    config = classifier.config.crop
    detectors = Detectors(config)
    image = load_image(jpeg)
    faces = usable_faces(detectors.detect(image), config)
    assert faces, "benchmark photo has no face"
    crops = np.stack([crop_face(image, f, config).pixels for f in faces])
    stages = {
        "decode_ms": median_ms(lambda: load_image(jpeg), runs),
        "detect_ms": median_ms(lambda: detectors.detect(image), runs),
        "crop_ms": median_ms(lambda: [crop_face(image, f, config) for f in faces], runs),
        "classify_ms": median_ms(lambda: classifier.predict_crops(crops), runs),
    }
    stages = {k: round(v, 3) for k, v in stages.items()}
    stages["total_ms"] = round(sum(stages.values()), 3)
    stages["predict_end_to_end_ms"] = round(median_ms(lambda: classifier.predict(jpeg), runs), 3)
    stages.update(jpeg_bytes=len(jpeg), faces=len(faces))
    return stages


def pipeline(models: Path, runs: int) -> dict:
    classifier = GlassesClassifier(model=models / "glasses.json")
    return {"model": classifier.model_path.name,
            "640x480": pipeline_stages(photo_640x480(), classifier, runs),
            "1920x1080": pipeline_stages(photo_1920x1080(), classifier, runs)}


def folder(models: Path, quick: bool) -> dict:
    return bench_folder.main(["--model", str(models / "glasses.json"), "--photos", "200" if quick else "1000"])


def server(models: Path, quick: bool) -> dict:
    seconds = ["--seconds", "5", "--in-process-seconds", "3"] if quick else []
    return bench_server.main(["--model", str(models / "glasses.json"), *seconds])


def training(models: Path) -> dict:
    """Training throughput from the shipped model's log and history."""
    log = (models / "training_log.txt").read_text()
    crops = int(re.search(r"^train (\d+) crops", log, re.M).group(1))
    epoch_s = [int(s) for s in re.findall(r"^\d+/\d+ - (\d+)s - ", log, re.M)]
    wall = int(re.search(r"training took (\d+) s", log).group(1))
    with open(models / "history.csv", newline="") as f:
        epochs = len(list(csv.DictReader(f)))
    if not epoch_s or len(epoch_s) != epochs:
        raise ValueError(f"{models}: {len(epoch_s)} epoch times in training_log.txt, {epochs} rows in history.csv")
    return {"train_crops_per_epoch": crops, "epochs": epochs, "wall_s": wall,
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
             f"({m['date']}). Medians; other work on the machine skews them.", "",
             "| section | measurement | value |", "|---|---|---|"]
    lines += [f"| {section} | {name} | {value} |" for section, name, value in rows(results)]
    return "\n".join(lines) + "\n"


def rows(results: dict):
    for name, size in results.get("sizes_kib", {}).items():
        yield "model size", f"`{name}`", f"{size} KiB"
    for key, ms in results.get("classifier_ms_per_crop", {}).items():
        variant, threads = key.split("_")[:2]
        yield "classifier, 1 crop", f"{variant}, {threads} thread{'s' if threads != '1' else ''}", f"{ms:.3f} ms"
    for size, stages in {k: v for k, v in results.get("pipeline", {}).items() if k != "model"}.items():
        for stage in ("decode", "detect", "crop", "classify", "total"):
            yield f"pipeline {size} ({results['pipeline']['model']})", stage, f"{stages[stage + '_ms']:.2f} ms"
        yield f"pipeline {size} ({results['pipeline']['model']})", "predict() end to end", \
            f"{stages['predict_end_to_end_ms']:.2f} ms"
    if "folder" in results:
        f = results["folder"]
        for key in ("in_process_1_thread", "runner_workers_1", "runner_workers_auto"):
            yield f"folder runner ({f['photos']} photos)", key.replace("_", " "), f"{f[key]} photos/s"
    if "server" in results:
        s = results["server"]
        yield "REST server", f"{s['clients']} clients, {s['server_threads']} threads", \
            f"{s['server']['per_second']} req/s (p50 {s['server']['p50_ms']} ms, p99 {s['server']['p99_ms']} ms, " \
            f"{s['server']['errors']} errors)"
        yield "REST server", "runtime in process, same threads", f"{s['in_process']['per_second']} photos/s"
    if "training" in results:
        t = results["training"]
        yield "training (shipped model)", "crops per epoch", t["train_crops_per_epoch"]
        yield "training (shipped model)", "seconds per epoch (median, min-max)", \
            f"{t['epoch_s_median']:g} s ({t['epoch_s_min']}-{t['epoch_s_max']} s)"
        yield "training (shipped model)", "crops per second (median epoch)", t["crops_per_s_median_epoch"]
        yield "training (shipped model)", f"wall time, {t['epochs']} epochs", \
            f"{t['wall_s']} s ({t['crops_per_s_overall']} crops/s)"


def run(args) -> dict:
    results = {"machine": machine(args.note), "runs": args.runs, "quick": args.quick}
    steps = {"sizes": ("sizes_kib", lambda: model_sizes(args.models)),
             "latency": ("classifier_ms_per_crop", lambda: classifier_latency(args.models, args.runs)),
             "pipeline": ("pipeline", lambda: pipeline(args.models, args.runs)),
             "folder": ("folder", lambda: folder(args.models, args.quick)),
             "server": ("server", lambda: server(args.models, args.quick)),
             "training": ("training", lambda: training(args.models))}
    for section in SECTIONS:
        if getattr(args, f"skip_{section}"):
            continue
        key, measure = steps[section]
        start = time.perf_counter()
        print(f"[run_all] {section}...", flush=True)
        results[key] = measure()
        print(f"[run_all] {section} done in {time.perf_counter() - start:.1f} s", flush=True)
    results["machine"]["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks", help="folder for results.json and .md")
    parser.add_argument("--models", type=Path, default=MODELS, help="folder of the exports and their .json")
    parser.add_argument("--runs", type=int, default=200, help="timed runs per latency and per stage")
    parser.add_argument("--quick", action="store_true", help="200 photos for the folder runner, 5 s of server load")
    parser.add_argument("--note", default="", help="where it ran, e.g. '2-core dev machine, shared'")
    for section in SECTIONS:
        parser.add_argument(f"--skip-{section}", action="store_true", help=f"leave out the {section} section")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (args.out / "results.md").write_text(table)
    print(table)
    return results


if __name__ == "__main__":
    # A server run with failed requests is written down, then fails the command, as bench_server.py does.
    sys.exit(1 if main().get("server", {}).get("server", {}).get("errors") else 0)
