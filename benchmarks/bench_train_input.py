"""Crops per second of the training input pipeline alone, against the rate the model's training
step consumes them: can the input keep an accelerator busy?

    .venv/bin/python benchmarks/bench_train_input.py [--crops 2048] [--batch-size 64] \
        [--cache cache/crops] [--strategy mirrored]

The input pipeline is fit.py's AugmentedCrops as fit() runs it (albumentations, one worker), at
the schedule's first and last augmentation strengths, on real MTFL crops from the crop cache.
The step rate is fit() of fit.build()'s model on batches made beforehand (the second epoch: the
first one traces), on this machine's devices; with --strategy, under that tf.distribute
strategy. When the step consumes more crops a second than the input makes, the device waits.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def real_crops(count: int, cache: Path):
    """(crops, labels) of the first ``count`` readable MTFL training photos."""
    from glasses_core import CropConfig
    from research_and_train_nn.data.datasets import load
    from research_and_train_nn.data.crops import make_crops
    crop_set = make_crops(load(f"mtfl:{DATA / 'mtfl'}")[:count], CropConfig(), cache, progress=False)
    crop_set = crop_set.subset([i for i in range(len(crop_set.records)) if crop_set.ok[i]])
    return crop_set.crops, crop_set.labels


def input_rate(crops, labels, batch_size: int, strength: float) -> float:
    """Crops a second of AugmentedCrops over one epoch."""
    from research_and_train_nn.training.fit import AugmentedCrops
    data = AugmentedCrops(crops, labels, batch_size, seed=0, workers=1, use_multiprocessing=False)
    data.start_epoch(0, strength)
    start = time.perf_counter()
    for index in range(len(data)):
        data[index]
    return len(crops) / (time.perf_counter() - start)


def step_rate(crops, labels, batch_size: int, strategy: str) -> tuple[float, int]:
    """(crops a second of the training step, replicas), on batches made beforehand."""
    import keras
    import numpy as np

    from research_and_train_nn.training.distribute import strategy_scope
    from research_and_train_nn.training.fit import build
    from research_and_train_nn.training.config import TrainConfig
    with strategy_scope(strategy) as scope:
        model = build(TrainConfig(batch_size=batch_size))
        images, targets = crops.astype(np.float32), labels.astype(np.float32)
        model.fit(images, targets, batch_size=batch_size, epochs=1, verbose=0)  # traces the step
        start = time.perf_counter()
        model.fit(images, targets, batch_size=batch_size, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
    keras.backend.clear_session()
    return len(crops) / seconds, 1 if scope is None else scope.num_replicas_in_sync


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crops", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--cache", type=Path, default=ROOT / "cache" / "crops", help="crop cache folder")
    parser.add_argument("--strategy", default="none", help="none, mirrored or multi-worker")
    parser.add_argument("--out", type=Path, default=None, help="write the results here as Markdown")
    args = parser.parse_args(argv)
    crops, labels = real_crops(args.crops, args.cache)
    import tensorflow as tf
    results = {"crops": len(crops), "batch_size": args.batch_size, "cores": len(os.sched_getaffinity(0)),
               "gpus": len(tf.config.list_physical_devices("GPU")), "strategy": args.strategy,
               "input_crops_per_s_strength_0.1": round(input_rate(crops, labels, args.batch_size, 0.1), 1),
               "input_crops_per_s_strength_0.8": round(input_rate(crops, labels, args.batch_size, 0.8), 1)}
    rate, replicas = step_rate(crops, labels, args.batch_size, args.strategy)
    results.update(step_crops_per_s=round(rate, 1), replicas=replicas, load_average_1min=os.getloadavg()[0])
    results["input_over_step"] = round(results["input_crops_per_s_strength_0.8"] / rate, 2)
    print(json.dumps(results))
    if args.out:
        args.out.write_text(markdown(results, argv))
    return results


def markdown(r: dict, argv) -> str:
    command = " ".join(["benchmarks/bench_train_input.py", *(sys.argv[1:] if argv is None else argv)])
    return f"""# Training input pipeline against the training step

`.venv/bin/python {command}`: {r['crops']} real MTFL crops, batches of {r['batch_size']},
{r['cores']} cores, {r['gpus']} GPUs, strategy {r['strategy']} ({r['replicas']} replicas), load
average {r['load_average_1min']:.2f} at the end. Measured in one run.

| stage | crops/s |
|---|---|
| input: AugmentedCrops, one worker, strength 0.1 | {r['input_crops_per_s_strength_0.1']} |
| input: AugmentedCrops, one worker, strength 0.8 | {r['input_crops_per_s_strength_0.8']} |
| training step (fit on batches made beforehand) | {r['step_crops_per_s']} |

The input makes {r['input_over_step']} × the crops the step consumes at the strongest
augmentation{": the device never waits for it" if r['input_over_step'] >= 1 else
": the device waits for the input, which wants more workers"}.
"""


if __name__ == "__main__":
    main()
