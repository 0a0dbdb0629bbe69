"""train.py --strategy mirrored: data-parallel steps equal single-device ones, and a run completes;
--strategy multi-worker: two workers on this machine train in step."""
from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from serving import ROOT


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def test_a_mirrored_step_over_two_cpus_gives_the_single_device_weights():
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "mirrored_step.py")], env=_env(),
                            capture_output=True, text=True, check=True)
    measured = json.loads(result.stdout.splitlines()[-1])
    assert measured["replicas"] == 2
    assert measured["max_change"] > 1e-3  # the step moved the weights...
    assert measured["max_difference"] < 2e-5  # ...and both runs moved them alike


def _train(out: Path, data_dir: Path, crop_cache: Path, *strategy: str) -> list[str]:
    """train.py on a tiny budget (200 crops, one epoch of batches of 32) with ``strategy``'s flags."""
    return [sys.executable, str(ROOT / "research_and_train_nn" / "train.py"), "--out", str(out), *strategy,
            "--max-train", "200", "--epochs", "1", "--batch-size", "32", "--test", "", "--cache", str(crop_cache),
            "--dataset", f"mtfl:{data_dir / 'mtfl'}", "--dataset", f"celeba:{data_dir / 'celeba'}"]


@pytest.fixture(scope="module")
def mirrored_run(data_dir, crop_cache, tmp_path_factory) -> Path:
    """A tiny run over two logical CPUs: two replicas in one process."""
    out = tmp_path_factory.mktemp("mirrored") / "run"
    subprocess.run(_train(out, data_dir, crop_cache, "--strategy", "mirrored", "--devices", "/cpu:0,/cpu:1"),
                   env=_env(), capture_output=True, text=True, check=True, cwd=out.parent)
    return out


def test_a_short_mirrored_run_saves_a_model(mirrored_run):
    model = keras.models.load_model(mirrored_run / "model.keras")
    assert model.get_layer("stem_bn").synchronized  # built under the strategy
    assert (mirrored_run / "config.json").is_file()
    assert len((mirrored_run / "history.csv").read_text().splitlines()) == 2


def _free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (all bound at once, so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for one in sockets:
            one.bind(("127.0.0.1", 0))
        return [one.getsockname()[1] for one in sockets]
    finally:
        for one in sockets:
            one.close()


def _weights(run: Path) -> dict[str, np.ndarray]:
    model = keras.models.load_model(run / "model.keras", compile=False)
    assert model.get_layer("stem_bn").synchronized  # built under a strategy of several replicas
    return {weight.path: weight.numpy() for weight in model.weights}


def _history(run: Path) -> list[dict]:
    with open(run / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _assert_same_weights(first: dict, second: dict, tolerance: float) -> None:
    assert first.keys() == second.keys()
    for path, value in first.items():
        np.testing.assert_allclose(second[path], value, rtol=0, atol=tolerance, err_msg=path)


def test_two_workers_on_this_machine_train_in_step(data_dir, crop_cache, mirrored_run, tmp_path):
    """The README's multi-worker command, run as two processes over localhost (TF_CONFIG naming
    both): each worker trains on its half of every batch and the gradients are all-reduced, so
    both end with the same weights and history, and with those of the same run on two replicas in
    one process (--strategy mirrored). Each worker writes its own --out; the chief's is the run."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    outs = [tmp_path / f"worker{index}" for index in range(2)]
    logs = [(tmp_path / f"worker{index}.out", tmp_path / f"worker{index}.err") for index in range(2)]
    processes, codes = [], []
    try:
        for index, (out, (out_log, err_log)) in enumerate(zip(outs, logs)):
            tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
            with open(out_log, "w") as stdout, open(err_log, "w") as stderr:  # the child keeps its own copies
                processes.append(subprocess.Popen(
                    _train(out, data_dir, crop_cache, "--strategy", "multi-worker"),
                    env={**_env(), "TF_CONFIG": json.dumps(tf_config)}, stdout=stdout, stderr=stderr, cwd=tmp_path))
        deadline = time.monotonic() + 300  # about 30 s here; a worker whose peer died waits for ever
        for process in processes:
            try:
                codes.append(process.wait(timeout=max(1.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                codes.append("still running after 300 s")
    finally:
        for process in processes:
            process.kill()  # nothing for one that has exited
            process.wait()
    for index, (code, (out_log, err_log)) in enumerate(zip(codes, logs)):
        assert code == 0, f"worker {index}: {code}\n{out_log.read_text()}\n{err_log.read_text()[-3000:]}"
        assert "strategy multi-worker: 2 replicas" in out_log.read_text()
    chief = outs[0]
    assert (chief / "config.json").is_file() and len((chief / "history.csv").read_text().splitlines()) == 2
    # Every worker logs the metrics of the whole batches (so early stopping agrees) and ends with
    # the same weights, batch norm's statistics included: a synchronous all-reduce.
    assert (outs[1] / "history.csv").read_text() == (chief / "history.csv").read_text()
    _assert_same_weights(_weights(chief), _weights(outs[1]), 1e-6)
    # The same steps as two replicas in one process: each worker took its own half of each batch.
    # (Measured: equal to the bit; each sum is of two values, which no order changes.)
    (row,), (mirrored_row,) = _history(chief), _history(mirrored_run)
    assert row.keys() == mirrored_row.keys()
    np.testing.assert_allclose([float(row[key]) for key in row], [float(mirrored_row[key]) for key in row], rtol=1e-5)
    _assert_same_weights(_weights(chief), _weights(mirrored_run), 1e-5)
