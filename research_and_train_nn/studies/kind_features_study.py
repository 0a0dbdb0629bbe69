"""Which features of a trained network say the kind of glasses best? Linear probes, on validation.

    python3 research_and_train_nn/studies/kind_features_study.py --model runs/glasses-0.3.0.keras \
        --config research_and_train_nn/configs/all_data_kind3_variants.json --out research_and_train_nn/reports

Model 0.3.0 reads its second answer, P(dark | glasses), from the same globally pooled features as
the first, and misses 0.97 on sunglasses (issue 24). This study freezes a trained network and fits
a logistic regression (scikit-learn, classes balanced) from each of several of its feature maps to
the kind labels of the training faces with glasses, un-augmented, then scores it on the
validation faces with a known kind, the threshold chosen there as train.py chooses the kind's
(metrics.choose_kind_threshold): pooled maps against maps kept position by position, whole or
only some rows. The split is the config's (its validation photos, identities never trained on).
It decided where the eye-band head (training/model.py) reads; the head itself is then trained
with augmentation in full runs (reports/runs_v0.3_eyeband/). Writes kind_features_study.md and .json.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from glasses_core.errors import ConfigError, errors_exit_2
from glasses_core.quiet import quiet
from research_and_train_nn.evaluation.metrics import choose_kind_threshold, kind_metrics
from research_and_train_nn.studies.report_files import command_line, write_report

BLOCKS = (3, 4, 5, 6)  # block outputs probed: 8 x 8 x 128 (3, 4), 4 x 4 x 192 (5, 6) for 64 px crops
STRENGTHS = (0.01, 0.1)  # inverse regularisation strengths (scikit-learn's C) tried for every probe


def views(features: np.ndarray):
    """(name, (N, D) array) of one feature map: pooled, whole position by position, row bands."""
    n, h = len(features), features.shape[1]
    yield "pooled", features.mean(axis=(1, 2))
    yield "every position", features.reshape(n, -1)
    if h >= 8:
        yield "2 x 2 pooled", features.reshape(n, h // 2, 2, h // 2, 2, -1).mean(axis=(2, 4)).reshape(n, -1)
        for first, last in ((h // 4, 3 * h // 4), (3 * h // 8, 5 * h // 8)):
            yield f"rows {first}-{last - 1}", features[:, first:last].reshape(n, -1)


def probe(train_x: np.ndarray, train_dark: np.ndarray, val_x: np.ndarray, val_kinds: np.ndarray, strength: float) -> dict:
    from sklearn.linear_model import LogisticRegression
    mean, spread = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
    fitted = LogisticRegression(C=strength, max_iter=3000, class_weight="balanced")
    fitted.fit((train_x - mean) / spread, train_dark)
    dark = fitted.predict_proba((val_x - mean) / spread)[:, 1]
    return kind_metrics(val_kinds, dark, choose_kind_threshold(val_kinds, dark))


def measure(model_path: Path, config_path: Path) -> dict:
    with quiet():
        import keras
    from research_and_train_nn.data.crops import DEFAULT_CACHE
    from research_and_train_nn.evaluation.probabilities import predict_answers
    from research_and_train_nn.training.config import TrainConfig
    from research_and_train_nn.training.run import prepare_data, split_records
    config = TrainConfig.from_dict(json.loads(config_path.read_text()), str(config_path))
    config = dataclasses.replace(config, crop_variants=0.0)  # the probes see each face's own crop only
    train, val = prepare_data(config, DEFAULT_CACHE, split_records(config))
    train_kinds = np.array([r.kind or "" for r in train.records])
    val_kinds = np.array([r.kind or "" for r in val.records])
    chosen = (train.labels == 1) & np.isin(train_kinds, ["clear", "dark"])
    known = np.isin(val_kinds, ["clear", "dark"])
    model = keras.models.load_model(model_path, compile=False)
    names = [f"block{b}_pw_relu" for b in BLOCKS]
    features = keras.Model(model.input, [model.get_layer(n).output for n in names])
    train_maps = features.predict(train.crops[chosen].astype(np.float32), batch_size=256, verbose=0)
    val_maps = features.predict(val.crops[known].astype(np.float32), batch_size=256, verbose=0)
    _, own_dark = predict_answers(model, val.crops[known])
    own = kind_metrics(val_kinds[known], own_dark, choose_kind_threshold(val_kinds[known], own_dark)) \
        if own_dark is not None else None
    rows = []
    for block, train_map, val_map in zip(BLOCKS, train_maps, val_maps):
        for (view, train_x), (_, val_x) in zip(views(train_map), views(val_map)):
            for strength in STRENGTHS:
                m = probe(train_x, train_kinds[chosen] == "dark", val_x, val_kinds[known], strength)
                rows.append({"block": block, "map": list(train_map.shape[1:]), "view": view,
                             "weights": int(train_x.shape[1]), "C": strength, **m})
    return {"model": str(model_path), "config": str(config_path),
            "training faces": {"clear": int((train_kinds[chosen] == "clear").sum()),
                               "dark": int((train_kinds[chosen] == "dark").sum())},
            "model's own second answer": own, "probes": rows}


def markdown(report: dict, command: str) -> str:
    own = report["model's own second answer"]
    faces = report["training faces"]
    lines = ["# Which features say the kind of glasses: linear probes of a frozen network", "",
             f"`{command}`", "",
             f"Logistic regressions from feature maps of `{report['model']}` (frozen) to the kind, fitted on the "
             f"{faces['clear']:,} clear and {faces['dark']:,} dark training faces (un-augmented crops), scored on the "
             "validation faces with a known kind at the threshold chosen there (the mean of the two accuracies, as "
             "train.py chooses the kind's threshold). C: scikit-learn's inverse regularisation strength. Rows are "
             "those of the block's output map, 0 at the top of the crop; the eyes are on its middle rows.", ""]
    if own:
        lines += [f"The model's own second answer (pooled features): clear {own['clear_accuracy']:.4f}, "
                  f"dark {own['dark_accuracy']:.4f}, on {own['clear']} clear and {own['dark']} dark glasses.", ""]
    lines += ["| block | map | view | weights | C | clear | dark | lower of the two |", "|---|---|---|---|---|---|---|---|"]
    for r in report["probes"]:
        lines.append(f"| {r['block']} | {' x '.join(map(str, r['map']))} | {r['view']} | {r['weights']:,} | {r['C']} | "
                     f"{r['clear_accuracy']:.4f} | {r['dark_accuracy']:.4f} | "
                     f"{min(r['clear_accuracy'], r['dark_accuracy']):.4f} |")
    return "\n".join(lines) + "\n"


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a trained .keras model (its feature maps are probed)")
    parser.add_argument("--config", type=Path, required=True, help="the training config whose split gives the photos")
    parser.add_argument("--out", type=Path, required=True, help="folder for kind_features_study.md and .json")
    args = parser.parse_args(argv)
    for path in (args.model, args.config):
        if not path.is_file():
            raise ConfigError(f"no such file: {path}")
    report = measure(args.model, args.config)
    write_report(args.out, "kind_features_study", report,
                 markdown(report, command_line("kind_features_study.py", argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
