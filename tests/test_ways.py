"""studies/ways.py: a study of preprocessing ways from its command line, on a few validation photos —
two ways that are the same product give the same three measurements, and the report lands as NAME.json
and NAME.md — and the committed reports of the studies that run it (absent_face_study.py,
second_look_input_study.py, mirror_average_study.py) are what each makes of its JSON."""
import contextlib
import json
from pathlib import Path

import pytest

from research_and_train_nn.studies import absent_face_study, mirror_average_study, second_look_input_study, ways
from research_and_train_nn.studies.hard_cases import validation_records

REPORTS = Path(__file__).resolve().parent.parent / "research_and_train_nn" / "reports"


def test_a_study_of_two_identical_ways_measures_them_alike_and_writes_its_report(data_dir, tmp_path, monkeypatch):
    records = validation_records(data_dir)[::400]  # ten validation photos, both pools
    monkeypatch.setattr(ways, "validation_records", lambda data: records)
    same = {"one": contextlib.nullcontext, "another": contextlib.nullcontext}

    def markdown(report, command):
        return "\n".join([f"# two ways\n\n`{command}`\n", *ways.tables(report, list(same), "way")]) + "\n"
    assert ways.run_study("two_ways", "Two ways.\n", same, markdown,
                          ["--out", str(tmp_path), "--data", str(data_dir), "--per-class", "4"],
                          lambda classifier: {"threshold": classifier.threshold}) == 0
    report = json.loads((tmp_path / "two_ways.json").read_text())
    assert report["composed"]["one"] == report["composed"]["another"] and report["composed"]["one"]["all"]["photos"] > 100
    assert report["validation"]["one"] == report["validation"]["another"] and report["validation"]["changed"] == []
    assert report["validation"]["one"]["photos"] == len(records) and report["empty"]["frames"] >= 1
    assert report["empty"]["one"] == report["empty"]["another"] and "threshold" in report
    text = (tmp_path / "two_ways.md").read_text()
    assert text.startswith("# two ways\n\n`python3 research_and_train_nn/studies/two_ways.py --out ")
    assert "| one | " in text and "| another | " in text and "Answers that change (one / another): 0." in text


@pytest.mark.parametrize("study, name", [(absent_face_study, "absent_face_study"),
                                         (second_look_input_study, "second_look_input_study"),
                                         (mirror_average_study, "mirror_average_study")])
def test_the_committed_report_is_what_the_study_writes_from_its_json(study, name):
    committed = (REPORTS / f"{name}.md").read_text()
    command = committed.splitlines()[2].strip("`")
    assert study.markdown(json.loads((REPORTS / f"{name}.json").read_text()), command) == committed
