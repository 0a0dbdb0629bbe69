"""Photos per second of deploy/score_on_ray.py against the folder runner on the same 1,000 real
photos (bench_folder.py's folder), and what that means for a cluster.

    .venv/bin/python benchmarks/bench_ray.py [--photos 1000] [--out benchmarks/ray_results.md]

Measured in one run, on the same folder: the folder runner as a user runs it (a fresh process,
one worker per core); score_on_ray.py as a user runs it (a fresh process that starts a local
Ray); the same scoring inside a Ray that is already running (what a cluster job pays per batch
of photos: no Ray start-up); and the runtime's own CPU cost per photo, one photo after another
in this process; and what Ray Data itself costs a run, with a do-nothing function in tasks (as
score_on_ray.py runs) and in an actor pool. The scaling estimate: a node of C cores scores C / (CPU seconds a photo)
photos a second at best; Ray's measured share of that best on this machine is its efficiency.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_folder

ROOT = bench_folder.ROOT
SCORER = ROOT / "deploy" / "score_on_ray.py"
AIM = 0.8  # issue 13: Ray scoring at least this share of the folder runner's photos/s


def time_ray_fresh(folder: Path, out: Path, model: Path | None) -> float:
    """Wall seconds of score_on_ray.py in a fresh process (Ray start-up included)."""
    command = [sys.executable, str(SCORER), str(folder), "--out", str(out)] + (
        ["--model", str(model)] if model else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return time.perf_counter() - start


def time_ray_running(photos: list[Path], out: Path, model: Path | None, block: int | None = None) -> float:
    """Wall seconds of scoring ``photos`` (a file list) inside a Ray that is already started,
    with ``block`` photos a Ray Data block (and a quarter of that a batch) instead of the tool's."""
    sys.path.insert(0, str(ROOT))
    from deploy import score_on_ray
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"{photo}\n" for photo in photos))
    model_args = ["--model", str(model)] if model else []
    sizes = score_on_ray.BLOCK, score_on_ray.BATCH
    if block:
        score_on_ray.BLOCK, score_on_ray.BATCH = block, block // 4
    try:
        start = time.perf_counter()
        score_on_ray.main(["--file-list", str(listing), "--out", str(out)] + model_args)
        return time.perf_counter() - start
    finally:
        score_on_ray.BLOCK, score_on_ray.BATCH = sizes


class _Nothing:
    def __call__(self, batch):
        return batch


def _nothing(batch):
    return batch


def engine_seconds(kind: str, out: Path, rows: int = 20) -> float:
    """Median wall seconds of a Ray Data run of ``rows`` rows through a do-nothing function,
    in ``kind`` "tasks" or "actors" (a pool of one per CPU), written as Parquet: the engine's own cost."""
    import ray
    cpus = int(ray.cluster_resources()["CPU"])
    times = []
    for attempt in range(3):
        start = time.perf_counter()
        dataset = ray.data.from_items([{"path": str(i)} for i in range(rows)], override_num_blocks=cpus)
        if kind == "tasks":
            dataset = dataset.map_batches(_nothing, num_cpus=1, compute=ray.data.TaskPoolStrategy(size=cpus))
        else:
            dataset = dataset.map_batches(_Nothing, num_cpus=1, compute=ray.data.ActorPoolStrategy(size=cpus))
        dataset.write_parquet(str(out / f"{kind}{attempt}"))
        times.append(time.perf_counter() - start)
    return sorted(times)[1]


def scaling(photos_per_s: float, cores: int, cpu_ms: float, node_cores: int = 16) -> dict:
    """Expected photos a second per added node, from this machine's measurements."""
    best_here = cores * 1000 / cpu_ms
    efficiency = photos_per_s / best_here
    return {"cpu_ms_per_photo": cpu_ms, "best_photos_per_s_here": round(best_here, 1),
            "ray_efficiency": round(efficiency, 3), "node_cores": node_cores,
            "expected_photos_per_s_per_node": round(node_cores * 1000 / cpu_ms * efficiency, 1)}


