"""Consistency training (research_and_train_nn/training/consistency.py): a crop and its slightly moved
copy should get the same logit."""
from __future__ import annotations

import numpy as np

from research_and_train_nn.training.consistency import SHIFT, ConsistentBinaryCrossentropy, jittered
from research_and_train_nn.training.fit import AugmentedCrops, PairedCopies


def test_the_loss_is_cross_entropy_plus_the_weighted_gap_of_each_pair():
    logits = np.array([[2.0], [-1.0], [0.5], [-1.0]], np.float32)  # pairs (2.0, 0.5) and (-1.0, -1.0)
    labels = np.array([1.0, 0.0, 1.0, 0.0], np.float32)
    bce = np.log1p(np.exp(-np.where(labels == 1, logits[:, 0], -logits[:, 0])))
    gap = np.array([1.5 ** 2, 0.0, 1.5 ** 2, 0.0])
    for weight in (0.0, 0.5):
        got = float(ConsistentBinaryCrossentropy(weight)(labels, logits))
        np.testing.assert_allclose(got, np.mean(bce + weight * gap), rtol=1e-5)


def test_moved_copies_are_the_crop_moved_a_little(data_dir):
    from PIL import Image
    crop = np.asarray(Image.open(data_dir / "mtfl" / "lfw_5590" / "Aaron_Eckhart_0001.jpg").convert("RGB").resize((64, 64)))
    batch = np.stack([crop] * 8)
    moved = jittered(batch, seed=3)
    assert moved.shape == batch.shape and moved.dtype == np.uint8
    assert np.array_equal(moved, jittered(batch, seed=3))  # reproducible
    differences = np.abs(moved.astype(int) - batch).mean(axis=(1, 2, 3))
    assert (differences > 0).all() and len(set(differences.round(3))) > 1  # each copy moved its own way
    # no more than SHIFT of the side: the crop's centre stays within a pixel or two
    centre = batch[:, 24:40, 24:40].astype(int)
    assert np.abs(moved[:, 24:40, 24:40].astype(int) - centre).mean() < np.abs(np.roll(centre, 4, axis=2) - centre).mean()
    assert SHIFT * 64 <= 2


def test_paired_batches_follow_each_crop_with_its_moved_copy(data_dir):
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 255, (20, 64, 64, 3), dtype=np.uint8)
    labels = (np.arange(20) % 3 == 0).astype(np.int64)
    plain = AugmentedCrops(crops, labels, 8, seed=1)
    paired = AugmentedCrops(crops, labels, 8, seed=1, pairs=True)
    for data in (plain, paired):
        data.start_epoch(0, 0.5)
    x, y = plain[1]
    px, py = paired[1]
    assert px.shape == (16, 64, 64, 3) and np.array_equal(py, np.concatenate([y, y]))
    np.testing.assert_array_equal(px[:8], x)  # the first half is the plain batch, bit for bit
    assert not np.array_equal(px[8:], x)
    vx, vy = PairedCopies(crops, labels, 8)[2]
    assert np.array_equal(vx[:4], vx[4:]) and np.array_equal(vy, np.concatenate([labels[16:]] * 2))


def test_a_consistency_run_trains_saves_and_resumes(data_dir, crop_cache, tmp_path):
    """A tiny run with the consistency loss: it trains, its checkpoints load (the loss is
    registered with Keras), and a resumed run continues from them."""
    import keras

    from research_and_train_nn.training.config import TrainConfig
    from research_and_train_nn.training.run import run
    config = TrainConfig(datasets=(f"mtfl:{data_dir / 'mtfl'}",), max_train=48, epochs=1, batch_size=8,
                         bn_momentum=0.9, test="", consistency=0.5)
    run(config, tmp_path / "run", cache=crop_cache)
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    assert isinstance(model.loss, ConsistentBinaryCrossentropy) and model.loss.weight == 0.5
    import dataclasses
    run(dataclasses.replace(config, epochs=2), tmp_path / "run", cache=crop_cache, resume=True)
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert len(history) == 3  # header, epoch 1, epoch 2
