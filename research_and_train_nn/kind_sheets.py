"""Contact sheets for labelling the kind of glasses by eye, and the label files made from them.

Every face labelled "glasses" in the four real pools (MTFL's training and test pools, CelebA and
CelebA-more) is cut around its eyes (MTFL's annotated eyes; CelebA's aligned eye positions),
enlarged and put on numbered sheets of 48. A person looks at each sheet and writes one line:

    sheet celeba_more_012 rest=clear dark=3,17,22 unsure=40

(every cell not named is ``rest``), and, for a cell worth a word, ``note celeba_more_012 40 no
glasses seen``. ``collect`` turns those lines into one CSV per pool (``file,kind,note``: the
photo's path inside its dataset folder; kind ``clear``, ``dark`` or ``unsure``). ``again`` draws sheets of chosen photos only (the labels a trained model disagrees
with) for a second look, whose lines ``collect`` applies on top of the first ones.

    python3 research_and_train_nn/kind_sheets.py sheets --out cache/kind_sheets
    python3 research_and_train_nn/kind_sheets.py collect ANSWERS... --index cache/kind_sheets/index.csv
    python3 research_and_train_nn/kind_sheets.py disagree runs/RUN --out disagreements.csv
    python3 research_and_train_nn/kind_sheets.py again disagreements.csv --out cache/kind_second
    python3 research_and_train_nn/kind_sheets.py again disagreements.csv --name third \
        --skip research_and_train_nn/data/kind_labels/answers/second/index.csv --out cache/kind_third

Within each pool the sheets run from the darkest eyes to the lightest (a crude score: the eyes'
brightness against the cheeks'), so that most sheets hold one kind and the exceptions stand out.
"""
from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from glasses_core import load_image
from glasses_core.crop import cut, eye_geometry
from glasses_core.config import KINDS, CropConfig
from glasses_core.errors import ConfigError, errors_exit_2
from research_and_train_nn.data.datasets import CELEBA_ALIGNED_EYES, KIND_LABELS, load_celeba, load_mtfl, mtfl_eyes
from research_and_train_nn.data.paths import PROJECT_ROOT, SHARED_DATA
from research_and_train_nn.training.run_state import check_run_folder

LABELS = KIND_LABELS  # one CSV per pool, and the labellers' answers

ANSWERS = (*KINDS, "unsure")  # what a labeller may say of a face
POOLS = {  # pool name -> (dataset folder under --data, loader)
    "mtfl_train": ("mtfl", lambda root: load_mtfl(root, "train")),
    "mtfl_test": ("mtfl", lambda root: load_mtfl(root, "test")),
    "celeba": ("celeba", load_celeba),
    "celeba_more": ("celeba_more", load_celeba),
}
CELEBA_EYES = tuple((x * 89, y * 109) for x, y in CELEBA_ALIGNED_EYES)  # the aligned set at half size (89x109)
CELL = 128  # pixels per face on a sheet
COLUMNS, ROWS = 8, 6
SHOW = CropConfig(size=CELL, scale=3.0)  # a little wider than the model's crop: the frames show whole


def faces_with_glasses(data: Path) -> list[tuple[str, str, str, tuple]]:
    """(pool, file inside its dataset folder, path, eyes) of every face labelled glasses."""
    faces = []
    for pool, (folder, loader) in POOLS.items():
        root = data / folder
        eyes = mtfl_eyes(root, pool.split("_")[1]) if folder == "mtfl" else None
        for record in loader(root):
            if record.label == 1:
                file = Path(record.path).relative_to(root).as_posix()
                faces.append((pool, file, record.path, eyes[record.path] if eyes else CELEBA_EYES))
    return faces


def face_tile(path: str, eyes) -> np.ndarray:
    return cut(load_image(path), eye_geometry(eyes[0], eyes[1], SHOW), CELL)


