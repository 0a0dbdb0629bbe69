"""The kind of glasses labelled by eye: the answer lines, the label CSVs they make, and the records
that carry them (research_and_train_nn/kind_sheets.py, data/datasets.py)."""
from __future__ import annotations

import csv
from collections import Counter

import pytest

from research_and_train_nn import kind_sheets
from research_and_train_nn.data.datasets import KIND_LABELS, load


def test_answer_lines_give_every_cell_a_kind_and_reject_what_they_cannot_read():
    kinds, notes = kind_sheets.parse_answers(
        ["# first look", "sheet s_001 rest=clear dark=3,17 unsure=40", "note s_001 40 no glasses seen",
         "sheet s_002 rest=dark"], "answers")
    assert kinds[("s_001", 0)] == "clear" and kinds[("s_001", 3)] == "dark" and kinds[("s_001", 40)] == "unsure"
    assert kinds[("s_002", 0)] == "dark" and notes == {("s_001", 40): "no glasses seen"}
    for bad in ("sheet s_001 rest=sunny", "sheet s_001 rest=clear shaded=4", "s_001 clear"):
        with pytest.raises(ValueError, match="answers:1"):
            kind_sheets.parse_answers([bad], "answers")


def test_a_second_look_replaces_the_first_and_is_counted(tmp_path):
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("sheet,cell,pool,file\nceleba_001,1,celeba,a.jpg\nceleba_001,2,celeba,b.jpg\n"
                     "mtfl_train_001,1,mtfl_train,c.jpg\n")
    second.write_text("sheet,cell,pool,file\nagain_001,1,celeba,b.jpg\nagain_001,2,mtfl_train,c.jpg\n")
    answers = tmp_path / "answers.txt"
    answers.write_text("sheet celeba_001 rest=dark\nsheet mtfl_train_001 rest=clear\n"
                       "sheet again_001 rest=clear unsure=2\nnote again_001 2 glasses on the forehead\n")
    result = kind_sheets.collect([answers], [first, second], tmp_path / "labels")
    assert result["changed_by_a_later_look"] == 2  # b.jpg dark -> clear, c.jpg clear -> unsure
    with open(tmp_path / "labels" / "celeba.csv", newline="") as handle:
        assert list(csv.reader(handle)) == [["file", "kind", "note"], ["a.jpg", "dark", ""], ["b.jpg", "clear", ""]]
    with open(tmp_path / "labels" / "mtfl_train.csv", newline="") as handle:
        assert list(csv.reader(handle))[1] == ["c.jpg", "unsure", "glasses on the forehead"]
    only_one = tmp_path / "only_one.txt"
    only_one.write_text("sheet celeba_001 rest=dark\n")
    with pytest.raises(ValueError, match="sheet mtfl_train_001 has no answer line"):
        kind_sheets.collect([only_one], [first], tmp_path / "labels")


def test_records_with_glasses_carry_their_labelled_kind(data_dir):
    """Every photo with glasses of the four labelled pools has the kind its CSV gives (unsure: no
    kind); photos without glasses have none; celeba_more is its own pool in CelebA's identities."""
    for spec, pool in (("mtfl", "mtfl_train"), ("mtfl-test", "mtfl_test"), ("celeba", "celeba"),
                       ("celeba", "celeba_more")):
        folder = "mtfl" if pool.startswith("mtfl") else pool
        records = load(f"{spec}:{data_dir / folder}")
        with open(KIND_LABELS / f"{pool}.csv", newline="") as handle:
            table = {row["file"]: row["kind"] for row in csv.DictReader(handle)}
        with_glasses = [r for r in records if r.label == 1]
        assert {r.pool for r in records} == {pool} and len(table) == len(with_glasses)
        assert all(r.kind == (table[r.file] if table[r.file] != "unsure" else None) for r in with_glasses)
        assert all(r.kind is None for r in records if r.label == 0)
        counts = Counter(r.kind for r in with_glasses)
        assert counts["clear"] > 0 and counts["dark"] > 0, pool
    more = load(f"celeba:{data_dir / 'celeba_more'}")
    assert {r.source for r in more} == {"celeba"}  # one identity split with celeba/
