"""Faces found and answers given on hard photos composed from real validation photos.

    python3 research_and_train_nn/studies/hard_cases.py --out research_and_train_nn/reports/hard_cases

Close-ups the frame cuts (forehead, chin, both), heads tilted by 30 and 60 degrees, lying on either
side, upside down, and mirror images (data/composed.py), made from validation photos of MTFL's
training pool and of CelebA (people no model is trained on; never the test pool), half of them with
glasses. Each is classified through the product (``GlassesClassifier.predict``: the photo's answer
is "glass" when any face wears glasses) with the model given (default: the shipped one). Per case:
how often the right face is found (its eyes within a quarter of an eye distance of the truth, in
order), how often any face is, recall on the photos with glasses and false alarms on the others;
and the same on the photos as they were (re-encoded as the cases are): the recall a case can reach
when nothing about it is hard. Recall and false alarms are counted by the datasets' labels and by the
labels as looked at again by eye (data/glasses_audit/validation.csv; label_audit.py).
Writes hard_cases.md and .json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from glasses_core import GlassesClassifier
from glasses_core.errors import errors_exit_2
from research_and_train_nn.data.composed import CASES, as_photographed, compose, photo_eyes, right_face
from research_and_train_nn.data.datasets import audited_labels, load, mtfl_eyes
from research_and_train_nn.data.paths import SHARED_DATA
from research_and_train_nn.data.splits import split_by_identity
from research_and_train_nn.studies.report_files import add_report_arguments, command_line, write_report

POOLS = ("mtfl", "celeba")  # photos with annotated or aligned eyes
SPLIT = {"val_fraction": 0.15, "seed": 1337}  # TrainConfig's defaults: the validation people of every run


def split_records(data: Path) -> tuple[list, list]:
    """The training and the validation photos of MTFL's training pool and CelebA (both folders):
    the second the people TrainConfig's split holds out of every run."""
    records = load(f"mtfl:{data / 'mtfl'}") + load(f"celeba:{data / 'celeba'}") + load(f"celeba:{data / 'celeba_more'}")
    train, val = split_by_identity(records, SPLIT["val_fraction"], SPLIT["seed"])
    return [records[i] for i in train], [records[i] for i in val]


def validation_records(data: Path) -> list:
    """The validation photos of ``split_records``."""
    return split_records(data)[1]


def validation_photos(data: Path, per_class: int) -> list:
    """The photos ``hard_case_photos`` chooses among the validation photos (``validation_records``)."""
    return hard_case_photos(validation_records(data), per_class)


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    """--data: where the validation photos are (``validation_records``)."""
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="folder holding mtfl/, celeba/, celeba_more/")


def add_photo_arguments(parser: argparse.ArgumentParser) -> None:
    """--data and --per-class: where the validation photos are and how many ``validation_photos`` takes."""
    add_data_argument(parser)
    parser.add_argument("--per-class", type=int, default=100, help="photos with glasses (and without) per pool")


def with_eyes(records: list) -> list:
    """(record, eyes) of each record (data/composed.py's photo_eyes: MTFL's annotation, CelebA's
    aligned positions; None when unknown)."""
    mtfl = [r.path for r in records if r.source == "mtfl_train"]
    eyes = mtfl_eyes(Path(mtfl[0]).parent.parent, "train") if mtfl else {}
    return [(r, photo_eyes(r, eyes)) for r in records]


def hard_case_photos(records: list, per_class: int = 100, seed: int = 0) -> list:
    """(record, eyes) of ``per_class`` photos with glasses and as many without from each of MTFL's
    training pool and CelebA, chosen at random (``seed``) among ``records``."""
    rng = np.random.default_rng(seed)
    chosen = []
    for pool in POOLS:
        for label in (1, 0):
            pool_val = [r for r in records if r.source.startswith(pool) and r.label == label]
            picked = rng.choice(len(pool_val), min(per_class, len(pool_val)), replace=False)
            chosen += [pool_val[i] for i in sorted(picked)]
    return with_eyes(chosen)


AS_PHOTOGRAPHED = "as photographed"  # the photo itself (re-encoded as the cases are): what the cases cannot beat


