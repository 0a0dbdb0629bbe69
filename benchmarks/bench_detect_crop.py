"""Median time of face detection + crop for a 640x480 photo (the core's preprocess()).

    python3 benchmarks/bench_detect_crop.py [--runs 200] [--json out.json]

The photo is a real MTFL face placed in a 640x480 frame and JPEG-encoded; decoding is timed
separately. Single thread, as the server's workers run.
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from pathlib import Path

from PIL import Image

from glasses_core import CropConfig, Detectors, load_image, preprocess

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def photo_640x480() -> bytes:
    face = Image.open(DATA / "mtfl" / "lfw_5590" / "Aaron_Eckhart_0001.jpg").convert("RGB")
    frame = Image.new("RGB", (640, 480), (90, 110, 120))
    frame.paste(face.resize((320, 320)), (160, 80))
    buf = io.BytesIO()
    frame.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def median_ms(fn, runs: int) -> float:
    for _ in range(5):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="timed runs per stage")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    data = photo_640x480()
    config = CropConfig()
    detectors = Detectors(config)
    image = load_image(data)
    assert preprocess(image, detectors, config)[0].face is not None, "benchmark photo has no face"
    result = {
        "photo": "640x480 JPEG, one face",
        "decode_ms": median_ms(lambda: load_image(data), args.runs),
        "detect_and_crop_ms": median_ms(lambda: preprocess(image, detectors, config), args.runs),
        "runs": args.runs,
    }
    print(f"decode {result['decode_ms']:.2f} ms, face detection + crop {result['detect_and_crop_ms']:.2f} ms "
          f"(median of {args.runs}, 640x480)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
