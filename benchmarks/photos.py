"""The benchmark photos, built from one real face, and the timing helper every benchmark uses.

A real MTFL photo (Aaron_Eckhart_0001, 250 x 250) is scaled into a frame whose background is
out-of-focus colour with sensor-like noise, so that the JPEG costs what a camera's does to
decode (about 2 bits a pixel at quality 90, 2.9 MB for 12 MP): a 640 x 480 webcam frame, a 1920 x 1080 video
frame and a 4032 x 3024 (12 MP) phone photo where the face fills about a fifth of the width.
"""
from __future__ import annotations

import io
import statistics
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
FACE = DATA / "mtfl" / "lfw_5590" / "Aaron_Eckhart_0001.jpg"
SIZES = {"640x480": ((640, 480), 320), "1920x1080": ((1920, 1080), 800), "4032x3024": ((4032, 3024), 1700)}


@lru_cache(maxsize=None)
def benchmark_photo(size: str, face: bool = True) -> bytes:
    """The JPEG (quality 90) for one of SIZES: the face photo's side is the second number.
    ``face`` False: the same frame without the face (a photo in which no face is found)."""
    (width, height), face_side = SIZES[size]
    rng = np.random.default_rng(0)
    blur = Image.fromarray(rng.integers(40, 200, (9, 12, 3), dtype=np.uint8)).resize((width, height), Image.BICUBIC)
    noisy = np.asarray(blur, dtype=np.float32) + rng.normal(0, 9, (height, width, 3))
    frame = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    if face:
        portrait = Image.open(FACE).convert("RGB").resize((face_side, face_side), Image.BICUBIC)
        frame.paste(portrait, ((width - face_side) // 2, (height - face_side) // 3))
    buf = io.BytesIO()
    frame.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def photo_640x480() -> bytes:
    return benchmark_photo("640x480")


def median_ms(fn, runs: int) -> float:
    """Median milliseconds of ``fn()`` over ``runs`` calls, after 3 warm-up calls."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
