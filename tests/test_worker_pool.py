"""The folder runner when its worker processes die (deploy/worker_pool.py): killed once, nothing
is lost; killed over and over, every photo still gets its row and the run ends with status 3.

The runner runs as a user runs it (the light environment, a fresh process, 2 classifying
processes: this one and one worker), and the test kills the worker with SIGKILL, as the kernel's
out-of-memory killer does."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from serving import ROOT, RUN_ON_FOLDER, deploy_python

PHOTOS = 240  # 30 batches: the run lasts a few seconds, long enough to kill workers in
INCOMPLETE = 3


@pytest.fixture(scope="module")
def photos(tmp_path_factory, data_dir) -> Path:
    """Links to real MTFL and CelebA photos."""
    folder = tmp_path_factory.mktemp("many")
    rng = random.Random(5)
    chosen = rng.sample(sorted((data_dir / "mtfl").glob("*/*.jpg")), PHOTOS // 2) + \
        rng.sample(sorted((data_dir / "celeba" / "img_align_celeba").glob("*.jpg")), PHOTOS // 2)
    for i, photo in enumerate(chosen):
        (folder / f"{i:04d}_{photo.name}").symlink_to(photo)
    return folder


def command(folder: Path, workers: int) -> list[str]:
    return [deploy_python(), str(RUN_ON_FOLDER), str(folder), "--all", "--format", "csv", "--no-progress",
            "--model", str(ROOT / "models" / "glasses.json"), "--workers", str(workers)]


@pytest.fixture(scope="module")
def reference(photos) -> str:
    """The output of a run in one process."""
    done = subprocess.run(command(photos, 1), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def workers_of(pid: int) -> list[int]:
    """The runner's worker processes (multiprocessing's spawn children, not its resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def run_killing(folder: Path, kills: int) -> tuple[subprocess.CompletedProcess, int]:
    """Run the runner with 2 processes and SIGKILL its worker ``kills`` times (each new one as it
    appears) while it runs; returns the finished run and how many kills were made."""
    runner = subprocess.Popen(command(folder, 2), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    made = 0

    def killer():
        nonlocal made
        killed: set[int] = set()
        while made < kills and runner.poll() is None:
            for pid in set(workers_of(runner.pid)) - killed:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
                made += 1
            time.sleep(0.02)

    thread = threading.Thread(target=killer)
    thread.start()
    out, err = runner.communicate(timeout=300)
    thread.join()
    return subprocess.CompletedProcess(runner.args, runner.returncode, out, err), made


def test_a_worker_killed_mid_run_loses_no_photo(photos, reference):
    """The batches the dead worker held are classified again: the output is the one-process
    output, line for line, and the run ends with status 0."""
    done, made = run_killing(photos, kills=1)
    assert made == 1
    assert done.returncode == 0, done.stderr
    assert done.stdout == reference
    assert "a worker process died (1 so far)" in done.stderr


def test_workers_that_keep_dying_cost_only_what_they_held(photos, reference):
    """Every worker killed as it starts: after 5 deaths this process classifies the rest alone.
    Every photo has its row; only the photos a dead pool held have an error, and the run ends
    with status 3 (some photos not read)."""
    done, made = run_killing(photos, kills=1000)
    assert made == 5  # no sixth pool is started
    assert done.returncode == INCOMPLETE, done.stderr
    assert "5 worker processes died: the rest is classified in this process alone" in done.stderr
    wanted, got = reference.splitlines(), done.stdout.splitlines()
    assert len(got) == len(wanted) == PHOTOS + 1
    failed = [line for line in got if "worker process" in line]
    assert 0 < len(failed) <= 2 * 8 + 5  # what the last pool held (2 batches), and one photo a death before
    assert [line for line in got if "worker process" not in line] == \
        [line for line, mine in zip(wanted, got) if "worker process" not in mine]
    assert f"{len(failed)} unreadable" in done.stderr


def test_the_runner_classifies_beside_one_worker_per_further_core(photos, reference):
    """`--workers 2` is this process and one worker (README: `--workers N` counts the runner)."""
    runner = subprocess.Popen(command(photos, 2), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = set()
    most = 0
    while runner.poll() is None:
        alive = workers_of(runner.pid)
        seen.update(alive)
        most = max(most, len(alive))
        time.sleep(0.02)
    out, err = runner.communicate(timeout=300)
    assert runner.returncode == 0, err
    assert out == reference
    assert most == 1 and len(seen) == 1
