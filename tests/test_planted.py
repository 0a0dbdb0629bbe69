"""The planted bugs of tests/mutation/planted.py still apply to today's code (each edit's text
is in its file exactly once, and the test files that must kill it exist), so its committed
report keeps meaning something. Running them is slow: `python3 tests/mutation/planted.py`."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "mutation"))
import planted  # noqa: E402


@pytest.mark.parametrize("bug", planted.PLANTED, ids=[b.name for b in planted.PLANTED])
def test_every_planted_bug_still_applies(bug, tmp_path):
    target = tmp_path / bug.file
    target.parent.mkdir(parents=True)
    target.write_text((ROOT / bug.file).read_text())
    original = planted.plant(tmp_path, bug)
    assert target.read_text() != original and bug.new in target.read_text()
    assert bug.tests and all((ROOT / test).is_file() for test in bug.tests)


def test_the_report_names_every_planted_bug_and_none_survived():
    text = planted.REPORT.read_text()
    for bug in planted.PLANTED:
        assert f"| `{bug.name}` |" in text
    assert "SURVIVED" not in text
