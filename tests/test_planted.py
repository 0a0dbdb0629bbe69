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


def test_the_mutation_report_meets_its_target_and_explains_every_survivor():
    """tests/mutation/mutmut_report.md (written by run_mutmut.py, too slow for CI): at least 85 %
    of glasses_core/'s mutants killed, and every mutant not killed given a reason."""
    import re
    import run_mutmut
    text = run_mutmut.REPORT.read_text()
    found = re.search(r"\*\*glasses_core/: (\d+) of (\d+) mutants killed .*?; (\d+) unexplained\.\*\*", text)
    assert found, "the report has no glasses_core/ summary line"
    killed, total, unexplained = map(int, found.groups())
    assert total > 1000 and killed / total >= run_mutmut.TARGET
    assert unexplained == 0 and "**UNEXPLAINED**" not in text
    assert "(stale)" not in text
    assert "Tests: " + ", ".join(f"`{t}`" for t in run_mutmut.SUBSET) in text  # made with today's subset
    import documentation
    readme = documentation.text()
    assert f"{100 * killed / total:.1f} % of `glasses_core/`'s {total:,} mutants killed" in readme  # as reported


def test_every_reason_names_a_mutant_and_says_why():
    import run_mutmut
    for path in sorted(run_mutmut.EXPLAINED.glob("*.txt")):
        for line in path.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, _, reason = line.partition(": ")
                assert name.startswith(path.stem + ".x") and "__mutmut_" in name, line
                assert len(reason.split()) >= 5, line
