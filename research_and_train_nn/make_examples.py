"""Copy the bundled example photos into examples/: the first N photos of each class in MTFL's
testing.txt (AFLW, the test pool: never trained on), with labels.csv and a README.

    python3 research_and_train_nn/make_examples.py [--per-class 8]
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from research_and_train_nn.datasets import load_mtfl

ROOT = Path(__file__).resolve().parent.parent

README = """# Example photos

{count} photos from the AFLW part of MTFL (`../shared/data/mtfl/AFLW/`, listed in
`testing.txt`): the first {per_class} with glasses and the first {per_class} without, in file
order, copied by `python3 research_and_train_nn/make_examples.py`. They belong to the test pool
that no model here is trained on. `labels.csv` gives MTFL's label (1 = glasses worn).

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
    chosen = [r for label in (1, 0) for r in [r for r in records if r.label == label][: args.per_class]]
    args.out.mkdir(parents=True, exist_ok=True)
    lines = ["file,label"]
    for record in chosen:
        shutil.copyfile(record.path, args.out / Path(record.path).name)
        lines.append(f"{Path(record.path).name},{record.label}")
    (args.out / "labels.csv").write_text("\n".join(lines) + "\n")
    (args.out / "README.md").write_text(README.format(count=len(chosen), per_class=args.per_class))
    print(f"{len(chosen)} photos in {args.out}")


if __name__ == "__main__":
    main()
