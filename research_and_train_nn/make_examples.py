"""Copy the bundled example photos into examples/: the first N photos of each class in MTFL's
testing.txt (AFLW, the test pool: never trained on) that the shipped model answers correctly,
with labels.csv and a README that names the photos skipped on the way.

    python3 research_and_train_nn/make_examples.py [--per-class 8]

The examples show the tools working, not the model's accuracy: that is in
models/evaluation_report.md, measured on all 2,995 test photos.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from glasses_core import GlassesClassifier
from research_and_train_nn.data.datasets import load_mtfl

ROOT = Path(__file__).resolve().parent.parent

README = """# Example photos

{count} photos from the AFLW part of MTFL (`../shared/data/mtfl/AFLW/`, listed in
`testing.txt`): the first {per_class} with glasses and the first {per_class} without, in file
order, that the shipped model (version {version}) answers correctly, copied by
`python3 research_and_train_nn/make_examples.py`. They belong to the test pool that no model
here is trained on. `labels.csv` gives MTFL's label (1 = glasses worn).

Skipped on the way because the shipped model gets them wrong (they are among the errors in
`models/evaluation_report.md` and `static/errors.png`): {skipped}.

Source: MTFL (Zhang et al., *Facial Landmark Detection by Deep Multi-task Learning*, ECCV 2014),
whose AFLW images come from *Annotated Facial Landmarks in the Wild* (Koestinger et al., 2011).
Research use only.
"""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mtfl", type=Path, default=ROOT.parent / "shared" / "data" / "mtfl")
    parser.add_argument("--out", type=Path, default=ROOT / "examples")
    parser.add_argument("--per-class", type=int, default=8)
    args = parser.parse_args(argv)
    records = load_mtfl(args.mtfl, "test")
    classifier = GlassesClassifier()
    chosen, skipped = [], []
    for label in (1, 0):
        kept = 0
        for record in (r for r in records if r.label == label):
            if kept == args.per_class:
                break
            result = classifier.predict(record.path).guessed()  # a photo without a face: its fallback guess
            if (result.answer == "glass") == bool(label):
                chosen.append(record)
                kept += 1
            else:
                skipped.append(f"`{Path(record.path).name}` (label {label}, p = {result.probability:.2f})")
    args.out.mkdir(parents=True, exist_ok=True)
    lines = ["file,label"]
    for record in chosen:
        shutil.copyfile(record.path, args.out / Path(record.path).name)
        lines.append(f"{Path(record.path).name},{record.label}")
    (args.out / "labels.csv").write_text("\n".join(lines) + "\n")
    (args.out / "README.md").write_text(README.format(count=len(chosen), per_class=args.per_class,
                                                      version=classifier.version,
                                                      skipped=", ".join(skipped) or "none"))
    print(f"{len(chosen)} photos in {args.out}")


if __name__ == "__main__":
    main()
