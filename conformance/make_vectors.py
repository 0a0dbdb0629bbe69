"""Regenerate the conformance vectors from the core (and, with --compose, the composed photos).

    python3 conformance/make_vectors.py            # vectors.json and crops/ from the committed photos
    python3 conformance/make_vectors.py --compose  # first remake photos/ from ../shared/data

Run it whenever the preprocessing, PREPROCESS_VERSION or the shipped model changes (the
conformance test fails until then), and say in the commit what moved.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # run as a file: the repository's packages first
    sys.path.insert(0, str(ROOT))

from conformance.compose import compose_all  # noqa: E402
from conformance.vectors import VECTORS, make_vectors, write_vectors  # noqa: E402
from glasses_core.errors import GlassesError  # noqa: E402
from glasses_core.quiet import quiet  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compose", action="store_true", help="remake the composed photos from --data first")
    parser.add_argument("--data", type=Path, default=DATA, help=f"the datasets (default: {DATA})")
    args = parser.parse_args(argv)
    try:
        with quiet():
            if args.compose:
                compose_all(args.data, ROOT / "conformance" / "photos")
            vectors = make_vectors()
            write_vectors(vectors)
    except (GlassesError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    faces = sum(len(r["faces"]) for r in vectors["photos"].values())
    print(f"{VECTORS.relative_to(ROOT)}: {len(vectors['photos'])} photos, {faces} crops "
          f"(model {vectors['model_id']}, PREPROCESS_VERSION {vectors['preprocess_version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