def darkness(tile: np.ndarray) -> float:
    """Eye brightness over cheek brightness: low for sunglasses (a sorting aid, not a label)."""
    grey = tile.astype(np.float64).mean(axis=2)
    eye_distance = CELL / SHOW.scale
    half = CELL / 2
    y_eye, y_cheek, r = int(half), int(half + 0.7 * eye_distance), int(0.2 * eye_distance)
    boxes = lambda y: [grey[y - r:y + r, int(x) - r:int(x) + r]  # noqa: E731
                       for x in (half - eye_distance / 2, half + eye_distance / 2)]
    return float(np.mean([b.mean() for b in boxes(y_eye)]) / max(np.mean([b.mean() for b in boxes(y_cheek)]), 1.0))


def draw_sheet(tiles: list[np.ndarray], title: str) -> Image.Image:
    font = ImageFont.load_default(size=16)
    sheet = Image.new("RGB", (COLUMNS * CELL, ROWS * CELL + 24), (40, 40, 40))
    pen = ImageDraw.Draw(sheet)
    pen.text((6, 3), title, fill=(255, 255, 255), font=font)
    for i, tile in enumerate(tiles):
        x, y = (i % COLUMNS) * CELL, 24 + (i // COLUMNS) * CELL
        sheet.paste(Image.fromarray(tile), (x, y))
        pen.rectangle((x, y, x + 26, y + 19), fill=(0, 0, 0))
        pen.text((x + 3, y + 1), str(i + 1), fill=(255, 255, 0), font=font)
    return sheet


def write_sheets(entries: list[tuple], out: Path, prefix_of) -> None:
    """Sheets of 48 of ``entries`` ((pool, file, path, eyes) each) and ``index.csv`` (sheet, cell,
    pool, file)."""
    out.mkdir(parents=True, exist_ok=True)
    per = COLUMNS * ROWS
    groups: dict[str, list] = {}
    for entry in entries:
        groups.setdefault(prefix_of(entry), []).append(entry)
    with open(out / "index.csv", "w", newline="") as handle:
        index = csv.writer(handle)
        index.writerow(["sheet", "cell", "pool", "file"])
        for prefix, group in groups.items():
            for page in range(math.ceil(len(group) / per)):
                chunk = group[page * per:(page + 1) * per]
                name = f"{prefix}_{page + 1:03d}"
                draw_sheet([e[4] for e in chunk], f"{name}  ({len(chunk)} faces)").save(out / f"{name}.png")
                index.writerows([name, i + 1, e[0], e[1]] for i, e in enumerate(chunk))
            print(f"{prefix}: {len(group)} faces on {math.ceil(len(group) / per)} sheets", file=sys.stderr)


def make_sheets(data: Path, out: Path) -> None:
    entries = []
    for pool, file, path, eyes in faces_with_glasses(data):
        tile = face_tile(path, eyes)
        entries.append((pool, file, path, eyes, tile, darkness(tile)))
    entries.sort(key=lambda e: (list(POOLS).index(e[0]), e[5]))
    write_sheets(entries, out, lambda e: e[0])


def make_second_look(rows: list[dict], data: Path, out: Path, name: str = "again",
                     skip: tuple[Path, ...] = ()) -> None:
    """Sheets ``name``_001, ... of the photos named by ``rows`` (pool, file), in their order,
    leaving out those the sheets of the ``skip`` indexes (an earlier look's) already showed."""
    shown = set()
    for index in skip:
        with open(index, newline="") as handle:
            shown |= {(row["pool"], row["file"]) for row in csv.DictReader(handle)}
    entries = []
    for row in (r for r in rows if (r["pool"], r["file"]) not in shown):
        folder = POOLS[row["pool"]][0]
        path = str(data / folder / row["file"])
        if folder == "mtfl":
            eyes = mtfl_eyes(data / folder, row["pool"].split("_")[1])[path]
        else:
            eyes = CELEBA_EYES
        entries.append((row["pool"], row["file"], path, eyes, face_tile(path, eyes)))
    write_sheets(entries, out, lambda e: name)


def disagreements(run: Path, data: Path) -> list[dict]:
    """Every labelled clear or dark face whose kind the run's model (a two-answer model) says
    otherwise at its kind threshold: pool, file, the label, the model's P(dark | glasses)."""
    import keras

    from glasses_core import ModelConfig
    from research_and_train_nn.data.crops import make_crops
    from research_and_train_nn.data.datasets import load
    from research_and_train_nn.evaluation.probabilities import predict_answers
    config = ModelConfig.load(run / "config.json")
    model = keras.models.load_model(run / "model.keras", compile=False)
    rows = []
    for spec in (f"mtfl:{data / 'mtfl'}", f"mtfl-test:{data / 'mtfl'}", f"celeba:{data / 'celeba'}",
                 f"celeba:{data / 'celeba_more'}"):
        labelled = [r for r in load(spec) if r.kind in ("clear", "dark")]
        crops = make_crops(labelled, config.crop, progress=False)
        _, dark = predict_answers(model, crops.crops)
        rows += [{"pool": r.pool, "file": r.file, "kind": r.kind, "dark_probability": f"{p:.4f}"}
                 for r, p in zip(labelled, dark) if (p >= config.kind_threshold) != (r.kind == "dark")]
    return rows


LINE = re.compile(r"^sheet\s+(\S+)\s+rest=(\w+)((?:\s+\w+=[\d,]*)*)\s*$")
NOTE = re.compile(r"^note\s+(\S+)\s+(\d+)\s+(.+)$")


def parse_answers(lines: list[str], source: str, allowed: tuple[str, ...] = ANSWERS
                  ) -> tuple[dict[tuple[str, int], str], dict[tuple[str, int], str]]:
    """({(sheet, cell): answer}, {(sheet, cell): note}) from answer lines, each answer one of
    ``allowed``; blank lines and ``#`` comments are skipped."""
    answers, notes = {}, {}
    for number, line in enumerate(lines, 1):
        line = line.split("#")[0].strip()
        if not line:
            continue
        note = NOTE.match(line)
        if note:
            notes[(note.group(1), int(note.group(2)))] = note.group(3).strip()
            continue
        match = LINE.match(line)
        if not match or match.group(2) not in allowed:
            raise ValueError(f"{source}:{number}: not an answer line: {line!r}")
        sheet, rest, named = match.group(1), match.group(2), match.group(3)
        answers[(sheet, 0)] = rest  # cell 0: the sheet's default
        for part in named.split():
            kind, cells = part.split("=")
            if kind not in allowed:
                raise ValueError(f"{source}:{number}: unknown answer {kind!r}")
            for cell in filter(None, cells.split(",")):
                answers[(sheet, int(cell))] = kind
    return answers, notes


def read_looks(answer_files: list[Path], index_files: list[Path], allowed: tuple[str, ...] = ANSWERS
               ) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str], int]:
    """The answers to the sheets named in ``index_files``: ({(pool, file): answer}, {(pool, file):
    note}, how many answers a later index's look changed); a later index's answers (a second look)
    replace earlier ones, a face's note is its latest look's that wrote one. A sheet answered in two
    files or indexed twice, or an indexed sheet with no answer line, is a ValueError."""
    answers, notes, answered_in = {}, {}, {}
    for path in answer_files:
        said, remarks = parse_answers(path.read_text().splitlines(), str(path), allowed)
        for sheet in {sheet for sheet, _ in said}:
            if answered_in.setdefault(sheet, path) != path:  # two looks' sheets of one name
                raise ValueError(f"sheet {sheet} is answered in {answered_in[sheet]} and in {path}")
        answers.update(said)
        notes.update(remarks)
    labels: dict[tuple[str, str], str] = {}
    remarks_of: dict[tuple[str, str], str] = {}
    changed, indexed_in = 0, {}
    for index in index_files:
        with open(index, newline="") as handle:
            for row in csv.DictReader(handle):
                sheet, cell = row["sheet"], int(row["cell"])
                if indexed_in.setdefault(sheet, index) != index:
                    raise ValueError(f"sheet {sheet} is in {indexed_in[sheet]} and in {index}")
                if (sheet, 0) not in answers:
                    raise ValueError(f"{index}: sheet {sheet} has no answer line")
                answer = answers.get((sheet, cell), answers[(sheet, 0)])
                key = (row["pool"], row["file"])
                changed += key in labels and labels[key] != answer
                labels[key] = answer
                if (sheet, cell) in notes:
                    remarks_of[key] = notes[(sheet, cell)]
    return labels, remarks_of, changed


