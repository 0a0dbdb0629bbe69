"""What a run has finished, written so that a kill at any moment costs at most the epoch in progress.

Each finished epoch writes, in this order: its checkpoint (``checkpoint-NNN.keras`` after N
epochs: a new name each time, so the previous one stays whole until the new one is),
``history.csv``, then ``state.json``, the one record that says "N epochs done" (it names the
checkpoint and holds the history rows and the random states at the epoch's end), and last, when
the epoch is the best so far, ``model.keras`` (a copy of its checkpoint). Each file goes to a
temporary file beside it, is flushed to disk and renamed over the old one. ``--resume`` trusts
``state.json`` only: what was written after it belongs to an unfinished epoch and is redone.
"""
from __future__ import annotations

import csv
import io
import json
import os
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from glasses_core.errors import GlassesError

STATE = "state.json"
HISTORY = "history.csv"
BEST = "model.keras"  # the best epoch's checkpoint, by validation PR-AUC
RUN_FILES = ("train_config.json", BEST, "config.json", "val_crops.npz", HISTORY)  # a finished run's files


def check_run_folder(folder: Path) -> None:
    """Before hours of scoring: a folder train.py finished, or GlassesError saying what it lacks."""
    missing = [name for name in RUN_FILES if not (folder / name).is_file()]
    if missing:
        raise GlassesError(f"{folder}: not a finished training run (no {', '.join(missing)}; "
                           "train.py --out makes one)")


class RunFolderError(GlassesError):
    """A run folder cannot be used as asked (says why)."""


@dataclass(frozen=True)
class RunState:
    """The finished epochs of a run: their history rows (as in history.csv), the checkpoint
    after the last one, and the random states at its end (see ``capture_random_states``)."""
    history: list[dict]
    checkpoint: str
    random_states: dict

    @property
    def epochs_done(self) -> int:
        return len(self.history)


def checkpoint_name(epochs_done: int) -> str:
    return f"checkpoint-{epochs_done:03d}.keras"


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """``write(temporary)`` beside ``path``, flushed to disk, then renamed over ``path``: a kill
    at any moment leaves the old file or the new one, never a torn one."""
    temporary = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        write(temporary)
        _fsync(temporary, os.O_RDONLY)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync(path.parent, os.O_RDONLY | os.O_DIRECTORY)  # makes the rename itself durable


def write_text_atomically(path: Path, text: str) -> None:
    write_atomically(path, lambda temporary: temporary.write_text(text))


def save_model_atomically(model, path: Path) -> None:
    write_atomically(path, model.save)


def _fsync(path: Path, flags: int) -> None:
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def open_run(out: Path, resume: bool) -> RunState | None:
    """The finished epochs to resume from (with ``resume``), or None for a fresh start; either
    way the folder is left agreeing with the answer (no stale state, history or checkpoints)."""
    state = load_state(out) if resume else None
    if state is None:
        if resume and (out / "checkpoint.keras").is_file():
            raise RunFolderError(f"{out} was made before {STATE} existed and cannot be resumed "
                                 "safely: train it again in a new folder")
        for stale in (out / STATE, out / HISTORY):
            stale.unlink(missing_ok=True)
        remove_unfinished(out, None)
        return None
    commit_epoch(out, state)  # the folder back in line with state.json
    return state


def holds_a_run(out: Path) -> bool:
    """Whether ``out`` holds (part of) a training run."""
    return any((out / name).exists() for name in (STATE, HISTORY, BEST, "train_config.json", "config.json"))


def record_epoch(out: Path, model, history: list[dict]) -> RunState:
    """Record an epoch that has just finished (``history`` ends with its row)."""
    checkpoint = checkpoint_name(len(history))
    save_model_atomically(model, out / checkpoint)
    state = RunState(history, checkpoint, capture_random_states(model))
    commit_epoch(out, state)
    return state


def commit_epoch(out: Path, state: RunState) -> None:
    """Record ``state`` as the run's finished epochs (its checkpoint is already written), delete
    the checkpoints it supersedes and update the best model."""
    write_text_atomically(out / HISTORY, history_csv(state.history))
    write_text_atomically(out / STATE, json.dumps(asdict(state)) + "\n")
    remove_unfinished(out, state)
    keep_best(out, state)


def keep_best(out: Path, state: RunState) -> None:
    """When the last finished epoch is the best, its checkpoint becomes ``model.keras``. Done after
    state.json, and again on resume, so that ``model.keras`` never holds an unfinished epoch."""
    if state.history and epochs_since_best(state.history) == 0:
        write_atomically(out / BEST, lambda temporary: shutil.copyfile(out / state.checkpoint, temporary))


def monitored(history: list[dict]) -> str:
    """The validation figure that picks the best epoch: the PR-AUC, of the second answer in a run
    that trains the kind alone (its history has ``val_kind_pr_auc``; the first answer never changes)."""
    return "val_kind_pr_auc" if history and "val_kind_pr_auc" in history[0] else "val_pr_auc"


def epochs_since_best(history: list[dict]) -> int:
    """Epochs since the validation PR-AUC (``monitored``) last rose (0: the last epoch is the best so far).

    Counts as Keras's EarlyStopping and ModelCheckpoint do: an equal value is no improvement,
    NaN never is one."""
    best, best_epoch, key = -np.inf, -1, monitored(history)
    for epoch, row in enumerate(history):
        if float(row[key]) > best:
            best, best_epoch = float(row[key]), epoch
    return len(history) - 1 - best_epoch


def history_csv(rows: list[dict]) -> str:
    """The rows as CSV: ``epoch`` first, then the other columns sorted (as Keras's CSVLogger)."""
    text = io.StringIO()
    if rows:
        columns = ["epoch"] + sorted(set(rows[0]) - {"epoch"})
        writer = csv.DictWriter(text, columns)  # "\r\n" line ends, as CSVLogger wrote
        writer.writeheader()
        writer.writerows(rows)
    return text.getvalue()


def load_state(out: Path) -> RunState | None:
    """The finished epochs recorded in ``out``, or None when no epoch has finished."""
    path = out / STATE
    if not path.is_file():
        return None
    return RunState(**json.loads(path.read_text()))


def remove_unfinished(out: Path, state: RunState | None) -> None:
    """Delete temporary files and checkpoints that ``state`` does not name (a killed epoch's)."""
    keep = state.checkpoint if state else None
    for path in [*out.glob("checkpoint-*.keras"), *out.glob(".*.tmp-*")]:
        if path.name != keep:
            path.unlink()


def capture_random_states(model) -> dict:
    """The random states a resumed epoch needs to draw what an uninterrupted one would, and that
    ``model.save`` leaves out: Python's (``fit`` shuffles each epoch's batches with ``random``)
    and the model's seed generators (dropout's); without either, a resumed run diverges
    (tests/test_resume.py). Numpy's global state too, for anything that draws from it."""
    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return {"python": [version, list(internal), gauss],
            "numpy": [kind, keys.tolist(), position, has_gauss, cached],
            "seed_generators": [v.numpy().tolist() for v in _seed_generator_states(model)]}


def restore_random_states(model, states: dict) -> None:
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, position, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), position, has_gauss, cached))
    variables = _seed_generator_states(model)
    if len(variables) != len(states["seed_generators"]):
        raise RunFolderError(f"the model has {len(variables)} seed generators, the run state "
                         f"{len(states['seed_generators'])}")
    for variable, value in zip(variables, states["seed_generators"]):
        variable.assign(np.array(value, dtype=variable.dtype))


def _seed_generator_states(model) -> list:
    return [v for v in model.variables if v.name == "seed_generator_state"]
