"""train.py --strategy mirrored: data-parallel steps equal single-device ones, and a run completes."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import keras

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


def test_a_short_mirrored_run_saves_a_model(data_dir, crop_cache, tmp_path):
    out = tmp_path / "run"
    subprocess.run([sys.executable, str(ROOT / "research_and_train_nn" / "train.py"), "--out", str(out),
                    "--strategy", "mirrored", "--devices", "/cpu:0,/cpu:1", "--max-train", "200",
                    "--epochs", "1", "--batch-size", "32", "--test", "", "--cache", str(crop_cache),
                    "--dataset", f"mtfl:{data_dir / 'mtfl'}", "--dataset", f"celeba:{data_dir / 'celeba'}"],
                   env=_env(), capture_output=True, text=True, check=True, cwd=tmp_path)
    model = keras.models.load_model(out / "model.keras")
    assert model.get_layer("stem_bn").synchronized  # built under the strategy
    assert (out / "config.json").is_file() and len((out / "history.csv").read_text().splitlines()) == 2
