"""The suite's composed photos, made from real faces in ../shared/data (deterministic: the same
files again from the same data and Pillow).

Each case is one thing a port can get wrong: a small face in a 12 MP frame (the detailed pass), two faces
(the any-face rule), a face turned 30 degrees in the picture (the levelling), a face upside down
and a head lying on its side (the second looks, turned), a close-up the frame cuts (the widened
look) and one cut at brow and chin (the widened look's face counted by eye agreement), a phone photo stored
sideways with an EXIF orientation, a greyscale JPEG, a PNG with alpha (composited on white), a
photo with no face (the fallback crop), and a frame without a face in which the upright look finds a
false one (refined no further once the face mesh reads it absent: preprocessing 12).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

NET = "mtfl/net_7876"  # MTFL's web photos: 400 x 400, one face each
FACES = {  # label from mtfl/training.txt (1 = glasses)
    "glasses_a": f"{NET}/1050_0_0.jpg",  # 1
    "glasses_b": f"{NET}/1062_1_0.jpg",  # 1
    "glasses_c": f"{NET}/1015_0_0.jpg",  # 1
    "plain_a": f"{NET}/348_0_0.jpg",  # 0
    "plain_b": f"{NET}/683_1_0.jpg",  # 0
    "plain_c": f"{NET}/58_0_0.jpg",  # 0
    "close_up": f"{NET}/400_0_0.jpg",  # 1
    "close_up_tight": f"{NET}/8060_0_0.jpg",  # 1
}
SCENE = "meglass/samples/8101189@N07_identity_0@3356925158_2.jpg"  # 838 x 835, its right side has no face
EXIF_ORIENTATION = 0x0112


def _face(data: Path, name: str) -> Image.Image:
    return Image.open(data / FACES[name]).convert("RGB")


def _jpeg(image: Image.Image, quality: int = 90, exif: bytes | None = None) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, **({"exif": exif} if exif else {}))
    return buffer.getvalue()


def _background(width: int, height: int, seed: int) -> Image.Image:
    """Out-of-focus colour with a little sensor-like noise (as benchmarks/photos.py)."""
    rng = np.random.default_rng(seed)
    blur = Image.fromarray(rng.integers(40, 200, (9, 12, 3), dtype=np.uint8)).resize((width, height), Image.BICUBIC)
    noisy = np.asarray(blur, dtype=np.float32) + rng.normal(0, 3, (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def small_face_12mp(data: Path) -> bytes:
    """A face about 7 % of the width of a 4032 x 3024 frame: found only by the detailed pass."""
    frame = _background(4032, 3024, seed=1)
    frame.paste(_face(data, "glasses_a").resize((500, 500), Image.BICUBIC), (1800, 1400))
    return _jpeg(frame)


def two_faces(data: Path) -> bytes:
    """Two people side by side, one with glasses: the photo's answer is glasses (any face)."""
    frame = _background(960, 520, seed=2)
    frame.paste(_face(data, "plain_a"), (40, 60))
    frame.paste(_face(data, "glasses_a"), (520, 60))
    return _jpeg(frame)


def turned_30(data: Path) -> bytes:
    """A face turned 30 degrees in the picture (counter-clockwise): the crop must level it."""
    return _jpeg(_face(data, "plain_c").rotate(30, Image.BICUBIC, expand=True, fillcolor=(128, 128, 128)))


def upside_down(data: Path) -> bytes:
    """A face upside down: the upright look doubts it, and the photo turned half a turn finds it."""
    return _jpeg(_face(data, "glasses_c").transpose(Image.Transpose.ROTATE_180))


def lying(data: Path) -> bytes:
    """A head lying on its side (turned a quarter): found on the photo turned back."""
    return _jpeg(_face(data, "plain_b").transpose(Image.Transpose.ROTATE_90))


def close_up(data: Path) -> bytes:
    """A close-up the frame cuts above the brows, enlarged as a phone shows it: only the widened look
    finds its face, which the face mesh reads under TRUSTED (it counts from WIDENED_TRUSTED)."""
    return _jpeg(_face(data, "close_up").crop((122, 140, 320, 308)).resize((480, 407), Image.BICUBIC))


def close_up_agreeing(data: Path) -> bytes:
    """A close-up cut at the brows and under the mouth: the upright look reads each eye as a small face,
    neither trusted; the widened look's face reads under WIDENED_TRUSTED, and counts because the face
    mesh's eyes lie near the detector's (locate.counts_widened, PREPROCESS_VERSION 10). (Cut 6 px lower at the
    top since preprocessing 13, whose widened look read the earlier cut's face at presence 3.0, over
    WIDENED_TRUSTED; this one reads 1.5, its eyes 0.06 eye distances from the detector's.)"""
    return _jpeg(_face(data, "close_up_tight").crop((88, 114, 306, 243)).resize((480, 284), Image.BICUBIC))


def exif_rotated(data: Path) -> bytes:
    """A portrait phone photo stored landscape, with EXIF orientation 6 (turn 90 degrees
    clockwise to show it): the pixels a port must see are the upright ones."""
    upright = _background(480, 640, seed=3)
    upright.paste(_face(data, "glasses_c"), (40, 80))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    return _jpeg(upright.transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes())


def greyscale(data: Path) -> bytes:
    """A one-channel JPEG: the model takes it as three equal channels."""
    return _jpeg(_face(data, "glasses_a").convert("L"))


def alpha_png(data: Path) -> bytes:
    """A PNG whose corners fade to transparent: seen composited on white."""
    face = _face(data, "plain_b")
    ys, xs = np.mgrid[:400, :400]
    distance = np.hypot((xs - 200) / 190, (ys - 200) / 190)
    alpha = np.clip((1.15 - distance) / 0.3 * 255, 0, 255).astype(np.uint8)
    face.putalpha(Image.fromarray(alpha))
    buffer = io.BytesIO()
    face.save(buffer, "PNG")
    return buffer.getvalue()


def no_face(data: Path) -> bytes:
    """A corner of a real photo beside its subject (a wall, a window): no face, so the fallback crop."""
    return _jpeg(Image.open(data / SCENE).convert("RGB").crop((500, 0, 838, 250)))


def false_face(data: Path) -> bytes:
    """A 640 x 480 frame of out-of-focus colour without a face, in which the upright look finds a false
    face (detector score 0.60) the mesh reads absent (presence about -9): refined twice, no further
    (preprocessing 12); refined in full, as preprocessing 11 did, its eyes end 0.7 eye distances away."""
    return _jpeg(_background(640, 480, seed=29))


CASES = {"small_face_12mp.jpg": small_face_12mp, "two_faces.jpg": two_faces, "turned_30.jpg": turned_30,
         "upside_down.jpg": upside_down, "lying.jpg": lying, "close_up.jpg": close_up,
         "close_up_agreeing.jpg": close_up_agreeing,
         "exif_rotated.jpg": exif_rotated, "greyscale.jpg": greyscale, "alpha.png": alpha_png,
         "no_face.jpg": no_face, "false_face.jpg": false_face}


def compose_all(data: Path, out: Path) -> list[Path]:
    """Write every composed case into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in CASES.items():
        (out / name).write_bytes(make(data))
        written.append(out / name)
    return written
