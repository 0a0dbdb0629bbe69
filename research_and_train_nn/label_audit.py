"""A look by eye at the first answer's labels: glasses over the eyes or not, photo by photo.

The datasets' own labels ("glasses" in MTFL's and CelebA's annotations) carry some noise: CelebA's
validation photos hold "no glasses" faces that plainly wear them, and the kind labels' first look
found "glasses" faces with none. Every model is chosen on validation, so this look measures how
much of its errors there are the labels'. It is blind: every photo of a part (``--part
validation``, the default, or ``train``: the two sides of every run's split; both labels, all three
pools) is drawn in one random order, so a labeller sees neither the dataset's label nor any model's
answer, and writes one line per sheet:

    sheet audit_012 rest=none glasses=3,17,22 unsure=40

(``glasses``: glasses over the eyes, of any kind; ``none``: no glasses over the eyes, glasses on
the forehead or in a hand included; ``unsure``: cannot be told). Another labeller judges afresh
every face whose first answer differs from the dataset's label (``again``: the faces listed by
``disagree``), and ``collect`` writes ``data/glasses_audit/PART.csv`` (pool, file, the dataset's
label, the look's answer, note). Runs train on the datasets' own labels unless
``TrainConfig.looked_labels`` says otherwise; ``studies/label_audit_study.py`` scores models both ways.

    python3 research_and_train_nn/label_audit.py sheets --out cache/audit_sheets
    python3 research_and_train_nn/label_audit.py disagree ANSWERS... --index cache/audit_sheets/index.csv --out second.csv
    python3 research_and_train_nn/label_audit.py again second.csv --out cache/audit_second
    python3 research_and_train_nn/label_audit.py collect ANSWERS... --index FIRST_INDEX --index SECOND_INDEX
    (the same with --part train for the training photos: sheets train_*, train_again_*)
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from glasses_core.errors import ConfigError, errors_exit_2
from research_and_train_nn.data.datasets import GLASSES_AUDIT, LOOKED_LABEL, load, mtfl_eyes
from research_and_train_nn.data.paths import PROJECT_ROOT, SHARED_DATA
from research_and_train_nn.kind_sheets import CELEBA_EYES, existing, face_tile, make_second_look, read_looks, write_sheets
from research_and_train_nn.studies.hard_cases import split_records

ANSWERS = ("glasses", "none", "unsure")
SEED = 0  # the sheets' order


PARTS = {"validation": "audit", "train": "train", "test": "test"}  # which photos -> their sheets' names


def faces(data: Path, part: str = "validation") -> list[tuple[str, str, str, tuple, int]]:
    """(pool, file, path, eyes, the dataset's label) of every photo of ``part`` (the validation or
    the training photos of every run's split, or the test photos: MTFL's AFLW pool), in the sheets'
    random order."""
    if part == "test":
        records, eyes_of = load(f"mtfl-test:{data / 'mtfl'}"), mtfl_eyes(data / "mtfl", "test")
    else:
        train, val = split_records(data)
        records, eyes_of = (val if part == "validation" else train), mtfl_eyes(data / "mtfl", "train")
    found = [(r.pool, r.file, r.path, eyes_of[r.path] if r.source.startswith("mtfl") else CELEBA_EYES, r.label)
             for r in records]
    order = np.random.default_rng(SEED).permutation(len(found))
    return [found[i] for i in order]


def make_sheets(data: Path, out: Path, part: str = "validation") -> None:
    entries = [(pool, file, path, eyes, face_tile(path, eyes)) for pool, file, path, eyes, _ in faces(data, part)]
    write_sheets(entries, out, lambda e: PARTS[part])


def looks(answer_files: list[Path], index_files: list[Path]) -> dict[tuple[str, str], tuple[str, str]]:
    """{(pool, file): (answer, note)}: the latest look's answer of each face (``kind_sheets.read_looks``)."""
    answers, notes, _ = read_looks(answer_files, index_files, ANSWERS)
    return {key: (answer, notes.get(key, "")) for key, answer in answers.items()}


