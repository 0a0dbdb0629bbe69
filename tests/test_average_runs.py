"""average_runs.py: one model from the mean of several runs' weights, made into a run folder."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from research_and_train_nn.average_runs import main
from research_and_train_nn.training.run_state import check_run_folder


def _model(path):
    import keras
    return keras.saving.load_model(path, compile=False)


def test_the_mean_of_a_trained_network_and_its_weights_tripled_is_its_weights_doubled(tiny_run):
    from research_and_train_nn.training.average import average_weights
    model, tripled = _model(tiny_run / "model.keras"), _model(tiny_run / "model.keras")
    original = model.get_weights()
    tripled.set_weights([3 * w for w in original])
    averaged = average_weights([model, tripled], ["a", "b"])
    assert len(averaged.get_weights()) == len(original)
    for got, want in zip(averaged.get_weights(), original):  # batch-norm statistics too
        np.testing.assert_allclose(got, 2 * want, rtol=1e-6, atol=1e-7)


def test_the_averaged_run_is_a_finished_run_whose_threshold_is_chosen_on_its_own_answers(tiny_run, tmp_path):
    from research_and_train_nn.evaluation.metrics import choose_threshold
    from research_and_train_nn.evaluation.probabilities import predict_probabilities
    other = _model(tiny_run / "model.keras")
    other.set_weights([w * (1.0 + 0.5 * (i % 2)) for i, w in enumerate(other.get_weights())])  # another network
    other.save(tmp_path / "other.keras")
    out = tmp_path / "averaged"
    assert main([str(tmp_path / "other.keras"), str(tiny_run), "--out", str(out)]) == 0  # the base: the first folder
    check_run_folder(out)  # compare_runs.py and release.py take it
    for got, a, b in zip(_model(out / "model.keras").get_weights(), other.get_weights(),
                         _model(tiny_run / "model.keras").get_weights()):
        np.testing.assert_allclose(got, (a + b) / 2, rtol=1e-5, atol=1e-6)
    with np.load(tiny_run / "val_crops.npz") as val:
        crops, labels = val["crops"], val["labels"]
    chosen = choose_threshold(labels, predict_probabilities(_model(out / "model.keras"), crops))
    ours, theirs = (json.loads((f / "config.json").read_text())["threshold"] for f in (out, tiny_run))
    assert ours == pytest.approx(chosen, abs=1e-9) and ours != pytest.approx(theirs, abs=1e-6)
    record = json.loads((out / "averaged.json").read_text())
    assert record["averaged"] == [str(tmp_path / "other.keras"), str(tiny_run)] and record["base"] == str(tiny_run)
    from research_and_train_nn.compare_runs import run_change
    base = json.loads((tiny_run / "train_config.json").read_text())
    assert run_change(out, base) == f"the mean of the weights of other.keras, {tiny_run.name}"
    assert run_change(tiny_run, base) == "(the base)"


def test_a_two_answer_run_averaged_with_itself_keeps_both_thresholds(tiny_kind_run, tmp_path):
    out = tmp_path / "averaged"
    assert main([str(tiny_kind_run), str(tiny_kind_run / "model.keras"), "--out", str(out)]) == 0
    ours, theirs = (json.loads((f / "config.json").read_text()) for f in (out, tiny_kind_run))
    assert ours["kinds"] == theirs["kinds"] == ["clear", "dark"]
    # chosen as train.py chose them, on the kind labels as they are now (train.py's were then, and are)
    assert ours["threshold"] == pytest.approx(theirs["threshold"], abs=1e-6)
    assert ours["kind_threshold"] == pytest.approx(theirs["kind_threshold"], abs=1e-6)
    from research_and_train_nn.compare_runs import run_change
    assert run_change(out, {}) == f"the mean of the weights of {tiny_kind_run.name}, {tiny_kind_run.name}"


def test_what_cannot_be_averaged_is_refused_before_anything_is_written(tiny_run, tiny_kind_run, tmp_path, capsys):
    out = tmp_path / "averaged"

    def refused(argv, says):
        assert main(argv + ["--out", str(out)]) == 2
        assert says in capsys.readouterr().err and not out.exists()
    refused([str(tiny_run), str(tiny_kind_run)], "was not split or cropped as")  # another split and network
    refused([str(tiny_run), str(tiny_kind_run / "model.keras")], "not the same network")  # a bare file
    refused([str(tiny_run / "model.keras")] * 2, "no run folder given")
    refused([str(tiny_run)] * 2 + ["--base", str(tiny_kind_run)], "is not one of the run folders given")
    other = tmp_path / "other"
    shutil.copytree(tiny_run, other)
    settings = json.loads((other / "train_config.json").read_text())
    (other / "train_config.json").write_text(json.dumps({**settings, "init_weights": "runs/some.keras"}))
    refused([str(tiny_run), str(other)], "did not start as")
    (other / "train_config.json").write_text(json.dumps({**settings, "seed": settings["seed"] + 1}))
    refused([str(tiny_run), str(other)], "was not split or cropped as")
    kind_only = {**settings, "kind_only": True, "kind_weight": 1.0, "kind_features": "eye_band",
                 "init_weights": str(tiny_run / "model.keras"), "init_config": str(tmp_path / "none.json")}
    (other / "train_config.json").write_text(json.dumps(kind_only))  # keeps a starting model's threshold it lacks
    refused([str(other), str(other / "model.keras")], "none.json")
    assert main([str(tiny_run), str(tiny_run), "--out", str(tiny_run), "--overwrite"]) == 2  # never over an input
    assert "is one of the models to average" in capsys.readouterr().err and check_run_folder(tiny_run) is None
    out.mkdir()
    assert main([str(tiny_run), str(tiny_run), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err and not any(out.iterdir())


def test_the_kind_threshold_is_chosen_on_the_kind_labels_as_they_are_now_not_as_the_run_saved_them(
        tiny_kind_run, tmp_path):
    stale = tmp_path / "stale"
    shutil.copytree(tiny_kind_run, stale)
    with np.load(stale / "val_crops.npz") as saved:
        val = {key: saved[key] for key in saved.files}
    known = np.flatnonzero(np.isin(val["kinds"], ["clear", "dark"]))
    assert len(known) >= 10
    val["kinds"][known] = np.where(val["kinds"][known] == "clear", "dark", "clear")  # every kind label swapped
    np.savez_compressed(stale / "val_crops.npz", **val)
    out = tmp_path / "averaged"
    assert main([str(stale), str(stale / "model.keras"), "--out", str(out)]) == 0
    ours, now = (json.loads((f / "config.json").read_text())["kind_threshold"] for f in (out, tiny_kind_run))
    assert ours == pytest.approx(now, abs=1e-9)  # train.py chose it on the labels of then, which are today's