def measure(count: int, model: Path | None) -> dict:
    import ray
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        photos = bench_folder.make_folder(folder, count)
        _, cpu = bench_folder.time_in_process(photos, model)
        runner, _, answered = bench_folder.time_runner(folder, model, 0)
        assert answered == count, f"{answered} answers for {count} photos"
        fresh = time_ray_fresh(folder, Path(tmp) / "fresh", model)
        ray.init(num_cpus=cores, include_dashboard=False, logging_level="warning",
                 runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
        try:
            # one untimed run first (a fifth of the photos), so that Ray's worker processes exist and
            # hold the classifier, as in a Ray that has been running: the first run in a new Ray
            # also starts the processes of its output tasks
            time_ray_running(photos[:count // 5], Path(tmp) / "warm", model)
            running = time_ray_running(photos, Path(tmp) / "running", model)
            fifth = time_ray_running(photos[:count // 5], Path(tmp) / "fifth", model)
            half_blocks = time_ray_running(photos, Path(tmp) / "half_blocks", model, block=64)
            engine = {kind: engine_seconds(kind, Path(tmp)) for kind in ("tasks", "actors")}
            from deploy.score_on_ray import BLOCK
        finally:
            ray.shutdown()
    results = {"photos": count, "cores": cores, "load_average_1min": os.getloadavg()[0],
               "runner_photos_per_s": round(count / runner, 1),
               "ray_fresh_process_photos_per_s": round(count / fresh, 1),
               "ray_running_photos_per_s": round(count / running, 1),
               "block": BLOCK, "ray_block_64_photos_per_s": round(count / half_blocks, 1),
               # the photos beyond the first fifth over the time they added: the rate once started
               "ray_marginal_photos_per_s": round((count - count // 5) / max(running - fifth, 1e-9), 1),
               "ray_fixed_seconds": round(running - count * (running - fifth) / (count - count // 5), 2),
               "engine_tasks_seconds": round(engine["tasks"], 2), "engine_actors_seconds": round(engine["actors"], 2)}
    for key in ("fresh_process", "running", "block_64", "marginal"):
        results[f"ratio_{key}"] = round(results[f"ray_{key}_photos_per_s"] / results["runner_photos_per_s"], 3)
    results["scaling"] = scaling(results["ray_marginal_photos_per_s"], cores, 1000 * cpu / count)
    return results


def verdict(r: dict) -> str:
    """Issue 13's aim: Ray scoring at least 0.8 times the runner's photos/s on the same photos."""
    if r["ratio_running"] >= AIM:
        return (f"Issue 13's aim, at least {AIM} × the runner in a running Ray, is met here "
                f"({r['ratio_running']} ×). A fresh process also starts Ray itself (seconds), which "
                "a cluster job does not.")
    return (f"Short of issue 13's aim of {AIM} × the runner in a running Ray ({r['ratio_running']} ×; "
            f"{r['ratio_marginal']} × once started).")


def markdown(r: dict) -> str:
    s = r["scaling"]
    return f"""# Ray batch scoring against the folder runner

`.venv/bin/python benchmarks/bench_ray.py --photos {r['photos']} --out benchmarks/ray_results.md`:
{r['photos']} real photos (bench_folder.py's folder: 60 % MTFL, 40 % CelebA), {r['cores']} cores,
load average {r['load_average_1min']:.2f} at the end. Measured in one run.

| how | photos/s | against the runner |
|---|---|---|
| `run_on_folder.py --all --format csv` (fresh process, one worker per core) | {r['runner_photos_per_s']} | 1 |
| `score_on_ray.py` (fresh process, starts a local Ray) | {r['ray_fresh_process_photos_per_s']} | {r['ratio_fresh_process']} |
| `score_on_ray.py` in a Ray already running (as a cluster job) | {r['ray_running_photos_per_s']} | {r['ratio_running']} |
| the same, photos beyond the first fifth (rate once started) | {r['ray_marginal_photos_per_s']} | {r['ratio_marginal']} |
| in a running Ray, blocks of 64 photos instead of {r['block']} | {r['ray_block_64_photos_per_s']} | {r['ratio_block_64']} |

In a running Ray (after one untimed run of a fifth of the photos, so that its worker processes
exist) a run costs about
{r['ray_fixed_seconds']} s more than its photos (Ray Data plans and starts, the output is
listed before and read after), then scores at the marginal rate. Ray Data alone, 20 rows
through a do-nothing function: {r['engine_tasks_seconds']} s in tasks (how score_on_ray.py
runs: each worker process loads the classifier once and keeps it), {r['engine_actors_seconds']} s
in an actor pool of one per core (a process started per actor, every run, before any model is loaded).

{verdict(r)}

Scaling, from these numbers: the runtime costs {s['cpu_ms_per_photo']:.2f} ms of CPU a photo
(one after another, in process), so this machine's best is {r['cores']} × 1000 /
{s['cpu_ms_per_photo']:.2f} = {s['best_photos_per_s_here']} photos/s; Ray's marginal rate is
{s['ray_efficiency']} of that. Each added node of {s['node_cores']} cores should add about
{s['node_cores']} × 1000 / {s['cpu_ms_per_photo']:.2f} × {s['ray_efficiency']} =
{s['expected_photos_per_s_per_node']} photos/s, as long as the storage serves the photos (about
{s['expected_photos_per_s_per_node'] * 10 / 1000:.1f} MB/s at 10 KB a photo) and runs are long
enough that the fixed start-up above is small beside them.
"""


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--model", type=Path, default=None, help="model .json (default: the shipped model)")
    parser.add_argument("--out", type=Path, default=None, help="write the results here as Markdown")
    args = parser.parse_args(argv)
    results = measure(args.photos, args.model)
    print(json.dumps(results))
    if args.out:
        args.out.write_text(markdown(results))
    return results


if __name__ == "__main__":
    main()
