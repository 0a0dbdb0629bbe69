"""The crop as an app might make it (research_and_train_nn/data/crop_variants.py): other eyes,
other filters; and the cache that keeps each photo's variants beside its crop."""
from __future__ import annotations

import numpy as np
import pytest

from glasses_core import CropConfig, Detectors, open_photo, preprocess
from research_and_train_nn.data import crop_variants
from research_and_train_nn.data.datasets import load_celeba, load_mtfl


@pytest.fixture(scope="module")
def photos(data_dir):
    """Three LFW/web photos (faces of about 100 px) and three CelebA ones (about 46 px)."""
    records = load_mtfl(data_dir / "mtfl", "train")[::500][:3] + load_celeba(data_dir / "celeba")[::900][:3]
    detectors, config = Detectors(CropConfig()), CropConfig()
    return [(open_photo(r.path), preprocess(open_photo(r.path), detectors, config)[0]) for r in records]


def test_the_core_filter_is_the_product_crop_and_one_bilinear_step_is_it_for_small_faces(photos):
    config = CropConfig()
    for photo, crop in photos:
        assert (crop_variants.resampled(photo, crop.geometry, config, "core") == crop.pixels).all()
    small = [(p, c) for p, c in photos if c.geometry.side <= config.size]  # no shrinking before the step
    assert small, "no face small enough among the photos"
    for photo, crop in small:
        assert (crop_variants.resampled(photo, crop.geometry, config, "bilinear") == crop.pixels).all()


def test_other_filters_give_the_same_picture_in_other_pixels(photos):
    config = CropConfig()
    for photo, crop in photos:
        for method in ("area", "lanczos"):
            other = crop_variants.resampled(photo, crop.geometry, config, method).astype(int)
            difference = np.abs(other - crop.pixels).mean()
            # the same up to filtering; other pixels wherever the face is larger than the crop
            assert difference < 12 and (difference > 0 or crop.geometry.side <= config.size), (method, difference)
    with pytest.raises(ValueError, match="unknown filter"):
        crop_variants.resampled(photos[0][0], photos[0][1].geometry, config, "nearest")


def test_eyes_move_by_the_noise_asked_for():
    eyes = np.array([[100.0, 100.0], [140.0, 100.0]])
    rng = np.random.default_rng(0)
    moves = np.concatenate([crop_variants.moved_eyes(eyes, 0.06, rng) - eyes for _ in range(2000)])
    assert np.std(moves) / 40.0 == pytest.approx(0.06, rel=0.05)
    assert (crop_variants.moved_eyes(eyes, 0.0, rng) == eyes).all()


def test_each_variant_is_made_its_way_and_the_detector_one_from_the_detector_eyes(photos):
    config = CropConfig()
    photo, crop = photos[0]
    variants = crop_variants.variant_crops(photo, crop, config, seed=7)
    assert variants.shape == (len(crop_variants.VARIANTS), config.size, config.size, 3)
    assert (variants == crop_variants.variant_crops(photo, crop, config, seed=7)).all()  # seeded
    detector = [i for i, (source, _, _) in enumerate(crop_variants.VARIANTS) if source == "detector"][0]
    from glasses_core.crop import eye_geometry
    expected = crop_variants.resampled(photo, eye_geometry(*crop.face.detected_eyes, config), config,
                                       crop_variants.VARIANTS[detector][2])
    assert (variants[detector] == expected).all()


def test_the_cache_keeps_each_photo_s_variants(data_dir, tmp_path):
    from research_and_train_nn.data.crops import make_crops
    records = load_mtfl(data_dir / "mtfl", "train")[:4]
    first = make_crops(records, CropConfig(), tmp_path, workers=1, progress=False, variants=True)
    again = make_crops(records, CropConfig(), tmp_path, workers=1, progress=False, variants=True)
    plain = make_crops(records, CropConfig(), tmp_path, workers=1, progress=False)
    assert first.variants.shape == (4, len(crop_variants.VARIANTS), 64, 64, 3) and plain.variants is None
    assert (again.variants == first.variants).all() and (plain.crops == first.crops).all()
    assert all((v != c).any() for vs, c in zip(first.variants, first.crops) for v in vs)
    assert len(list(tmp_path.rglob(f"*.variants{crop_variants.VERSION}.png"))) == 4
