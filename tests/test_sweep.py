"""research_and_train_nn/sweep.py and fallback_study.py: small real runs."""
import json

from glasses_core import CropConfig
from research_and_train_nn.studies import fallback_study
from research_and_train_nn import sweep
from research_and_train_nn.training.config import TrainConfig


def test_variant_config_changes_only_what_it_names():
    base = TrainConfig(max_train=10)
    changed = sweep.variant_config(base, {"crop": {"scale": 2.0}, "shadows": 0.5})
    assert changed.crop == CropConfig(scale=2.0) and changed.shadows == 0.5 and changed.max_train == 10
    assert sweep.variant_config(base, {}) == base


def test_sweep_trains_scores_and_resumes(data_dir, crop_cache, tmp_path, monkeypatch):
    args = ["--out", str(tmp_path), "--max-train", "48", "--epochs", "1", "--cache", str(crop_cache),
            "--only", "base", "--only", "brim shadows 0.5"]
    monkeypatch.setattr(sweep, "TrainConfig", _with_data(data_dir))  # wherever the tests run from
    assert sweep.main(args) == 0
    report = json.loads((tmp_path / "sweep_report.json").read_text())
    assert list(report["variants"]) == ["base", "brim shadows 0.5"]
    for m in report["variants"].values():
        assert m["images"] == 48 and 0 <= m["pr_auc"] <= 1 and m["epochs_run"] == 1
    assert "| brim shadows 0.5 |" in (tmp_path / "sweep_report.md").read_text()
    trained = (tmp_path / "base" / "model.keras").stat().st_mtime
    assert sweep.main(args) == 0  # finished variants are scored again, not retrained
    assert (tmp_path / "base" / "model.keras").stat().st_mtime == trained


def _with_data(data_dir):
    def make(**kwargs):
        return TrainConfig(datasets=(f"mtfl:{data_dir / 'mtfl'}", f"celeba:{data_dir / 'celeba'}"), **kwargs)
    return make


def test_fallback_study_on_the_test_photos_without_a_face(data_dir, crop_cache, tmp_path):
    args = ["--mtfl", str(data_dir / "mtfl"), "--split", "test", "--cache", str(crop_cache), "--out", str(tmp_path)]
    assert fallback_study.main(args) == 0
    report = json.loads((tmp_path / "fallback_study.json").read_text())
    assert report["photos"], "MTFL's test set has photos where BlazeFace finds no face"
    for row in report["photos"]:
        assert row["fallback"]["centre_error"] < 1.0  # the centre square holds the eyes of these face photos
        assert 1.0 < row["fallback"]["width"] < 4.0
    assert "| fallback | " in (tmp_path / "fallback_study.md").read_text()
