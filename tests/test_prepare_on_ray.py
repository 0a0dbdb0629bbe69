"""prepare.py --engine ray builds the same crop cache as the local process pool."""
from __future__ import annotations

from glasses_core import CropConfig
from research_and_train_nn.data.datasets import load
from research_and_train_nn.data.crops import make_crops


def test_ray_cache_is_byte_for_byte_the_local_one(local_ray, data_dir, tmp_path):
    records = load(f"celeba:{data_dir / 'celeba'}")[:150] + load(f"mtfl:{data_dir / 'mtfl'}")[:150]
    local = make_crops(records, CropConfig(), tmp_path / "local", workers=2, progress=False)
    on_ray = make_crops(records, CropConfig(), tmp_path / "ray", engine="ray")
    assert (local.crops == on_ray.crops).all()
    assert (local.face_found == on_ray.face_found).all() and (local.ok == on_ray.ok).all()
    local_files, ray_files = _files(tmp_path / "local"), _files(tmp_path / "ray")
    assert len(local_files) > 300 and local_files == ray_files  # 300 crops and crop_config.json, same bytes


def _files(folder) -> dict:
    return {path.relative_to(folder): path.read_bytes() for path in folder.rglob("*") if path.is_file()}
