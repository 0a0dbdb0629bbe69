"""The look by eye at the validation labels (research_and_train_nn/label_audit.py) and the study
that scores the models by it (studies/label_audit_study.py)."""
from __future__ import annotations

import csv
from collections import Counter

import numpy as np
import pytest

from research_and_train_nn import label_audit
from research_and_train_nn.data.datasets import audited_labels
from research_and_train_nn.studies import label_audit_study
from research_and_train_nn.studies.hard_cases import validation_records


@pytest.fixture(scope="module")
def faces(data_dir):
    return label_audit.faces(data_dir)


def test_the_sheets_show_every_validation_photo_once_with_its_label_hidden_by_the_order(data_dir, faces):
    records = validation_records(data_dir)
    assert Counter((pool, file) for pool, file, *_ in faces) == Counter((r.pool, r.file) for r in records)
    assert [f[:2] for f in label_audit.faces(data_dir)] == [f[:2] for f in faces]  # the same order again
    first_sheet = faces[:48]  # the pools and labels mixed on a sheet, not grouped as the datasets list them
    assert {f[0] for f in first_sheet} >= {"mtfl_train", "celeba"} and {f[4] for f in first_sheet} == {0, 1}


def test_the_test_part_is_every_aflw_photo_and_no_run_trains_on_its_answers(data_dir, tmp_path):
    from research_and_train_nn.data.datasets import load, with_looked_labels
    records = load(f"mtfl-test:{data_dir / 'mtfl'}")
    test = label_audit.faces(data_dir, "test")
    assert Counter((pool, file) for pool, file, *_ in test) == Counter((r.pool, r.file) for r in records)
    assert {f[0] for f in test} == {"mtfl_test"} and {f[4] for f in test[:48]} <= {0, 1}
    for part in ("train", "validation"):
        (tmp_path / f"{part}.csv").write_text("pool,file,label,answer,note\n")
    (tmp_path / "test.csv").write_text("pool,file,label,answer,note\n" + "".join(
        f"mtfl_test,{r.file},{r.label},{'none' if r.label else 'glasses'},\n" for r in records))
    assert with_looked_labels(records, tmp_path) == records  # the test photos' look is never a training label


def test_answers_become_labels_and_the_disagreements_are_listed(tmp_path, faces):
    chosen = faces[:4]
    labels = {(pool, file): label for pool, file, _, _, label in chosen}
    index = tmp_path / "index.csv"
    index.write_text("sheet,cell,pool,file\n" + "".join(f"audit_001,{i},{p},{f}\n" for i, (p, f, *_) in enumerate(chosen, 1)))
    flipped = {0: "glasses", 1: "none"}[chosen[0][4]]  # cell 1: the look says the other answer
    answers = tmp_path / "A.txt"
    answers.write_text(f"sheet audit_001 rest=none {flipped}=1 unsure=2\nnote audit_001 2 face in deep shadow\n"
                       + "".join(f"# cell {i}: {'glasses' if f[4] else 'none'}\n" for i, f in enumerate(chosen, 1)))
    said = label_audit.looks([answers], [index])
    assert said[chosen[0][:2]] == (flipped, "") and said[chosen[1][:2]] == ("unsure", "face in deep shadow")
    listed = label_audit.disagreements(said, labels)
    expected = [chosen[0][:2], chosen[1][:2]] + [f[:2] for f in chosen[2:] if f[4] == 1]  # rest=none vs glasses labels
    assert [(r["pool"], r["file"]) for r in listed] == expected
    counts = label_audit.collect(said, labels, tmp_path / "audit")
    assert sum(counts.values()) == 4
    with open(tmp_path / "audit" / "validation.csv", newline="") as handle:
        rows = {(r["pool"], r["file"]): r for r in csv.DictReader(handle)}
    assert rows[chosen[1][:2]]["answer"] == "unsure" and rows[chosen[0][:2]]["label"] == str(chosen[0][4])
    with pytest.raises(ValueError, match="1 validation faces have no answer"):
        label_audit.collect(said, {**labels, ("celeba", "img_align_celeba/none.jpg"): 0}, tmp_path / "audit")
    with pytest.raises(ValueError, match="1 train faces have no answer"):  # the part it collects, named
        label_audit.collect(said, {**labels, ("celeba", "img_align_celeba/none.jpg"): 0}, tmp_path / "audit", "train")
    with pytest.raises(ValueError, match="unknown answer 'clear'"):
        answers.write_text("sheet audit_001 rest=none clear=1\n")
        label_audit.looks([answers], [index])


def test_audited_labels_follow_the_look_and_mark_what_it_could_not_tell(tmp_path, faces):
    chosen = faces[:3]
    audit = tmp_path / "validation.csv"
    audit.write_text("pool,file,label,answer,note\n" + f"{chosen[0][0]},{chosen[0][1]},0,glasses,\n"
                     f"{chosen[1][0]},{chosen[1][1]},1,unsure,\n")
    paths, pools = [f[2] for f in chosen], [f[0] for f in chosen]
    assert audited_labels(paths, pools, audit) == [1, -1, -1]  # the third: not in the file


