"""The second answer in training (training/kind_head.py, model.py, fit.py): its targets, its loss
on the rows with a known kind only, its start from a one-answer model, balance within each pool,
and crops swapped for their variants as the augmentation strength rises."""
from __future__ import annotations

import numpy as np
import pytest

from research_and_train_nn.training.kind_head import (UNKNOWN, GlassesAndKindLoss, KindAccuracy, kind_class_weights,
                                                      kind_targets)


def test_targets_carry_the_kind_of_glasses_only():
    labels = np.array([1, 1, 1, 0, 0])
    targets = kind_targets(labels, ["dark", "clear", None, None, "dark"])  # a stray kind on no glasses is ignored
    assert targets.tolist() == [[1, 1], [1, 0], [1, UNKNOWN], [0, UNKNOWN], [0, UNKNOWN]]
    assert kind_class_weights(np.array([[1, 1], [1, 0], [1, 0], [1, 0], [0, UNKNOWN]])) == pytest.approx((4 / 6, 4 / 2))


def test_the_kind_loss_counts_only_rows_with_a_known_kind():
    loss = GlassesAndKindLoss(weight=1.0, reduction=None)
    y = np.array([[1, 1], [0, UNKNOWN], [1, UNKNOWN]], dtype=np.float32)
    logits = np.array([[2.0, 1.0], [-2.0, 3.0], [2.0, -3.0]], dtype=np.float32)
    moved = logits.copy()
    moved[1:, 1] = [-5.0, 5.0]  # the second logit of the rows without a known kind
    first = np.asarray(loss(y, logits))
    again = np.asarray(loss(y, moved))
    assert first[1:] == pytest.approx(again[1:]) and first[0] == pytest.approx(again[0])
    moved[0, 1] = -1.0  # the known row's second logit says clear now: its loss grows
    assert np.asarray(loss(y, moved))[0] > first[0]
    without = GlassesAndKindLoss(weight=0.0, reduction=None)
    assert np.asarray(without(y, logits))[0] < first[0]


def test_kind_accuracy_reads_only_known_rows():
    metric = KindAccuracy()
    metric.update_state(np.array([[1, 1], [1, 0], [0, UNKNOWN]], np.float32),
                        np.array([[0, 2.0], [0, 1.0], [0, -9.0]], np.float32))
    assert float(metric.result()) == pytest.approx(0.5)


def test_a_two_answer_model_starts_as_the_one_answer_model_it_is_given():
    import keras

    from research_and_train_nn.training.model import inference_model, load_weights_into, make_model
    keras.utils.set_random_seed(0)
    one = make_model()  # a one-answer model (the shipped one says which glasses already)
    one.predict(np.zeros((1, 64, 64, 3), np.float32), verbose=0)
    two = make_model(kind_head=True)
    load_weights_into(two, one)
    crops = np.random.default_rng(0).integers(0, 256, (8, 64, 64, 3)).astype(np.float32)
    assert two.predict(crops, verbose=0)[:, 0] == pytest.approx(one.predict(crops, verbose=0)[:, 0], abs=1e-4)
    glasses, dark = inference_model(two).predict(crops, verbose=0)
    assert glasses.shape == dark.shape == (8, 1) and np.allclose(dark, 0.5)  # the new logit starts at 0
    assert inference_model(two).output_names == ["probability", "dark_probability"]


def test_classes_weigh_the_same_within_each_pool():
    from research_and_train_nn.training.fit import source_class_weights
    labels = np.array([1] * 90 + [0] * 10 + [1] * 5 + [0] * 95)
    pools = ["celeba_more"] * 100 + ["mtfl_train"] * 100
    w = source_class_weights(labels, pools)
    assert w.mean() == pytest.approx(1.0)
    for pool in (slice(0, 100), slice(100, 200)):
        assert w[pool][labels[pool] == 1].sum() == pytest.approx(w[pool][labels[pool] == 0].sum())
    assert w[:100].sum() == pytest.approx(w[100:].sum())  # each pool weighs its size


def test_crops_turn_into_their_variants_as_strength_rises():
    from research_and_train_nn.training.fit import AugmentedCrops
    rng = np.random.default_rng(1)
    crops = rng.integers(0, 256, (40, 64, 64, 3), dtype=np.uint8)
    variants = rng.integers(0, 256, (40, 3, 64, 64, 3), dtype=np.uint8)
    data = AugmentedCrops(crops, np.zeros(40), 40, seed=3, variants=variants, variant_share=1.0)
    data.start_epoch(0, 0.0)
    order = data._order
    assert (data._crops(order, np.random.default_rng(0)) == crops[order]).all()  # strength 0: the crops
    data.start_epoch(1, 1.0)
    swapped = data._crops(data._order, np.random.default_rng(0))
    assert all(any((s == v).all() for v in variants[i]) for s, i in zip(swapped, data._order))


