"""A training run killed at any moment and resumed ends exactly as one never interrupted.

The kills are real: tests/kill_training.py runs train.py in a subprocess that SIGKILLs itself at
a precise moment; then ``train.py --resume`` finishes the run in a fresh process.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from research_and_train_nn.training.run_state import RunState, write_text_atomically

ROOT = Path(__file__).resolve().parent.parent

# 96 real crops, 12 batches an epoch, 3 epochs: a few seconds of training per process.
TINY = dict(max_train=96, balanced_subset=True, epochs=3, batch_size=8, peak_lr=1e-3, bn_momentum=0.9,
            test="", strength_start=0.3, strength_end=0.8, shadows=0.5, seed=5)


def train(arguments: list, kill: list | None = None) -> subprocess.CompletedProcess:
    """train.py in a fresh process; with ``kill``, through kill_training.py (WHEN EPOCH [BATCH])."""
    script = ["tests/kill_training.py", *map(str, kill), "--"] if kill else ["research_and_train_nn/train.py"]
    return subprocess.run([sys.executable, *script, *map(str, arguments)], cwd=ROOT, capture_output=True,
                          text=True, timeout=900, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory, data_dir) -> Path:
    path = tmp_path_factory.mktemp("resume") / "tiny.json"
    path.write_text(json.dumps({**TINY, "datasets": [f"mtfl:{data_dir / 'mtfl'}"]}))
    return path


@pytest.fixture(scope="module")
def uninterrupted(tiny_config, crop_cache) -> Path:
    out = tiny_config.parent / "uninterrupted"
    finished = train(["--out", out, "--config", tiny_config, "--cache", crop_cache])
    assert finished.returncode == 0, finished.stderr[-3000:]
    return out


def kill_and_resume(kill: list, out: Path, tiny_config: Path, crop_cache: Path) -> str:
    """Train until killed at ``kill``, then resume; returns the resumed run's output."""
    killed = train(["--out", out, "--config", tiny_config, "--cache", crop_cache], kill=kill)
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-2000:] + killed.stderr[-3000:]
    resumed = train(["--out", out, "--resume", "--cache", crop_cache])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return resumed.stdout


def assert_same_run(run: Path, reference: Path) -> None:
    """Same history.csv, byte for byte, and the same weights in the best and the last model."""
    import keras
    assert (run / "history.csv").read_text() == (reference / "history.csv").read_text()
    for name in ("model.keras", last_checkpoint(reference)):
        ours, theirs = (keras.models.load_model(folder / name).get_weights() for folder in (run, reference))
        assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True)), name


def last_checkpoint(run: Path) -> str:
    return json.loads((run / "state.json").read_text())["checkpoint"]


def test_a_kill_mid_epoch_then_resume_gives_the_uninterrupted_run(uninterrupted, tiny_config, crop_cache, tmp_path):
    output = kill_and_resume(["batch", 1, 5], tmp_path / "run", tiny_config, crop_cache)
    assert "resuming after epoch 1 " in output
    assert_same_run(tmp_path / "run", uninterrupted)


def test_a_kill_while_the_checkpoint_is_written_keeps_the_previous_one(uninterrupted, tiny_config, crop_cache,
                                                                      tmp_path):
    output = kill_and_resume(["checkpoint-write", 1], tmp_path / "run", tiny_config, crop_cache)
    assert "resuming after epoch 1 " in output
    assert_same_run(tmp_path / "run", uninterrupted)
    assert sorted(p.name for p in (tmp_path / "run").glob("*.keras")) == ["checkpoint-003.keras", "model.keras"]


def test_a_kill_between_checkpoint_and_history_repeats_no_epoch(uninterrupted, tiny_config, crop_cache, tmp_path):
    output = kill_and_resume(["after-checkpoint", 1], tmp_path / "run", tiny_config, crop_cache)
    assert "resuming after epoch 1 " in output  # epoch 2's checkpoint was never recorded as done
    assert_same_run(tmp_path / "run", uninterrupted)


def test_resuming_a_finished_run_trains_nothing(uninterrupted, crop_cache, tmp_path):
    import shutil
    shutil.copytree(uninterrupted, tmp_path / "run")
    resumed = train(["--out", tmp_path / "run", "--resume", "--cache", crop_cache])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming after epoch 3 " in resumed.stdout and "Epoch " not in resumed.stdout
    assert_same_run(tmp_path / "run", uninterrupted)


def test_a_run_from_before_state_json_is_refused(tmp_path, capsys):
    from research_and_train_nn.train import main
    (tmp_path / "checkpoint.keras").write_bytes(b"PK")
    assert main(["--out", str(tmp_path), "--resume", "--test", ""]) == 2
    assert "cannot be resumed" in capsys.readouterr().err


def test_early_stopping_counts_as_keras_does():
    """should_stop over a history gives Keras's EarlyStopping decisions, resumed or not."""
    import keras

    from research_and_train_nn.training.fit import should_stop
    scores = [0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.65, 0.64, float("nan"), 0.7]
    for patience in (0, 1, 2, 3):
        keras_stops = []
        stopper = keras.callbacks.EarlyStopping(monitor="val_pr_auc", mode="max", patience=patience)
        stopper.set_model(keras.Sequential())
        stopper.on_train_begin()
        history = []
        for epoch, score in enumerate(scores):
            stopper.model.stop_training = False
            stopper.on_epoch_end(epoch, {"val_pr_auc": score})
            keras_stops.append(stopper.model.stop_training)
            history.append({"epoch": epoch, "val_pr_auc": score})
            assert should_stop(history, patience) == keras_stops[-1], (patience, epoch)
        assert any(keras_stops), patience  # the scores make every patience stop somewhere


def test_an_interrupted_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "state.json"
    write_text_atomically(path, "old")

    def dies_halfway(temporary: Path):
        temporary.write_text("ne")
        raise KeyboardInterrupt

    from research_and_train_nn.training.run_state import write_atomically
    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, dies_halfway)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_run_state_round_trips_the_random_states():
    import random

    import keras

    from research_and_train_nn.training.run_state import capture_random_states, restore_random_states
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.5)])
    model(np.ones((2, 4)), training=True)  # advances the dropout seed generator
    states = RunState([], "checkpoint-001.keras", capture_random_states(model)).random_states
    expected = random.random(), np.random.random(), model(np.ones((2, 4)), training=True).numpy()
    restore_random_states(model, json.loads(json.dumps(states)))
    assert (random.random(), np.random.random()) == expected[:2]
    assert np.array_equal(model(np.ones((2, 4)), training=True).numpy(), expected[2])