def test_the_models_errors_are_split_into_the_labels_and_the_models(faces):
    val = {"labels": np.array([1, 0, 0, 1, 0]), "pools": np.array(["celeba"] * 4 + ["mtfl_train"]),
           "paths": np.array([f[2] for f in faces[:5]])}
    audited = np.array([1, 1, -1, 0, 1])
    probabilities = np.array([0.9, 0.9, 0.9, 0.1, 0.2])
    explained = label_audit_study.errors_explained(val, audited, probabilities, 0.5)
    assert {k: v for k, v in explained["celeba"].items() if k not in ("label_wrong_photos", "glasses_labelled_none")} == \
        {"errors": 3, "label_wrong": 2, "unsure": 1, "model_wrong": 0}
    assert explained["celeba"]["glasses_labelled_none"] == {"photos": 1, "said_glasses": 1, "probabilities": [0.9]}
    assert explained["mtfl_train"]["glasses_labelled_none"] == {"photos": 1, "said_glasses": 0, "probabilities": [0.2]}
    assert explained["mtfl_train"]["errors"] == 0 and explained["celeba_more"]["errors"] == 0
    assert label_audit_study.scores(val, audited, probabilities, 0.5)["celeba_more"] is None  # no photos there
    scored = label_audit_study.scores(val, audited, probabilities, 0.5)
    assert scored["celeba"]["datasets"]["f1"] == pytest.approx(0.4)  # 1 right of 2 glasses, 2 false alarms
    assert scored["celeba"]["looked"]["f1"] == 1.0 and scored["celeba"]["looked"]["images"] == 3
    assert scored["mtfl_train"]["looked"]["confusion_matrix"] == [[0, 0], [1, 0]]  # the look says glasses: missed


