import json

import numpy as np
import pytest

from research_and_train_nn.evaluation.report import HARD_ATTRIBUTES, evaluate_run
from research_and_train_nn.evaluation.metrics import metrics


def test_metrics_on_a_known_case():
    labels = np.array([1, 1, 0, 0, 0, 1])
    probabilities = np.array([0.9, 0.4, 0.6, 0.1, 0.2, 0.8])
    m = metrics(labels, probabilities, 0.5)
    assert m["confusion_matrix"] == [[2, 1], [1, 2]]
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3) and m["accuracy"] == pytest.approx(4 / 6)
    assert m["roc_auc"] == pytest.approx(8 / 9)


def test_evaluate_run_on_the_real_test_set(tiny_run, data_dir, crop_cache, tmp_path):
    report = evaluate_run(tiny_run, f"mtfl-test:{data_dir / 'mtfl'}", crop_cache, figures=tmp_path)
    overall = report["overall"]
    assert overall["images"] == 2995 and overall["with_glasses"] == 241
    assert sum(map(sum, overall["confusion_matrix"])) == 2995
    threshold = json.loads((tiny_run / "config.json").read_text())["threshold"]
    assert overall["threshold"] == threshold
    assert set(report["per_source"]) == {"mtfl_test"}
    assert set(report["validation_per_source"]) == {"mtfl_train", "celeba"}
    assert sum(m["images"] for m in report["validation_per_source"].values()) >= 290
    hard = report["validation_hard_cases"]
    assert list(hard) == ["all CelebA", *HARD_ATTRIBUTES]
    celeba = report["validation_per_source"]["celeba"]
    assert hard["all CelebA"]["no_glasses"] + hard["all CelebA"]["glasses"] == celeba["images"]
    (_, false_positives), (missed, _) = celeba["confusion_matrix"]
    assert (hard["all CelebA"]["false_positives"], hard["all CelebA"]["missed"]) == (false_positives, missed)
    assert all(0 < h["no_glasses"] + h["glasses"] < celeba["images"] for k, h in hard.items() if k != "all CelebA")
    assert "Wearing_Hat" in (tiny_run / "evaluation_report.md").read_text()
    assert len(report["errors"]) == 24
    worst = report["errors"][0]
    assert (worst["probability"] >= threshold) != bool(worst["label"])  # really an error
    for name in ("roc_pr.png", "errors.png", "schedule.png"):
        assert (tmp_path / name).stat().st_size > 5000
    assert "| all | 2995 | 241 |" in (tiny_run / "evaluation_report.md").read_text()


def test_the_report_of_a_two_answer_model_scores_which_glasses(tiny_kind_run, data_dir, crop_cache, tmp_path):
    report = evaluate_run(tiny_kind_run, f"mtfl-test:{data_dir / 'mtfl'}", crop_cache, out=tmp_path)
    import csv
    from collections import Counter

    from research_and_train_nn.data.datasets import KIND_LABELS
    test, val = report["kind"]["test"], report["kind"]["validation"]
    with open(KIND_LABELS / "mtfl_test.csv", newline="") as handle:
        labelled = Counter(row["kind"] for row in csv.DictReader(handle))
    assert (test["clear"], test["dark"]) == (labelled["clear"], labelled["dark"])  # unsure left out
    assert sum(map(sum, val["confusion"])) == val["clear"] + val["dark"] > 200
    assert set(report["recall_by_kind"]) == {"dark", "clear"}
    assert set(report["validation_per_source"]) == {"mtfl_train", "celeba", "celeba_more"}
    errors = report["kind_errors"]
    assert errors and all((e["dark_probability"] >= report["kind"]["test"]["threshold"]) != (e["kind"] == "dark")
                          for e in errors)
    assert "Which glasses (the second answer" in (tmp_path / "evaluation_report.md").read_text()


@pytest.fixture
def small_test_set(tmp_path, data_dir):
    """A folder: test set (with_glasses/ and without_glasses/) of six real AFLW photos."""
    import shutil

    from serving import MTFL_GLASSES, MTFL_NO_GLASSES
    root = tmp_path / "test_set"
    for folder, names in (("with_glasses", MTFL_GLASSES), ("without_glasses", MTFL_NO_GLASSES)):
        (root / folder).mkdir(parents=True)
        for name in names:
            shutil.copy(data_dir / "mtfl" / name, root / folder / name.split("/")[-1])
    return f"folder:{root}"


def test_evaluate_never_replaces_a_report_silently(tiny_run, small_test_set, crop_cache, tmp_path, capsys):
    """Issue 29: evaluate.py wrote over the run's report (the one train.py wrote) without a word."""
    import shutil

    from research_and_train_nn.evaluate import main
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "evaluation_report.md").write_text("the report train.py wrote\n")
    args = [str(run), "--test", small_test_set, "--cache", str(crop_cache)]
    assert main(args) == 2
    assert f"{run / 'evaluation_report.md'} already there: --overwrite to replace" in capsys.readouterr().err
    assert (run / "evaluation_report.md").read_text() == "the report train.py wrote\n"
    assert not (run / "roc_pr.png").exists()  # nothing evaluated, nothing written
    assert main([*args, "--overwrite"]) == 0
    assert "| all | 6 | 3 |" in (run / "evaluation_report.md").read_text()
    assert main([*args, "--out", str(tmp_path / "again")]) == 0  # elsewhere: nothing in the way
    assert (tmp_path / "again" / "evaluation_report.json").is_file() and (tmp_path / "again" / "errors.png").is_file()
