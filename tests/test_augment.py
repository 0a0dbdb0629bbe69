import numpy as np
import pytest

from research_and_train_nn.training.augment import augment_batch, build_augmentation
from research_and_train_nn.training.schedule import learning_rate, strength


@pytest.fixture(scope="module")
def crops(data_dir):
    from glasses_core import CropConfig, Detectors, preprocess
    paths = sorted((data_dir / "mtfl" / "lfw_5590").glob("*.jpg"))[:16]
    detectors = Detectors(CropConfig())
    return np.stack([preprocess(p, detectors, CropConfig())[0].pixels for p in paths])


def test_strength_zero_leaves_images_unchanged(crops):
    out = augment_batch(build_augmentation(0.0), crops)
    np.testing.assert_array_equal(out, crops)


def test_strength_one_changes_them(crops):
    out = augment_batch(build_augmentation(1.0), crops)
    assert out.shape == crops.shape and out.dtype == np.uint8
    changed = [np.abs(o.astype(int) - c).mean() > 1 for o, c in zip(out, crops)]
    assert np.mean(changed) > 0.9


def test_change_grows_with_strength(crops):
    def mean_change(s):
        pipeline = build_augmentation(s)
        pipeline.set_random_seed(0)
        return np.mean([np.abs(augment_batch(pipeline, crops).astype(int) - crops).mean() for _ in range(4)])
    assert mean_change(0.2) < mean_change(0.6) < mean_change(1.0)


def test_bad_strength_is_refused():
    with pytest.raises(ValueError):
        build_augmentation(1.5)


def test_schedule_strength_rises_while_learning_rate_falls():
    epochs = 20
    rates = [learning_rate(e, epochs, 3e-3) for e in range(epochs)]
    strengths = [strength(e, epochs, 0.1, 0.8) for e in range(epochs)]
    assert strengths[0] == pytest.approx(0.1) and strengths[-1] == pytest.approx(0.8)
    assert all(b > a for a, b in zip(strengths, strengths[1:]))
    peak = int(np.argmax(rates))
    assert peak <= 1 and rates[peak] == pytest.approx(3e-3)
    assert all(b < a for a, b in zip(rates[peak:], rates[peak + 1:]))
    assert rates[-1] == pytest.approx(3e-3 * 0.02)


def test_brim_shadow_darkens_the_top_of_the_crop(crops):
    from research_and_train_nn.training.augment import BrimShadow
    import albumentations as A
    pipeline = A.Compose([BrimShadow(darkness=(0.5, 0.5), p=1.0)], seed=0)
    out = augment_batch(pipeline, crops).astype(float)
    top, bottom = slice(0, 16), slice(48, 64)  # forehead, mouth: the edge sits between 35 % and 65 %
    top_ratio = out[:, top].mean() / crops[:, top].mean()
    bottom_ratio = out[:, bottom].mean() / crops[:, bottom].mean()
    assert top_ratio < 0.6 and bottom_ratio > 0.9


def test_shadows_follow_strength_and_are_off_by_default(crops):
    np.testing.assert_array_equal(augment_batch(build_augmentation(0.0, shadows=1.0), crops), crops)
    plain, shaded = build_augmentation(1.0), build_augmentation(1.0, shadows=1.0)
    assert "BrimShadow" not in repr(plain) and "BrimShadow" in repr(shaded)
    with pytest.raises(ValueError):
        build_augmentation(0.5, shadows=2.0)


def test_a_frame_cut_blacks_out_one_side_beyond_a_straight_edge_and_keeps_the_eyes(crops):
    """A close-up's frame: black rows from the top (above the brows) or the bottom (under the nose),
    never over the eyes in the crop's middle; what is not cut is the crop as it was."""
    from research_and_train_nn.training.augment import FrameCut
    import albumentations as A
    pipeline = A.Compose([FrameCut(p=1.0)], seed=0)
    sides = set()
    for _ in range(4):
        out = augment_batch(pipeline, crops)
        for o, c in zip(out, crops):
            black = (o == 0).all(axis=2) & (c != 0).any(axis=2)  # blacked out by the cut
            kept = ~black
            np.testing.assert_array_equal(o[kept], c[kept])
            rows = np.nonzero(black.any(axis=1))[0]
            assert rows.size and not black[28:37].any()  # the eye line (rows 28 to 36) is never cut
            sides.add("top" if rows.max() < 32 else "bottom" if rows.min() > 32 else "both")
            column_depth = black.sum(axis=0)
            assert column_depth.max() - column_depth.min() <= 0.1 * 64 + 1  # a straight edge, a little tilted
    assert sides == {"top", "bottom"}


def test_frame_cuts_follow_strength_and_are_off_by_default(crops):
    np.testing.assert_array_equal(augment_batch(build_augmentation(0.0, frame_cuts=1.0), crops), crops)
    assert "FrameCut" not in repr(build_augmentation(1.0)) and "FrameCut" in repr(build_augmentation(1.0, frame_cuts=1.0))
    with pytest.raises(ValueError, match="frame cut"):
        build_augmentation(0.5, frame_cuts=-0.1)