def collect(answer_files: list[Path], index_files: list[Path], out: Path = LABELS) -> dict:
    """Label CSVs (one per pool) from the answers to the sheets named in ``index_files``
    (``read_looks``). Returns {pool: {kind: count}} and the number of labels a later look changed."""
    labels, remarks_of, changed = read_looks(answer_files, index_files)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, dict[str, int]] = {}
    for pool in POOLS:
        rows = sorted((file, kind, remarks_of.get((p, file), "")) for (p, file), kind in labels.items() if p == pool)
        with open(out / f"{pool}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "kind", "note"])
            writer.writerows(rows)
        counts[pool] = {k: sum(kind == k for _, kind, _ in rows) for k in ANSWERS}
    return {"counts": counts, "changed_by_a_later_look": changed}


def existing(*paths: Path) -> None:
    """ConfigError naming the first of ``paths`` that is not a file: before any sheet is drawn."""
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"{path}: no such file")


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sheets = sub.add_parser("sheets", help="draw the first-look sheets of every face with glasses")
    sheets.add_argument("--data", type=Path, default=SHARED_DATA)
    sheets.add_argument("--out", type=Path, default=PROJECT_ROOT / "cache" / "kind_sheets")
    again = sub.add_parser("again", help="draw sheets of the photos a CSV (pool,file) names, for a second look")
    again.add_argument("rows", type=Path)
    again.add_argument("--data", type=Path, default=SHARED_DATA)
    again.add_argument("--out", type=Path, default=PROJECT_ROOT / "cache" / "kind_second")
    again.add_argument("--name", default="again",
                       help="the sheets' names: NAME_001, ... (each look its own, so that collect can tell them apart)")
    again.add_argument("--skip", type=Path, action="append", default=[], metavar="INDEX",
                       help="leave out the faces an earlier look's sheets (their index.csv) showed (repeatable)")
    disagree = sub.add_parser("disagree", help="list the labelled faces whose kind a trained run's model disagrees with")
    disagree.add_argument("run", type=Path, help="a run folder of a two-answer model (train.py --kind-weight)")
    disagree.add_argument("--data", type=Path, default=SHARED_DATA)
    disagree.add_argument("--out", type=Path, required=True, help="CSV: pool,file,kind,dark_probability")
    gather = sub.add_parser("collect", help="write the label CSVs from answer files")
    gather.add_argument("answers", type=Path, nargs="+")
    gather.add_argument("--index", type=Path, action="append", required=True,
                        help="index.csv of the sheets answered (repeat: first look, then second)")
    gather.add_argument("--out", type=Path, default=LABELS)
    args = parser.parse_args(argv)
    if args.command == "sheets":
        make_sheets(args.data, args.out)
    elif args.command == "disagree":
        check_run_folder(args.run)
        rows = disagreements(args.run, args.data)
        with open(args.out, "w", newline="") as handle:
            writer = csv.DictWriter(handle, ["pool", "file", "kind", "dark_probability"])
            writer.writeheader()
            writer.writerows(rows)
        print(f"{len(rows)} labels the model disagrees with: {args.out}", file=sys.stderr)
    elif args.command == "again":
        existing(args.rows, *args.skip)
        if not re.fullmatch(r"[a-z][a-z0-9_]*", args.name):
            raise ConfigError(f"--name {args.name!r}: lower-case letters, digits and _, starting with a letter")
        with open(args.rows, newline="") as handle:
            make_second_look(list(csv.DictReader(handle)), args.data, args.out, args.name, tuple(args.skip))
    else:
        existing(*args.answers, *args.index)
        try:
            print(collect(args.answers, args.index, args.out))
        except ValueError as err:  # an answer file or index the sheets did not make
            raise ConfigError(str(err)) from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