def measure(classifier: GlassesClassifier, photos) -> list[dict]:
    rows = []
    # the photo's label by the look at the validation labels (data/glasses_audit/): 1, 0, or -1 (could not tell)
    looked_labels = audited_labels([r.path for r, _ in photos], [r.pool for r, _ in photos])
    for (record, eyes), looked in zip(photos, looked_labels):
        for case in [as_photographed(record, eyes)] + compose(record, eyes):
            result = classifier.predict(case.jpeg)
            crops = classifier.crops(case.jpeg)
            rows.append({"case": case.case, "photo": record.key, "label": record.label, "kind": record.kind,
                         "looked": looked,
                         "right_face": right_face(crops, case.eyes) is not None, "any_face": result.face_found,
                         "glass": result.answer == classifier.config.labels[1], "probability": result.probability})
    return rows


def summary(rows: list[dict]) -> dict:
    def answers(subset, key, prefix=""):
        """Recall and false alarms by the labels under ``key`` (the dataset's, or the look's)."""
        positives = [r for r in subset if r.get(key) == 1]
        negatives = [r for r in subset if r.get(key) == 0]
        return {f"{prefix}recall": float(np.mean([r["glass"] for r in positives])) if positives else None,
                f"{prefix}false_alarms": int(sum(r["glass"] for r in negatives)),
                f"{prefix}without_glasses": len(negatives)}

    def stats(subset):
        return {"photos": len(subset), "right_face": float(np.mean([r["right_face"] for r in subset])),
                "any_face": float(np.mean([r["any_face"] for r in subset])),
                **answers(subset, "label"), **answers(subset, "looked", "looked_")}
    table = {case: stats([r for r in rows if r["case"] == case]) for case in (AS_PHOTOGRAPHED, *CASES)}
    rows = [r for r in rows if r["case"] != AS_PHOTOGRAPHED]
    table["all"] = stats(rows)
    dark = [r for r in rows if r["kind"] == "dark"]
    table["all, sunglasses only"] = stats(dark) if dark else None
    return table


def markdown(report: dict, command: str) -> str:
    lines = [f"# Faces found and answers on composed hard photos (`{report['model']}`)", "", f"`{command}`", "",
             f"{report['photos']} validation photos ({report['per_class']} with glasses and {report['per_class']} without "
             f"from each of MTFL's training pool and CelebA), each made into {len(CASES)} cases: "
             f"{report['composed']} composed photos, classified through the product. The first row is the photos "
             "themselves (re-encoded as the cases are): the recall the cases start from; 'all' is the cases only. "
             "Recall and false alarms by the datasets' labels, then by the labels as looked at again by eye "
             "(data/glasses_audit/validation.csv; the photos it could not tell left out).", "",
             "| case | photos | right face found | any face found | recall | false alarms | recall, looked | false alarms, looked |",
             "|---|---|---|---|---|---|---|---|"]
    rate = lambda value: "–" if value is None else f"{value:.3f}"  # noqa: E731
    for case, s in report["cases"].items():
        if s is None:
            continue
        looked = f"{rate(s.get('looked_recall'))} | {s.get('looked_false_alarms', '–')} of {s.get('looked_without_glasses', '–')}"
        lines.append(f"| {case} | {s['photos']} | {s['right_face']:.3f} | {s['any_face']:.3f} | {rate(s['recall'])} | "
                     f"{s['false_alarms']} of {s['without_glasses']} | {looked} |")
    return "\n".join(lines) + "\n"


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_report_arguments(parser, "hard_cases")
    add_photo_arguments(parser)
    args = parser.parse_args(argv)
    classifier = GlassesClassifier(args.model)
    photos = validation_photos(args.data, args.per_class)
    rows = measure(classifier, photos)
    report = {"model": classifier.model_id, "photos": len(photos), "per_class": args.per_class,
              "composed": sum(r["case"] != AS_PHOTOGRAPHED for r in rows), "cases": summary(rows)}
    write_report(args.out, "hard_cases", report, markdown(report, command_line("hard_cases.py", argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