def test_the_kind_threshold_balances_the_accuracy_on_each_kind():
    from research_and_train_nn.evaluation.metrics import choose_kind_threshold, kind_metrics
    kinds = np.array(["dark"] * 4 + ["clear"] * 6 + ["", ""])
    dark = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1, 0.4, 0.5, 0.05, 0.0, 0.99, 0.01])  # the "" rows never count
    t = choose_kind_threshold(kinds, dark)
    assert t == pytest.approx(0.7)  # every clear right and 3 of 4 dark: the best mean accuracy (0.875)
    m = kind_metrics(kinds, dark, t)
    assert m["clear_accuracy"] == 1.0 and m["dark_accuracy"] == 0.75 and m["confusion"] == [[6, 0], [1, 3]]


def test_a_tiny_two_answer_run_learns_which_glasses(tiny_kind_run):
    """4 epochs on 600 real crops: the second answer tells sunglasses from clear glasses on held-out
    people (the mean of the two accuracies; a useless model stays near 0.5), and the run folder
    says which kinds and at which threshold."""
    import json

    from research_and_train_nn.evaluation.metrics import kind_metrics
    from research_and_train_nn.evaluation.probabilities import keras_probabilities, predict_answers
    import keras
    config = json.loads((tiny_kind_run / "config.json").read_text())
    assert config["kinds"] == ["clear", "dark"] and 0 < config["kind_threshold"] < 1
    with np.load(tiny_kind_run / "val_crops.npz") as val:
        crops, kinds, pools = val["crops"], val["kinds"], set(val["pools"].tolist())
    assert pools == {"mtfl_train", "celeba", "celeba_more"}
    _, dark = predict_answers(keras.models.load_model(tiny_kind_run / "model.keras", compile=False), crops)
    m = kind_metrics(kinds, dark, config["kind_threshold"])
    assert m["clear"] > 100 and m["dark"] > 40
    assert (m["clear_accuracy"] + m["dark_accuracy"]) / 2 > 0.7, m
    assert keras_probabilities(tiny_kind_run, crops).shape == (len(crops),)  # the first answer alone


# ---------------------------------------------------------------- the eye-band head, trained alone

def _val_crops(run, count: int = 64) -> np.ndarray:
    with np.load(run / "val_crops.npz") as val:
        return val["crops"][:count].astype(np.float32)


def test_the_eye_band_head_is_a_linear_map_of_the_middle_rows_position_by_position(tiny_kind_run):
    """On real crops, the eye-band logit is the kind_band weights times block 4's output at rows 2
    to 5 of its 8 x 8 map, plus the bias: no other row and no pooling enters it."""
    import keras

    from research_and_train_nn.training.model import EYE_BAND_BLOCK, make_model
    keras.utils.set_random_seed(1)
    model = make_model(kind_head=True, kind_features="eye_band")
    kernel, bias = model.get_layer("kind_band").get_weights()
    model.get_layer("kind_band").set_weights([np.random.default_rng(0).normal(size=kernel.shape).astype("float32"),
                                              np.array([0.25], "float32")])
    crops = _val_crops(tiny_kind_run)
    features = keras.Model(model.input, model.get_layer(f"block{EYE_BAND_BLOCK}_pw_relu").output).predict(crops, verbose=0)
    assert features.shape[1:3] == (8, 8)
    kernel, bias = model.get_layer("kind_band").get_weights()
    expected = np.einsum("nhwc,hwc->n", features[:, 2:6], kernel[..., 0]) + bias[0]
    logits = model.predict(crops, verbose=0)
    assert logits.shape == (len(crops), 2)
    np.testing.assert_allclose(logits[:, 1], expected, rtol=1e-4, atol=1e-4)


def test_a_pooled_two_answer_model_starts_an_eye_band_model_with_its_first_answer(tiny_kind_run):
    import keras

    from research_and_train_nn.training.model import freeze_all_but_kind_head, load_weights_into, make_model
    start = keras.models.load_model(tiny_kind_run / "model.keras", compile=False)
    model = make_model(kind_head=True, kind_features="eye_band")
    load_weights_into(model, start)
    crops = _val_crops(tiny_kind_run)
    np.testing.assert_allclose(model.predict(crops, verbose=0)[:, 0], start.predict(crops, verbose=0)[:, 0], atol=1e-5)
    freeze_all_but_kind_head(model)
    assert [w.path for w in model.trainable_weights] == ["kind_band/kernel", "kind_band/bias"]


def test_the_kind_s_pr_auc_picks_the_best_epoch_of_a_kind_only_run():
    from research_and_train_nn.training.run_state import epochs_since_best, monitored
    joint = [{"val_pr_auc": 0.90}, {"val_pr_auc": 0.95}, {"val_pr_auc": 0.93}]
    kind_only = [{"val_pr_auc": 0.9, "val_kind_pr_auc": 0.5}, {"val_pr_auc": 0.9, "val_kind_pr_auc": 0.8},
                 {"val_pr_auc": 0.9, "val_kind_pr_auc": 0.7}]
    assert monitored(joint) == "val_pr_auc" and epochs_since_best(joint) == 1
    assert monitored(kind_only) == "val_kind_pr_auc" and epochs_since_best(kind_only) == 1


