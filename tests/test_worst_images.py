"""benchmarks/worst_images.md, measured by benchmarks/worst_images.py (too slow for CI: 40 MP
images, a server each): every accepted format has its worst images answered, the decode
budget's weights cover the memory each one took, the attack images of issue 30 are refused,
and docs/using.md shows the committed table as it is."""
from __future__ import annotations

import json
import sys

import documentation
from glasses_core.image_header import ACCEPTED, decode_weight
from serving import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import worst_images  # noqa: E402

TABLE = ROOT / "benchmarks" / "worst_images.md"
# The peak includes what every request costs besides the decode (detection, crop, buffers: a
# few MB), and the longest side's rows: 10 % over the weight is within what the weight means.
TOLERANCE = 1.1


def rows() -> list[dict]:
    return json.loads(TABLE.with_suffix(".json").read_text())["rows"]


def test_every_accepted_format_has_its_worst_images_answered():
    answered = {row["format"] for row in rows() if row["status"] == 200}
    assert answered == set(ACCEPTED)


def test_the_weights_cover_the_memory_each_image_took():
    for row in rows():
        if row["megapixels"] is None:
            continue
        weight = decode_weight(row["format"], row["mode"], row["transparent_colour"])
        assert weight == row["weight"], row["image"]  # the table is of today's weights
        assert worst_images.units(row) <= weight * TOLERANCE, (row["format"], row["image"], worst_images.units(row))


def test_the_attack_images_are_refused_from_their_header():
    refused = [row for row in rows() if row["format"] == "refused"]
    assert len(refused) >= 4 and all(row["status"] in (400, 413) and row["peak_over_before_mb"] <= 5
                                     for row in refused)


def test_the_docs_show_the_committed_table():
    table = [line for line in TABLE.read_text().splitlines() if line.startswith("|")]
    docs = documentation.text()
    assert all(line in docs for line in table)
