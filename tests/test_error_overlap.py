"""error_overlap.py on real, really trained tiny runs of one split."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from research_and_train_nn.studies.error_overlap import study


@pytest.fixture(scope="module")
def runs(data_dir, crop_cache, tmp_path_factory):
    """Two tiny runs on the same split: 64 px crops, and 80 px crops with another training seed."""
    from glasses_core import CropConfig
    from research_and_train_nn.training.config import TrainConfig
    from research_and_train_nn.training.run import run
    config = TrainConfig(datasets=(f"mtfl:{data_dir / 'mtfl'}",), max_train=64, epochs=1, batch_size=8,
                         bn_momentum=0.9, test="", seed=5)
    folder = tmp_path_factory.mktemp("overlap")
    return [run(config, folder / "a", cache=crop_cache),
            run(dataclasses.replace(config, train_seed=9, crop=CropConfig(size=80)), folder / "b", cache=crop_cache)]


def test_runs_with_other_crop_sizes_are_scored_on_their_own_crops(runs):
    report, crops = study(runs)
    assert [r["run"] for r in report["per_run"]] == ["a", "b"]
    assert report["shared_errors"] <= min(r["errors"] for r in report["per_run"])
    assert report["errors_of_any_run"] >= max(r["errors"] for r in report["per_run"])
    assert len(crops) == report["shared_errors"] and len(report["ensembles"]) == 2
    assert report["ensembles"][0]["f1"] == pytest.approx(report["per_run"][0]["f1"])


def test_runs_of_another_split_are_refused(runs, tmp_path):
    import shutil
    other = tmp_path / "other"
    shutil.copytree(runs[1], other)
    with np.load(other / "val_crops.npz") as val:
        changed = {key: val[key] for key in val.files}
    changed["paths"] = changed["paths"][::-1]
    np.savez(other / "val_crops.npz", **changed)
    with pytest.raises(SystemExit, match="other photos"):
        study([runs[0], other])
