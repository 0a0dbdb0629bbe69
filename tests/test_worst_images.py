"""benchmarks/worst_images.md, measured by benchmarks/worst_images.py (too slow for CI: 40 MP
images, a server each): every accepted format has its worst images answered, the decode
budget's cost of each covers the memory it took, the attack images of issue 30 are refused,
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
# The peak includes what every request costs besides the decode (detection, crop, buffers): 10 %
# over the cost is within what the cost means, and so is a constant of up to REQUEST_UNITS, which
# is most of what a small image takes: measured with the shipped model since preprocessing 13 (no
# widened canvas in the cost any more), the 10 MP palette BMP took 73 MB against its 50 MB of pixels
# and RGB copy, and the 1 x 16,384 PNG 3 MB against 0.1 (the server's decode slots bound how many
# requests hold it at once).
TOLERANCE = 1.1
REQUEST_UNITS = 5_000_000  # 25 MB in units of UNIT_BYTES


def rows() -> list[dict]:
    return json.loads(TABLE.with_suffix(".json").read_text())["rows"]


def test_every_accepted_format_has_its_worst_images_answered():
    answered = {row["format"] for row in rows() if row["status"] == 200}
    assert answered == set(ACCEPTED)


def test_the_budget_cost_covers_the_memory_each_image_took():
    for row in rows():
        if row["megapixels"] is None:
            continue
        weight = decode_weight(row["format"], row["mode"], row["transparent_colour"])
        width, height = row["size"]
        assert row["budget_cost"] == weight * width * height, row["image"]  # today's
        assert worst_images.taken_units(row) <= row["budget_cost"] * TOLERANCE + REQUEST_UNITS, \
            (row["image"], row["budget_cost"])


def test_the_attack_images_are_refused_from_their_header():
    refused = [row for row in rows() if row["format"] == "refused"]
    assert len(refused) >= 4 and all(row["status"] in (400, 413) and row["peak_over_before_mb"] <= 5
                                     for row in refused)


def test_the_docs_show_the_committed_table():
    table = [line for line in TABLE.read_text().splitlines() if line.startswith("|")]
    docs = documentation.text()
    assert all(line in docs for line in table)
