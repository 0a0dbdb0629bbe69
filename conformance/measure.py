"""How far ports that differ from the core in one way each land from the vectors, per measure:
the figures the suite's tolerances are chosen from.

    python3 conformance/measure.py     # writes conformance/measurements.md and .json
    python3 conformance/measure.py --out /tmp/measurements   # /tmp/measurements.md and .json

The ports (ports.py): the core itself; JPEGs decoded at full size and shrunk by a box filter
(Pillow, then OpenCV's decoder) instead of from their DCT coefficients; every resampling bicubic
instead of bilinear; and three broken ones: the eyes swapped, the crop not levelled, the model
fed x / 255.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # run as a file: the repository's packages first
    sys.path.insert(0, str(ROOT))

from conformance.check import TOLERANCES, check, pipeline_deviations, stage_deviations  # noqa: E402
from conformance.ports import BROKEN, CONFORMANT, run_port  # noqa: E402
from conformance.vectors import load_vectors  # noqa: E402
from glasses_core import GlassesClassifier  # noqa: E402
from glasses_core.quiet import quiet  # noqa: E402

OUT = ROOT / "conformance" / "measurements"


def measure(vectors: dict, ports=("core", *CONFORMANT, *BROKEN)) -> dict:
    """Per port: the worst value of every measure over the suite, and the photos that fail."""
    classifier, minimum = GlassesClassifier(), vectors["crop"]["min_face_score"]
    found = {}
    for name in ports:
        stages, records = run_port(name, vectors, classifier)
        worst: dict[str, float] = {}
        for photo, expected in vectors["photos"].items():
            for measured in (stage_deviations(expected, stages[photo], minimum),
                             pipeline_deviations(expected, records[photo])):
                for key, value in measured.items():
                    if key != "mismatches":
                        worst[key] = max(worst.get(key, 0.0), value)
        failing = {photo: why for photo, why in check(vectors, stages, records).items() if why}
        found[name] = {"worst": worst, "failing": failing}
    return found


def markdown(found: dict) -> str:
    measures = list(asdict(TOLERANCES))
    lines = ["# What ports that differ from the core measure against the vectors", "",
             "Made by `python3 conformance/measure.py` (the ports are in `conformance/ports.py`). "
             "Each cell is the worst value over the suite's photos; the last row is the tolerance "
             "(`conformance/check.py`).", "",
             "| port | " + " | ".join(measures) + " | photos failing |",
             "|---|" + "---:|" * (len(measures) + 1)]
    for name, result in found.items():
        cells = [f"{result['worst'][m]:.4g}" for m in measures]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {len(result['failing'])} |")
    lines.append("| **tolerance** | " + " | ".join(f"{getattr(TOLERANCES, m):g}" for m in measures) + " | 0 |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--out", type=Path, default=OUT,
                        help="where the tables go: OUT.md and OUT.json (default: conformance/measurements)")
    out = parser.parse_args(argv).out
    with quiet():
        found = measure(load_vectors())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(found, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(found))
    print(markdown(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
