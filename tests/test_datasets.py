import os
from pathlib import Path

import numpy as np
import pytest

from glasses_core import ConfigError
from research_and_train_nn.data.datasets import celeba_attributes, load, load_celeba, load_folder, load_meglass, load_mtfl, mtfl_eyes, mtfl_landmarks
from research_and_train_nn.data.splits import split_by_identity


def test_mtfl_train_and_test(data_dir):
    train, test = load_mtfl(data_dir / "mtfl", "train"), load_mtfl(data_dir / "mtfl", "test")
    assert len(train) == 10000 and len(test) == 2995
    assert sum(r.label for r in train) + sum(r.label for r in test) == 1649
    assert sum(r.label for r in test) == 241
    assert all(Path(r.path).is_file() for r in train[::500] + test[::500])
    assert "\\" not in "".join(r.path for r in train)
    lfw = [r for r in train if "lfw_5590" in r.path]
    assert lfw and all(r.identity for r in lfw)
    assert next(r for r in train if r.path.endswith("Aaron_Eckhart_0001.jpg")).identity == "Aaron_Eckhart"
    assert all(r.identity is None for r in test)


def test_mtfl_eye_annotations(data_dir):
    eyes = mtfl_eyes(data_dir / "mtfl", "train")
    (lx, ly), (rx, ry) = eyes[str(data_dir / "mtfl" / "lfw_5590" / "Aaron_Eckhart_0001.jpg")]
    assert (lx, ly, rx, ry) == (107.25, 108.75, 147.75, 113.25)
    points = mtfl_landmarks(data_dir / "mtfl", "train")
    aaron = points[str(data_dir / "mtfl" / "lfw_5590" / "Aaron_Eckhart_0001.jpg")]
    assert aaron[2] == (126.25, 143.75) and aaron[3:] == ((106.25, 158.75), (140.75, 162.75))  # nose, mouth
    assert all(points[path][:2] == eye_pair for path, eye_pair in eyes.items())


def test_celeba(data_dir):
    records = load_celeba(data_dir / "celeba")
    assert len(records) == 10000 and sum(r.label for r in records) == 674
    first = records[0]
    assert first.path.endswith("000001.jpg") and first.identity == "2880" and first.label == 0


def test_celeba_attributes(data_dir):
    table = celeba_attributes(data_dir / "celeba")
    assert len(table) == 10000 and len(table["000001.jpg"]) == 40
    labels = {Path(r.path).name: r.label for r in load_celeba(data_dir / "celeba")}
    assert all(table[name]["Eyeglasses"] == bool(label) for name, label in labels.items())
    assert table["000001.jpg"]["Smiling"] and not table["000001.jpg"]["Wearing_Hat"]
    assert 100 < sum(a["Wearing_Hat"] for a in table.values()) < 1000


def test_meglass_labels_and_identities(data_dir):
    records = load_meglass(data_dir / "meglass")
    assert len(records) == 47917
    by_name = {Path(r.path).name: r for r in records}
    samples = sorted((data_dir / "meglass" / "samples").iterdir())
    assert samples
    for sample in samples:
        record = by_name[sample.name]
        assert record.identity == "@".join(sample.name.split("@")[:2])
        assert record.label in (0, 1)
    assert by_name["10032527@N08_identity_4@2582182573_0.jpg"].label == 0
    assert 0.2 < sum(r.label for r in records) / len(records) < 0.4


def test_folder_layouts(tmp_path, data_dir):
    photo = (data_dir / "mtfl" / "lfw_5590" / "Aaron_Eckhart_0001.jpg").read_bytes()
    for sub in ("with_glasses", "without_glasses"):
        (tmp_path / "a" / sub).mkdir(parents=True)
        (tmp_path / "a" / sub / "x.jpg").write_bytes(photo)
    (tmp_path / "a" / "without_glasses" / "notes.txt").write_text("not an image")
    records = load_folder(tmp_path / "a")
    assert sorted(r.label for r in records) == [0, 1]
    for sub in ("1", "0"):
        (tmp_path / "b" / sub).mkdir(parents=True)
        (tmp_path / "b" / sub / "y.png").write_bytes(photo)
    assert sorted(r.label for r in load(f"folder:{tmp_path / 'b'}")) == [0, 1]
    with pytest.raises(ConfigError, match="no images"):
        load_folder(tmp_path)


