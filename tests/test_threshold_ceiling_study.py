"""The threshold-ceiling study (research_and_train_nn/studies/threshold_ceiling_study.py) on a really
trained tiny two-answer run: its ceiling is the best F1 of any threshold, and its mean of one model's
logits is that model, threshold included."""
import json
import shutil

import numpy as np
import pytest

from research_and_train_nn.evaluation.metrics import choose_threshold, choose_threshold_on_pools, metrics
from research_and_train_nn.evaluation.probabilities import keras_probabilities
from research_and_train_nn.evaluation.report import datasets_validation_crops
from research_and_train_nn.studies import threshold_ceiling_study as study


@pytest.fixture()
def as_shipped(tiny_kind_run, tmp_path):
    """A shipped-model folder holding the tiny run's own model."""
    folder = tmp_path / "shipped"
    folder.mkdir()
    shutil.copy(tiny_kind_run / "model.keras", folder / "glasses.keras")
    shutil.copy(tiny_kind_run / "config.json", folder / "glasses.json")
    return folder


def test_the_ceiling_is_the_best_f1_of_any_threshold_and_the_mean_of_one_model_is_that_model(
        tiny_kind_run, as_shipped, tmp_path, capsys):
    out = tmp_path / "report"
    assert study.main([str(tiny_kind_run), str(tiny_kind_run), "--shipped", str(as_shipped), "--mean",
                       "--out", str(out)]) == 0
    capsys.readouterr()
    report = json.loads((out / "threshold_ceiling.json").read_text())
    shipped, run, again, mean = report["models"]
    val = datasets_validation_crops(tiny_kind_run)
    probabilities = keras_probabilities(tiny_kind_run, val["crops"])
    for pool in ("all", "mtfl_train", "celeba", "celeba_more"):
        mine = np.ones(len(probabilities), bool) if pool == "all" else val["pools"] == pool
        scores = run["pools"][pool]
        if scores is None:
            assert not mine.any()
            continue
        labels, p = val["labels"][mine], probabilities[mine]
        # every threshold the photos allow, tried one by one: none beats the ceiling, one reaches it
        best = max(metrics(labels, p, t)["f1"] for t in np.unique(p))
        assert scores["ceiling"]["f1"] == pytest.approx(best, abs=1e-9)
        assert scores["f1"] <= scores["ceiling"]["f1"] + 1e-12
        assert scores["f1"] == pytest.approx(metrics(labels, p, run["threshold"])["f1"], abs=1e-9)
        for row in (shipped, again, mean):  # the same model three times: the same figures
            assert row["pools"][pool]["f1"] == pytest.approx(scores["f1"], abs=1e-9)
            assert row["pools"][pool]["ceiling"]["f1"] == pytest.approx(scores["ceiling"]["f1"], abs=1e-9)
    # the mean's threshold is chosen as train.py chose the run's
    assert mean["threshold"] == pytest.approx(run["threshold"], abs=1e-6)
    assert "the mean of the 3 models' logits" in (out / "threshold_ceiling.md").read_text()


def test_a_mean_of_runs_of_other_splits_is_refused_before_anything_is_written(tiny_run, tiny_kind_run, tmp_path, capsys):
    out = tmp_path / "report"
    assert study.main([str(tiny_run), str(tiny_kind_run), "--mean", "--out", str(out)]) == 2
    assert "other validation photos" in capsys.readouterr().err
    assert not out.exists()
    assert study.main([str(tmp_path), "--out", str(out)]) == 2  # not a run folder
    capsys.readouterr()


def test_every_model_is_scored_on_its_own_run_s_photos_and_the_shipped_one_on_the_first_run_s(
        tiny_run, tiny_kind_run, as_shipped, tmp_path, capsys):
    out = tmp_path / "report"
    assert study.main([str(tiny_kind_run), str(tiny_run), "--shipped", str(as_shipped), "--out", str(out)]) == 0
    capsys.readouterr()
    shipped, kind_run, run = json.loads((out / "threshold_ceiling.json").read_text())["models"]
    for row, folder in ((shipped, tiny_kind_run), (kind_run, tiny_kind_run), (run, tiny_run)):
        val = datasets_validation_crops(folder)
        assert row["pools"]["all"]["photos"] == len(val["labels"])
        assert row["pools"]["all"]["with_glasses"] == int(val["labels"].sum())
        for pool in ("mtfl_train", "celeba", "celeba_more"):
            held = int((val["pools"] == pool).sum())
            assert (row["pools"][pool] is None) == (held == 0) and (held == 0 or row["pools"][pool]["photos"] == held)
    assert run["pools"]["celeba_more"] is None  # tiny_run holds no celeba_more photos: a cell of dashes
    assert "| – | – | – |" in (out / "threshold_ceiling.md").read_text()


def test_pool_scores_leave_out_what_the_look_could_not_tell_and_a_pool_of_one_class_has_no_ceiling():
    val = {"labels": np.array([1, 0, 1, 0, 1, 0, 1]),
           "pools": np.array(["mtfl_train"] * 4 + ["celeba"] * 3)}
    looked = np.array([1, 0, 0, -1, 1, -1, 1])  # the look: one label changed, two photos it could not tell
    p = np.array([0.9, 0.2, 0.4, 0.95, 0.8, 0.3, 0.7])
    scores = study.pool_scores(val, looked, p, 0.5)
    assert scores["celeba_more"] is None  # no photos
    mtfl = scores["mtfl_train"]
    assert mtfl["photos"] == 4 and mtfl["with_glasses"] == 2
    assert mtfl["f1"] == pytest.approx(metrics(val["labels"][:4], p[:4], 0.5)["f1"])
    assert mtfl["ceiling"]["f1"] == pytest.approx(0.8)  # from 0.4: both glasses found, and 0.95's no
    assert mtfl["ceiling_looked"]["f1"] == pytest.approx(1.0)  # the look's labels on 3 photos: 0.9 alone is glasses
    assert scores["celeba"]["ceiling"]["f1"] == pytest.approx(1.0)  # from 0.7
    assert scores["celeba"]["ceiling_looked"] is None  # the look's celeba photos it could tell are all glasses


def test_the_threshold_is_chosen_on_the_named_pools_only():
    labels = np.array([1, 0, 1, 0, 1, 0])
    pools = np.array(["mtfl_train"] * 3 + ["celeba"] * 3)
    p = np.array([0.9, 0.1, 0.8, 0.7, 0.3, 0.2])  # MTFL ranks perfectly at 0.8; CelebA needs 0.3
    assert choose_threshold_on_pools(labels, p, pools, ("mtfl_train",)) == pytest.approx(0.8)
    assert choose_threshold_on_pools(labels, p, pools, ()) == choose_threshold(labels, p)
    assert choose_threshold(labels, p) != pytest.approx(0.8)
