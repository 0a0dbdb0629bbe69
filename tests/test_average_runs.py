"""average_runs.py: one model from the mean of several runs' weights, made into a run folder."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from research_and_train_nn.average_runs import main
from research_and_train_nn.training.run_state import check_run_folder


def _weights(path):
    import keras
    return keras.saving.load_model(path, compile=False).get_weights()


def test_the_mean_of_a_trained_network_and_its_weights_tripled_is_its_weights_doubled(tiny_run):
    import keras

    from research_and_train_nn.training.average import average_weights
    model = keras.saving.load_model(tiny_run / "model.keras", compile=False)
    tripled = keras.saving.load_model(tiny_run / "model.keras", compile=False)
    original = model.get_weights()
    tripled.set_weights([3 * w for w in original])
    averaged = average_weights([model, tripled], ["a", "b"])
    assert len(averaged.get_weights()) == len(original)
    for got, want in zip(averaged.get_weights(), original):  # batch-norm statistics too
        np.testing.assert_allclose(got, 2 * want, rtol=1e-6, atol=1e-7)


def test_a_run_averaged_with_itself_is_a_finished_run_with_the_same_model_and_threshold(tiny_run, tmp_path):
    out = tmp_path / "averaged"
    assert main([str(tiny_run), str(tiny_run / "model.keras"), "--out", str(out)]) == 0
    check_run_folder(out)  # compare_runs.py and release.py take it
    for got, want in zip(_weights(out / "model.keras"), _weights(tiny_run / "model.keras")):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    ours, theirs = (json.loads((f / "config.json").read_text()) for f in (out, tiny_run))
    assert ours["threshold"] == pytest.approx(theirs["threshold"], abs=1e-6)  # chosen on validation as train.py does
    record = json.loads((out / "averaged.json").read_text())
    assert record["averaged"] == [str(tiny_run), str(tiny_run / "model.keras")] and record["base"] == str(tiny_run)
    from research_and_train_nn.compare_runs import run_change
    base = json.loads((tiny_run / "train_config.json").read_text())
    assert run_change(out, base) == f"the mean of the weights of {tiny_run.name}, model.keras"
    assert run_change(tiny_run, base) == "(the base)"


def test_other_networks_other_splits_and_an_existing_folder_are_refused_before_writing(
        tiny_run, tiny_kind_run, tmp_path, capsys):
    out = tmp_path / "averaged"
    assert main([str(tiny_run), str(tiny_kind_run), "--out", str(out)]) == 2  # another split, and network
    assert "was not split or cropped as" in capsys.readouterr().err and not out.exists()
    assert main([str(tiny_run), str(tiny_kind_run / "model.keras"), "--out", str(out)]) == 2  # a bare file
    assert "not the same network" in capsys.readouterr().err and not out.exists()
    other_split = tmp_path / "other_split"
    shutil.copytree(tiny_run, other_split)
    settings = json.loads((other_split / "train_config.json").read_text())
    (other_split / "train_config.json").write_text(json.dumps({**settings, "seed": settings["seed"] + 1}))
    assert main([str(tiny_run), str(other_split), "--out", str(out)]) == 2
    assert "was not split or cropped as" in capsys.readouterr().err and not out.exists()
    assert main([str(tiny_run / "model.keras"), str(tiny_run / "model.keras"), "--out", str(out)]) == 2
    assert "--base" in capsys.readouterr().err and not out.exists()
    out.mkdir()
    assert main([str(tiny_run), str(tiny_run), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err and not any(out.iterdir())