@pytest.fixture(scope="module")
def kind_only_run(tiny_kind_run, data_dir, crop_cache, tmp_path_factory):
    """tiny_kind_run's model with an eye-band kind head trained alone (4 epochs, 600 real crops)."""
    from research_and_train_nn.training.config import TrainConfig
    from research_and_train_nn.training.run import run
    from conftest import TINY_TRAIN
    config = TrainConfig(datasets=(f"mtfl:{data_dir / 'mtfl'}", f"celeba:{data_dir / 'celeba'}",
                                   f"celeba:{data_dir / 'celeba_more'}"),
                         **{**TINY_TRAIN, "seed": 5}, kind_weight=1.0, source_balance=True,
                         kind_features="eye_band", kind_only=True, init_weights=str(tiny_kind_run / "model.keras"),
                         init_config=str(tiny_kind_run / "config.json"))
    return run(config, tmp_path_factory.mktemp("kind_only_run"), cache=crop_cache)


def test_a_kind_only_run_keeps_the_first_answer_and_learns_which_glasses(tiny_kind_run, kind_only_run):
    """The first answer is the starting model's (same probabilities on real held-out crops, same
    threshold); the new head, which starts from random weights, tells the kinds apart; the best
    epoch is the one with the best kind PR-AUC; and the saved model trains as a whole again."""
    import json

    import keras

    from research_and_train_nn.evaluation.metrics import kind_metrics
    from research_and_train_nn.evaluation.probabilities import predict_answers
    from research_and_train_nn.training.run_state import load_state
    start, tuned = (json.loads((run / "config.json").read_text()) for run in (tiny_kind_run, kind_only_run))
    assert tuned["threshold"] == start["threshold"] and 0 < tuned["kind_threshold"] < 1
    with np.load(kind_only_run / "val_crops.npz") as val:
        crops, kinds = val["crops"], val["kinds"]
    model = keras.models.load_model(kind_only_run / "model.keras", compile=False)
    glasses, dark = predict_answers(model, crops)
    start_glasses, _ = predict_answers(keras.models.load_model(tiny_kind_run / "model.keras", compile=False), crops)
    np.testing.assert_allclose(glasses, start_glasses, atol=1e-5)
    m = kind_metrics(kinds, dark, tuned["kind_threshold"])
    assert (m["clear_accuracy"] + m["dark_accuracy"]) / 2 > 0.7, m
    history = load_state(kind_only_run).history
    best = int(np.argmax([row["val_kind_pr_auc"] for row in history]))
    assert len({row["val_pr_auc"] for row in history}) == 1  # the first answer never moved
    assert model.get_layer("kind_pick").trainable is False
    assert all(layer.trainable for layer in model.layers if layer.name != "kind_pick")
    assert len(history) == 4 and 0 <= best < 4


def test_a_kind_only_run_refuses_a_starting_model_that_crops_otherwise(tiny_kind_run, tmp_path):
    import dataclasses

    from glasses_core import ModelConfig
    from glasses_core.errors import ConfigError
    from research_and_train_nn.training.config import TrainConfig
    from research_and_train_nn.training.run import starting_threshold
    other = tmp_path / "other.json"
    start = ModelConfig.load(tiny_kind_run / "config.json")
    dataclasses.replace(start, crop=dataclasses.replace(start.crop, scale=3.0)).save(other)
    config = dict(kind_weight=1.0, kind_features="eye_band", kind_only=True, init_weights="m.keras")
    assert starting_threshold(TrainConfig(**config, init_config=str(tiny_kind_run / "config.json"))) == start.threshold
    with pytest.raises(ConfigError, match="crops otherwise than this run"):
        starting_threshold(TrainConfig(**config, init_config=str(other)))


def test_an_eye_band_model_exports_each_answer_from_its_own_logit(tiny_kind_run):
    """Its inference model reads the two logits, not their concatenation: an int8 file then
    quantizes each on its own range (through the concatenation, 0.3.1's int8 file moved the first
    answer of 185 of 3,654 validation crops away from 0.3.0's by up to 7 steps; without it, none).
    The Core ML exporter's copy without the Rescaling layer gives the same answers."""
    import keras

    from converters.to_coreml import without_rescaling
    from research_and_train_nn.training.model import inference_model, load_weights_into, make_model
    keras.utils.set_random_seed(2)
    model = make_model(kind_head=True, kind_features="eye_band")
    load_weights_into(model, keras.models.load_model(tiny_kind_run / "model.keras", compile=False))
    inference = inference_model(model)
    assert "answers" not in {layer.name for layer in inference.layers}
    assert inference.output_names == ["probability", "dark_probability"]
    crops = _val_crops(tiny_kind_run)
    logits = model.predict(crops, verbose=0)
    glasses, dark = inference.predict(crops, verbose=0)
    np.testing.assert_allclose(np.concatenate([glasses, dark], axis=1), 1 / (1 + np.exp(-logits)), atol=1e-6)
    copy = inference_model(without_rescaling(model))
    assert len([layer for layer in copy.layers if isinstance(layer, keras.layers.InputLayer)]) == 1
    copied_glasses, copied_dark = copy.predict(crops / 255.0, verbose=0)
    np.testing.assert_allclose(copied_glasses, glasses, atol=1e-5)
    np.testing.assert_allclose(copied_dark, dark, atol=1e-5)