def test_bad_specs_and_files(tmp_path):
    with pytest.raises(ConfigError, match="KIND:PATH"):
        load("mtfl")
    with pytest.raises(ConfigError, match="unknown dataset kind"):
        load("imagenet:/x")
    with pytest.raises(ConfigError, match="does not exist"):
        load(f"mtfl:{tmp_path / 'missing'}")
    (tmp_path / "training.txt").write_text("a.jpg 1 2 3\n")
    with pytest.raises(ConfigError, match="training.txt:1: expected 15 fields"):
        load_mtfl(tmp_path)


def test_splits_are_identity_disjoint_and_deterministic(data_dir):
    records = load_mtfl(data_dir / "mtfl") + load_celeba(data_dir / "celeba")
    train, val = split_by_identity(records, 0.15, seed=7)
    assert len(train) + len(val) == len(records)
    train_groups = {records[i].group for i in train}
    val_groups = {records[i].group for i in val}
    assert not train_groups & val_groups
    assert 0.10 < len(val) / len(records) < 0.20
    celeba_people = {records[i].identity for i in val if records[i].source == "celeba"}
    assert len(celeba_people) > 100  # people with several photos really are grouped
    again, _ = split_by_identity(records, 0.15, seed=7)
    assert (again == train).all()
    other, _ = split_by_identity(records, 0.15, seed=8)
    assert len(set(other) ^ set(train)) > 100


def test_the_split_does_not_depend_on_where_the_data_lies(data_dir, tmp_path, monkeypatch):
    """Photos without a known person are split by their place in the dataset, so the same data
    given by another path (absolute, relative, through a link, a copy elsewhere) splits alike,
    and as every run since 0.1.0 split it, given as ../shared/data/... from the repository."""
    link = tmp_path / "elsewhere" / "mtfl"
    link.parent.mkdir()
    link.symlink_to(data_dir / "mtfl")
    monkeypatch.chdir(tmp_path)
    splits = [split_by_identity(load_mtfl(root), 0.1, seed=42)[1]
              for root in (data_dir / "mtfl", link, Path(os.path.relpath(data_dir / "mtfl")))]
    assert all(np.array_equal(split, splits[0]) for split in splits[1:])
    web_photo = next(r for r in load_mtfl(link) if "net_7876/1144_0_0.jpg" in r.path)
    assert web_photo.identity is None and web_photo.group == "photo:../shared/data/mtfl/net_7876/1144_0_0.jpg"


def test_the_crop_cache_is_keyed_on_the_preprocessing_code(tmp_path):
    """Editing any core source file (the crop, the decoder, ...) gives a new cache folder."""
    import shutil

    from glasses_core import CropConfig
    from research_and_train_nn.data.crop_cache import CORE, crop_key
    copy = tmp_path / "glasses_core"
    shutil.copytree(CORE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert crop_key(CropConfig(), copy) == crop_key(CropConfig())
    crop = copy / "geometry.py"
    crop.write_text(crop.read_text().replace("Image.BILINEAR", "Image.BICUBIC", 1))
    assert crop_key(CropConfig(), copy) != crop_key(CropConfig())
    assert crop_key(CropConfig(scale=2.0)) != crop_key(CropConfig())
    # what makes no crop pixel does not count: the classifier's runtime may change, the crops stay
    runtime = copy / "runtime.py"
    runtime.write_text(runtime.read_text() + "\n# a comment\n")
    assert crop_key(CropConfig(), copy) != crop_key(CropConfig())  # (geometry.py still edited)
    shutil.copy(CORE / "geometry.py", copy / "geometry.py")
    assert crop_key(CropConfig(), copy) == crop_key(CropConfig())
    locate = copy / "locate.py"
    locate.write_text(locate.read_text().replace("TRUSTED = 12.0", "TRUSTED = 11.0", 1))
    assert crop_key(CropConfig(), copy) != crop_key(CropConfig())


def test_the_project_folders_are_found_from_the_package():
    """data/paths.py sits two packages deep: the checkout, its crop cache and the shared data are
    where the README says (a wrong count of parents put the cache inside research_and_train_nn/)."""
    from research_and_train_nn.data.crop_cache import DEFAULT_CACHE
    from research_and_train_nn.data.paths import PROJECT_ROOT, SHARED_DATA
    root = Path(__file__).resolve().parent.parent
    assert PROJECT_ROOT == root and DEFAULT_CACHE == root / "cache" / "crops"
    assert SHARED_DATA == root.parent / "shared" / "data" and (SHARED_DATA / "mtfl" / "training.txt").is_file()