def test_bad_arguments_exit_2_before_any_scoring(tmp_path, tiny_run):
    assert label_audit_study.main([str(tiny_run), "--audit", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o")]) == 2
    assert label_audit_study.main([str(tmp_path), "--out", str(tmp_path / "o")]) == 2  # not a run folder
    assert not (tmp_path / "o").exists()
    assert label_audit.main(["collect", str(tmp_path / "A.txt"), "--index", str(tmp_path / "index.csv")]) == 2


def test_training_on_the_looked_labels_changes_drops_and_keeps_as_the_look_says(tmp_path, data_dir, faces):
    from research_and_train_nn.data.datasets import load, with_looked_labels
    records = load(f"celeba:{data_dir / 'celeba'}")[:200]
    positive = next(r for r in records if r.label == 1 and r.kind)
    negatives = [r for r in records if r.label == 0][:2]
    for part, rows in (("train", [(positive, "none"), (negatives[0], "glasses")]), ("validation", [(negatives[1], "unsure")])):
        (tmp_path / f"{part}.csv").write_text("pool,file,label,answer,note\n" + "".join(
            f"{r.pool},{r.file},{r.label},{answer},\n" for r, answer in rows))
    looked = {r.file: r for r in with_looked_labels(records, tmp_path)}
    assert len(looked) == len(records) - 1 and negatives[1].file not in looked  # unsure: left out
    assert (looked[positive.file].label, looked[positive.file].kind, looked[positive.file].dataset_label) == (0, None, 1)
    assert (looked[negatives[0].file].label, looked[negatives[0].file].dataset_label) == (1, 0)
    unchanged = [r for r in records if r.file not in (positive.file, negatives[0].file, negatives[1].file)]
    assert all(looked[r.file] == r for r in unchanged)  # not looked at here: the dataset's label, no dataset_label
    (tmp_path / "validation.csv").unlink()
    from glasses_core.errors import ConfigError
    with pytest.raises(ConfigError, match="validation.csv: no such file"):
        with_looked_labels(records, tmp_path)


def test_a_run_keeps_the_datasets_labels_beside_those_it_trained_on(tiny_run):
    with np.load(tiny_run / "val_crops.npz") as val:
        assert (val["dataset_labels"] == val["labels"]).all()  # a run on the datasets' labels: the same


def test_a_run_on_the_looked_labels_trains_and_validates_on_them(data_dir):
    """TrainConfig.looked_labels: every photo of the split carries the look's answer (train.csv and
    validation.csv), the photos it could not tell are out, and the look's two parts are the run's split."""
    from research_and_train_nn.data.datasets import GLASSES_AUDIT
    from research_and_train_nn.training.config import TrainConfig
    from research_and_train_nn.training.run import split_records
    said = {}
    for part in ("train", "validation"):
        with open(GLASSES_AUDIT / f"{part}.csv", newline="") as handle:
            said[part] = {(r["pool"], r["file"]): (int(r["label"]), r["answer"]) for r in csv.DictReader(handle)}
    config = TrainConfig(datasets=tuple(f"{spec}:{data_dir / folder}" for spec, folder in
                                        (("mtfl", "mtfl"), ("celeba", "celeba"), ("celeba", "celeba_more"))),
                         looked_labels=True)
    records, train_idx, val_idx = split_records(config)
    for part, index in (("train", train_idx), ("validation", val_idx)):
        looked = {k: v for k, v in said[part].items() if v[1] != "unsure"}
        assert {(records[i].pool, records[i].file) for i in index} == set(looked), part
        for i in index:
            label, answer = looked[(records[i].pool, records[i].file)]
            assert records[i].label == {"glasses": 1, "none": 0}[answer]
            assert records[i].dataset_label == (label if records[i].label != label else None)
    changed = sum(r.dataset_label is not None for r in records)
    assert changed == sum(v[0] != {"glasses": 1, "none": 0}.get(v[1], v[0]) for p in said.values() for v in p.values()) > 0


def test_the_readme_tables_are_the_label_files_counts():
    from research_and_train_nn.data.datasets import GLASSES_AUDIT
    text = (GLASSES_AUDIT / "README.md").read_text()
    names = {"MTFL": "mtfl_train", "CelebA": "celeba", "CelebA-more": "celeba_more", "MTFL test": "mtfl_test"}
    validation, rest = text.split("## The training photos")
    train, test = rest.split("## The test photos")
    tables = [[line for line in block.splitlines() if line.startswith("| ") and line.split("|")[1].strip() in names]
              for block in (validation, train, test)]
    assert [len(rows) for rows in tables] == [3, 3, 1]
    for part, rows in zip(("validation", "train", "test"), tables):
        with open(GLASSES_AUDIT / f"{part}.csv", newline="") as handle:
            looked = list(csv.DictReader(handle))
        for row in rows:
            cells = [c.strip().replace(",", "") for c in row.strip("|").split("|")]
            mine = [r for r in looked if r["pool"] == names[cells[0]]]
            as_label = {"glasses": "1", "none": "0"}
            expected = [len(mine), sum(r["label"] == "1" for r in mine),
                        sum(as_label.get(r["answer"]) == r["label"] for r in mine),
                        sum(r["label"] == "1" and r["answer"] == "none" for r in mine),
                        sum(r["label"] == "0" and r["answer"] == "glasses" for r in mine),
                        sum(r["answer"] == "unsure" for r in mine)]
            assert [int(c) for c in cells[1:]] == expected, (part, row)


def test_the_readme_compares_the_look_with_the_kind_labels_notes():
    from research_and_train_nn.data.datasets import GLASSES_AUDIT, KIND_LABELS
    kinds = {}
    for pool in ("mtfl_train", "celeba", "celeba_more"):
        with open(KIND_LABELS / f"{pool}.csv", newline="") as handle:
            kinds.update({(pool, r["file"]): r for r in csv.DictReader(handle)})
    looked = []
    for part in ("train", "validation"):
        with open(GLASSES_AUDIT / f"{part}.csv", newline="") as handle:
            looked += [r for r in csv.DictReader(handle) if r["label"] == "1"]
    no_glasses = lambda r: kinds[(r["pool"], r["file"])]["note"].startswith(("no glasses", "glasses on forehead"))  # noqa: E731
    kind = lambda r: kinds[(r["pool"], r["file"])]["kind"]  # noqa: E731
    none = [r for r in looked if r["answer"] == "none"]
    noted = [r for r in looked if no_glasses(r)]
    text = " ".join((GLASSES_AUDIT / "README.md").read_text().split())
    assert (f"Of the {len(none)} \"glasses\" photos this look calls none, the kind looks had noted no glasses for "
            f"{sum(map(no_glasses, none))}, said unsure for {sum(kind(r) == 'unsure' and not no_glasses(r) for r in none)} "
            f"and clear for {sum(kind(r) == 'clear' for r in none)}; of their {len(noted)} such notes, this look agrees "
            f"with {sum(r['answer'] == 'none' for r in noted)}, says glasses for {sum(r['answer'] == 'glasses' for r in noted)} "
            f"and could not tell {sum(r['answer'] == 'unsure' for r in noted)}") in text


def test_the_hard_cases_count_recall_and_false_alarms_by_the_look_too():
    from research_and_train_nn.data.composed import CASES
    from research_and_train_nn.studies.hard_cases import AS_PHOTOGRAPHED, summary
    row = lambda case, label, looked, glass: {"case": case, "label": label, "looked": looked, "kind": None,  # noqa: E731
                                               "right_face": True, "any_face": True, "glass": glass}
    rows = [row(case, *photo) for case in (AS_PHOTOGRAPHED, *CASES)
            for photo in ((1, 1, True), (1, 0, False), (0, 1, True), (0, -1, True), (0, 0, False))]
    table = summary(rows)[AS_PHOTOGRAPHED]
    assert (table["recall"], table["false_alarms"], table["without_glasses"]) == (0.5, 2, 3)  # the datasets' labels
    # the look's: glasses in the first and third (both said), none in the second and fifth (neither said), the fourth out
    assert (table["looked_recall"], table["looked_false_alarms"], table["looked_without_glasses"]) == (1.0, 0, 2)
