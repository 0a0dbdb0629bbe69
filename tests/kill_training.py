"""Runs train.py's main and SIGKILLs its own process at a chosen moment (for test_resume.py).

    python tests/kill_training.py WHEN EPOCH [BATCH] -- TRAIN.PY ARGUMENTS

WHEN is one of
  batch             while batch BATCH of epoch EPOCH (both from 0) is being made: mid-epoch;
  checkpoint-write  while epoch EPOCH's checkpoint is being written: half its bytes are on disk;
  after-checkpoint  just after epoch EPOCH's checkpoint is written, before anything else.
The checkpoint moments patch ``keras.Model.save`` and count the saves whose file name contains
"checkpoint", so they fall at the same moment whatever train.py does around them.
"""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path


def kill() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def kill_while_making_batch(epoch: int, batch: int) -> None:
    from research_and_train_nn.training.fit import AugmentedCrops
    make_batch = AugmentedCrops.__getitem__

    def patched(self, index):
        if self.epoch == epoch and index == batch:
            kill()
        return make_batch(self, index)
    AugmentedCrops.__getitem__ = patched


def kill_at_checkpoint(epoch: int, torn: bool) -> None:
    import keras
    save = keras.Model.save
    checkpoints_saved = []

    def patched(self, filepath, *args, **kwargs):
        save(self, filepath, *args, **kwargs)
        if "checkpoint" in Path(filepath).name:
            checkpoints_saved.append(filepath)
            if len(checkpoints_saved) == epoch + 1:
                if torn:  # what a kill halfway through the write leaves behind
                    data = Path(filepath).read_bytes()
                    Path(filepath).write_bytes(data[:len(data) // 2])
                kill()
    keras.Model.save = patched


def main(argv: list[str]) -> None:
    separator = argv.index("--")
    when, *numbers = argv[:separator]
    numbers = [int(n) for n in numbers]
    if when == "batch":
        kill_while_making_batch(*numbers)
    else:
        kill_at_checkpoint(*numbers, torn={"checkpoint-write": True, "after-checkpoint": False}[when])
    from research_and_train_nn.train import main as train
    train(argv[separator + 1:])
    raise SystemExit(f"training finished without reaching the kill point {argv[:separator]}")


if __name__ == "__main__":
    main(sys.argv[1:])
