"""The kind of glasses labelled by eye: the answer lines, the label CSVs they make, and the records
that carry them (research_and_train_nn/kind_sheets.py, data/datasets.py)."""
from __future__ import annotations

import csv
from collections import Counter

import pytest

from research_and_train_nn import kind_sheets
from research_and_train_nn.data.datasets import KIND_LABELS, kinds_now, load


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


def test_two_looks_sheets_of_one_name_are_refused(tmp_path):
    """Each look's sheets need their own names: answers to a first look's "again_001" must not
    silently label a later look's "again_001" (kind_sheets.py again --name)."""
    second, third = tmp_path / "second.csv", tmp_path / "third.csv"
    second.write_text("sheet,cell,pool,file\nagain_001,1,celeba,a.jpg\n")
    third.write_text("sheet,cell,pool,file\nagain_001,1,celeba,b.jpg\n")
    e, f = tmp_path / "E.txt", tmp_path / "F.txt"
    e.write_text("sheet again_001 rest=clear\n")
    f.write_text("sheet again_001 rest=dark\n")
    with pytest.raises(ValueError, match=r"sheet again_001 is answered in .*E.txt and in .*F.txt"):
        kind_sheets.collect([e, f], [second], tmp_path / "labels")
    with pytest.raises(ValueError, match=r"sheet again_001 is in .*second.csv and in .*third.csv"):
        kind_sheets.collect([e], [second, third], tmp_path / "labels")


def test_a_later_look_draws_its_own_sheets_and_skips_faces_already_looked_at(data_dir, tmp_path):
    """again --name third --skip INDEX: the faces an earlier look drew are left out, the sheets
    and their index carry the new name, and a collect of every look applies the latest answer."""
    with open(KIND_LABELS / "celeba.csv", newline="") as handle:
        files = [row["file"] for row in csv.DictReader(handle)][:3]
    rows = tmp_path / "rows.csv"
    rows.write_text("pool,file\n" + "".join(f"celeba,{file}\n" for file in files))
    earlier = tmp_path / "earlier.csv"
    earlier.write_text(f"sheet,cell,pool,file\nagain_001,1,celeba,{files[1]}\n")
    assert kind_sheets.main(["again", str(rows), "--data", str(data_dir), "--name", "third",
                             "--skip", str(earlier), "--out", str(tmp_path / "sheets")]) == 0
    with open(tmp_path / "sheets" / "index.csv", newline="") as handle:
        index = list(csv.DictReader(handle))
    assert [(row["sheet"], row["cell"], row["file"]) for row in index] == [("third_001", "1", files[0]),
                                                                          ("third_001", "2", files[2])]
    assert (tmp_path / "sheets" / "third_001.png").is_file()
    first = tmp_path / "first.csv"
    first.write_text("sheet,cell,pool,file\n" + "".join(f"celeba_001,{i},celeba,{f}\n" for i, f in enumerate(files, 1)))
    answers = tmp_path / "answers.txt"
    answers.write_text("sheet celeba_001 rest=clear\nsheet again_001 rest=dark\nsheet third_001 rest=clear unsure=2\n")
    result = kind_sheets.collect([answers], [first, earlier, tmp_path / "sheets" / "index.csv"], tmp_path / "labels")
    with open(tmp_path / "labels" / "celeba.csv", newline="") as handle:
        assert {row["file"]: row["kind"] for row in csv.DictReader(handle)} == dict(zip(files, ("clear", "dark", "unsure")))
    assert result["changed_by_a_later_look"] == 2
    assert kind_sheets.main(["again", str(rows), "--data", str(data_dir), "--name", "Third look",
                             "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


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


def test_scores_read_the_kinds_as_labelled_now_not_as_a_run_saved_them(data_dir, tmp_path):
    """compare_runs.py scores a run's saved validation crops with kinds_now: a label a later look
    changed (here celeba's 003258, clear until the third look made it unsure) counts as it is now."""
    records = [r for r in load(f"celeba:{data_dir / 'celeba'}") if r.file in
               ("img_align_celeba/003258.jpg", "img_align_celeba/000053.jpg")] + \
        [r for r in load(f"mtfl:{data_dir / 'mtfl'}") if r.label == 0][:1]
    paths, pools, labels = [r.path for r in records], [r.pool for r in records], [r.label for r in records]
    with open(KIND_LABELS / "celeba.csv", newline="") as handle:
        table = {row["file"]: row["kind"] for row in csv.DictReader(handle)}
    expected = [table.get(r.file, "") if r.label == 1 and table.get(r.file) in ("clear", "dark") else "" for r in records]
    assert kinds_now(paths, pools, labels) == expected and "" in expected  # 003258 is unsure now
    for pool in ("celeba",):  # a look after that: every celeba label dark
        with open(tmp_path / f"{pool}.csv", "w", newline="") as handle:
            handle.write("file,kind,note\n" + "".join(f"{f},dark,\n" for f in table))
    assert kinds_now(paths, pools, labels, tmp_path) == ["dark" if r.label == 1 else "" for r in records]
