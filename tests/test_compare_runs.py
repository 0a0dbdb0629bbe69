"""compare_runs.py's placement column: validation faces alone and placed in other photos."""
from __future__ import annotations

import numpy as np

from glasses_core import CropConfig
from research_and_train_nn.compare_runs import placement_validation
from research_and_train_nn.data.datasets import load_mtfl


def test_each_validation_face_is_paired_with_its_five_placements(data_dir):
    records = load_mtfl(data_dir / "mtfl", "train")
    chosen = [r for r in records if r.label == 1][:2] + [r for r in records if r.label == 0][:2]
    val = {"paths": np.array([r.path for r in chosen]), "sources": np.array(["mtfl_train"] * 4),
           "labels": np.array([r.label for r in chosen])}
    placed = placement_validation(val, CropConfig(), count=4)
    assert placed["alone"].shape == placed["placed"].shape == (4 * 5, 64, 64, 3)
    assert placed["missed"] == 0
    for face in range(4):  # the five placements of a face are that face's crop, not another's
        alone = placed["alone"][face * 5:(face + 1) * 5].astype(int)
        assert (alone == alone[0]).all()
        same = np.abs(placed["placed"][face * 5:(face + 1) * 5] - alone).mean()
        other = np.abs(placed["placed"][face * 5:(face + 1) * 5] - placed["alone"][((face + 1) % 4) * 5].astype(int)).mean()
        assert same < 12 < other, (same, other)


def test_a_setting_left_at_its_default_is_not_a_change():
    from research_and_train_nn.compare_runs import changes
    base = {"epochs": 24, "version": "0.2.0", "crop": {"size": 64, "scale": 2.4}}  # an older config: no such keys
    same = {**base, "init_weights": "", "consistency": 0.0, "train_seed": 0, "version": "0.3.0"}
    assert changes(same, base) == "(the base)"
    other = {**same, "consistency": 0.5, "crop": {"size": 64, "scale": 2.0}}
    assert changes(other, base) == "consistency=0.5, crop.scale=2.0"