def dataset_labels(data: Path, part: str = "validation") -> dict[tuple[str, str], int]:
    return {(pool, file): label for pool, file, _, _, label in faces(data, part)}


def disagreements(said: dict, labels: dict) -> list[dict]:
    """The faces whose answer is not the dataset's label (unsure included), in the sheets' order."""
    return [{"pool": pool, "file": file, "label": labels[(pool, file)], "answer": answer}
            for (pool, file), (answer, _) in said.items() if LOOKED_LABEL.get(answer) != labels[(pool, file)]]


def collect(said: dict, labels: dict, out: Path, part: str = "validation") -> dict:
    """``part``.csv under ``out``; returns the counts of (dataset label, answer)."""
    missing = set(labels) - set(said)
    if missing:
        raise ValueError(f"{len(missing)} {part} faces have no answer, e.g. {sorted(missing)[0]}")
    out.mkdir(parents=True, exist_ok=True)
    rows = sorted((pool, file, labels[(pool, file)], answer, note) for (pool, file), (answer, note) in said.items()
                  if (pool, file) in labels)
    with open(out / f"{part}.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["pool", "file", "label", "answer", "note"])
        writer.writerows(rows)
    counts: dict[str, int] = {}
    for pool, _, label, answer, _ in rows:
        key = f"{pool} label {label}: {answer}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def _part_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--part", choices=PARTS, default="validation",
                        help="the validation photos (default) or the training photos of every run's split, or the "
                             "test photos (MTFL's AFLW pool)")


def _answers_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("answers", type=Path, nargs="+", help="answer files (one line per sheet)")
    parser.add_argument("--index", type=Path, action="append", required=True,
                        help="index.csv of the sheets answered (repeat: first look, then second)")
    _part_arguments(parser)


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sheets = sub.add_parser("sheets", help="draw every photo of the part on sheets of 48, in a random order")
    _part_arguments(sheets)
    sheets.add_argument("--out", type=Path, default=PROJECT_ROOT / "cache" / "audit_sheets")
    disagree = sub.add_parser("disagree", help="list the faces whose answer is not the dataset's label")
    _answers_arguments(disagree)
    disagree.add_argument("--out", type=Path, required=True, help="CSV: pool,file,label,answer")
    again = sub.add_parser("again", help="draw sheets of the faces a CSV (pool,file) names, for a second look")
    again.add_argument("rows", type=Path)
    _part_arguments(again)
    again.add_argument("--out", type=Path, default=PROJECT_ROOT / "cache" / "audit_second")
    gather = sub.add_parser("collect", help="write data/glasses_audit/PART.csv from the answer files")
    _answers_arguments(gather)
    gather.add_argument("--out", type=Path, default=GLASSES_AUDIT)
    args = parser.parse_args(argv)
    if args.command == "sheets":
        make_sheets(args.data, args.out, args.part)
        return 0
    if args.command == "again":
        existing(args.rows)
        with open(args.rows, newline="") as handle:
            make_second_look(list(csv.DictReader(handle)), args.data, args.out, f"{PARTS[args.part]}_again")
        return 0
    existing(*args.answers, *args.index)
    try:
        said, labels = looks(args.answers, args.index), dataset_labels(args.data, args.part)
        if args.command == "disagree":
            rows = disagreements(said, labels)
            with open(args.out, "w", newline="") as handle:
                writer = csv.DictWriter(handle, ["pool", "file", "label", "answer"])
                writer.writeheader()
                writer.writerows(rows)
            print(f"{len(rows)} answers differ from the dataset's label: {args.out}", file=sys.stderr)
        else:
            print(collect(said, labels, args.out, args.part))
    except ValueError as err:  # an answer file or index the sheets did not make
        raise ConfigError(str(err)) from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
