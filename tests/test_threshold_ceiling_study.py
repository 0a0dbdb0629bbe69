"""The threshold-ceiling study (research_and_train_nn/studies/threshold_ceiling_study.py) on a really
trained tiny two-answer run: its ceiling is the best F1 of any threshold, and its mean of one model's
logits is that model, threshold included."""
import json
import shutil

import numpy as np
import pytest

from research_and_train_nn.evaluation.metrics import metrics
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
    probabilities = study.probability(study.logits(tiny_kind_run / "model.keras", val["crops"]))
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
