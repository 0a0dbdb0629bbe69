"""Contact sheet of the glasses synthesis: every style, several random draws each, on real
MTFL training faces that wear no glasses (their annotated eyes and nose place the glasses).

    .venv/bin/python research_and_train_nn/make_synthesis_sheet.py [--out static/synthetic_glasses.png]

One row per style (the last: glasses pushed up onto the head, a label-0 hard negative): the
draws around the face, then the first draw as the model would see it, a 64 px and an 80 px
crop from the annotated eyes (enlarged, pixels kept square). Held-out (validation-only)
styles are marked.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from glasses_core import CropConfig, load_image
from glasses_core.crop import cut, eye_geometry
from research_and_train_nn.data.datasets import load_mtfl, mtfl_landmarks
from research_and_train_nn.data.splits import split_by_identity
from research_and_train_nn.synthesis.draw import STYLES, draw_forehead_glasses, draw_glasses, synthesis_sources
from research_and_train_nn.training.config import TrainConfig
from research_and_train_nn.data.paths import PROJECT_ROOT, SHARED_DATA

TILE = 120  # pixels per picture on the sheet
LABEL = 104  # width of the style names' column
MIN_EYE_DISTANCE = 36  # faces shown are large enough to see the glasses' detail


def sheet_faces(mtfl: Path, count: int, seed: int) -> list[tuple[str, tuple]]:
    """``count`` training photos without glasses (TrainConfig's split of MTFL), large faces only."""
    records = load_mtfl(mtfl, "train")
    train_idx, _ = split_by_identity(records, TrainConfig.val_fraction, TrainConfig.seed)
    sources = [(r.path, points) for r, points in synthesis_sources(records, train_idx, mtfl_landmarks(mtfl))
               if np.hypot(*np.subtract(points[1], points[0])) >= MIN_EYE_DISTANCE]
    chosen = np.random.default_rng(seed).choice(len(sources), count, replace=False)
    return [sources[i] for i in chosen]


def face_view(image: np.ndarray, points: tuple) -> Image.Image:
    """A square around the face: 3.2 eye distances wide, centred a little above the eyes."""
    (x0, y0), (x1, y1) = points[:2]
    half = 1.6 * np.hypot(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - 0.1 * half
    box = tuple(int(round(c)) for c in (cx - half, cy - half, cx + half, cy + half))
    return Image.fromarray(image).crop(box).resize((TILE, TILE), Image.LANCZOS)


def model_crop(image: np.ndarray, points: tuple, size: int) -> Image.Image:
    """The classifier's input at ``size`` px, cut from the annotated eyes, enlarged for the sheet."""
    pixels = cut(image, eye_geometry(points[0], points[1], CropConfig(size=size)), size)
    return Image.fromarray(pixels).resize((TILE, TILE), Image.NEAREST)


def style_row(name: str, faces: list, seed: int) -> list[Image.Image]:
    tiles = []
    for index, (path, points) in enumerate(faces):
        rng = np.random.default_rng([seed, index, sum(map(ord, name))])
        draw = draw_forehead_glasses if name == "forehead" else draw_glasses
        style = None if name == "forehead" else name
        image, _ = draw(load_image(path), points[0], points[1], rng, style=style, nose=points[2])
        tiles.append(face_view(image, points))
        if index == 0:
            crops = [model_crop(image, points, size) for size in (64, 80)]
    return tiles + crops


def make_sheet(mtfl: Path, out: Path, draws: int = 5, seed: int = 0) -> None:
    names = list(STYLES) + ["forehead"]
    faces = sheet_faces(mtfl, draws * len(names), seed)
    sheet = Image.new("RGB", (LABEL + (draws + 2) * TILE, 18 + len(names) * TILE), "white")
    pen = ImageDraw.Draw(sheet)
    for column, title in enumerate([f"draw {i + 1}" for i in range(draws)] + ["64 px crop", "80 px crop"]):
        pen.text((LABEL + column * TILE + 4, 3), title, fill="black")
    for row, name in enumerate(names):
        y = 18 + row * TILE
        label = name + ("\n(held out)" if name in STYLES and STYLES[name].held_out else "")
        label += "\n(label 0)" if name == "forehead" else ""
        pen.multiline_text((4, y + TILE // 2 - 12), label, fill="black")
        for column, tile in enumerate(style_row(name, faces[row * draws:(row + 1) * draws], seed)):
            sheet.paste(tile, (LABEL + column * TILE, y))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mtfl", type=Path, default=SHARED_DATA / "mtfl")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "static" / "synthetic_glasses.png")
    parser.add_argument("--draws", type=int, default=5, help="random draws per style")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    make_sheet(args.mtfl, args.out, args.draws, args.seed)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
