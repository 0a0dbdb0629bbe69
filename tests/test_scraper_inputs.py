"""Issue 30: the scraper's test-set guard reads files a user names (--test-set KIND:PATH, its
label file, its images): only regular files, and only so far; a FIFO there waited forever."""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from data_scraper.checks import hash_files
from data_scraper.scrape import files_of_test_sets
from glasses_core.errors import ConfigError


def within(seconds: float, call):
    """``call()``'s result, or its exception raised here; the test fails if it blocks."""
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(result=_run(call)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked (on a FIFO?)"
    result = outcome["result"]
    if isinstance(result, BaseException):
        raise result
    return result


def _run(call):
    try:
        return call()
    except BaseException as err:  # noqa: BLE001 -- handed back to the test
        return err


@pytest.fixture
def fifo_owner():
    """FIFOs made by a test, let go at the end (a reader the bug left blocked is released)."""
    made: list[Path] = []
    yield made
    for path in made:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass


def test_a_test_set_whose_label_file_is_a_fifo_is_refused_at_once(tmp_path, fifo_owner):
    fifo_owner.append(tmp_path / "testing.txt")
    os.mkfifo(tmp_path / "testing.txt")
    with pytest.raises(ConfigError, match=r"testing.txt: cannot read the label file \(not a regular file \(a FIFO\)\)"):
        within(20, lambda: files_of_test_sets([f"mtfl-test:{tmp_path}"], chosen=True))


def test_a_test_set_image_that_is_a_fifo_or_a_device_is_left_out_not_waited_for(tmp_path, data_dir, fifo_owner):
    real = Path(shutil.copy(data_dir / "mtfl" / "AFLW" / "0001-image20056.jpg", tmp_path / "real.jpg"))
    fifo_owner.append(tmp_path / "fifo.jpg")
    os.mkfifo(tmp_path / "fifo.jpg")
    hashes = within(20, lambda: hash_files([tmp_path / "fifo.jpg", Path("/dev/zero"), real], tmp_path / "cache.json",
                                           progress=False))
    assert list(hashes) == [real]
