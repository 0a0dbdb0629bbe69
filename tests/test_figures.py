"""research_and_train_nn/make_figures.py into a temporary folder, from a benchmarks JSON made here."""
from __future__ import annotations

import json

from PIL import Image

from research_and_train_nn.make_figures import main

STAGES = {"decode_ms": 2.0, "detect_ms": 4.0, "refine_ms": 3.0, "crop_ms": 1.0, "classify_ms": 0.4}


def test_makes_every_figure(tmp_path):
    benchmarks = tmp_path / "results.json"
    benchmarks.write_text(json.dumps({
        "machine": {"note": "test", "cores": 2},
        "classifier_ms_per_crop": {f"{v}_{t}_thread": 0.3 for v in ("int8", "float16", "float32") for t in (1, 2)},
        "pipeline": {"model": "glasses_int8.tflite",
                     "photos": {"640x480": STAGES, "1920x1080": {k: 10 * v for k, v in STAGES.items()}}}}))
    out = tmp_path / "figures"
    paths = main(["--out", str(out), "--benchmarks", str(benchmarks)])
    assert sorted(p.name for p in paths) == ["description.png", "examples_grid.png", "inference_time.png",
                                            "model_summary.png"]
    for path in paths:
        assert path.parent == out
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width >= 500 and image.height >= 300, path.name
            colours = image.convert("L").getextrema()
            assert colours[1] - colours[0] > 100, f"{path.name} looks blank"
