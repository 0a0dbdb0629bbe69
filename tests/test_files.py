"""Issue 30: a path a user named is read only when it is a regular file, and only so far
(glasses_core/files.py): a FIFO made the Ray job hang forever, /dev/zero was read without end."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from glasses_core import ImageLoadError, open_photo
from glasses_core.files import FileRefused, read_regular_file


def finishes(call, timeout: float = 20.0):
    """``call()``'s result or exception, from a thread; fails the test if it is still running
    after ``timeout`` seconds (it is waiting on a FIFO: the test then unblocks it by writing)."""
    outcome: dict = {}

    def run():
        try:
            outcome["result"] = call()
        except BaseException as err:  # noqa: BLE001 -- handed back to the test
            outcome["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    return thread.is_alive(), outcome


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "fifo.jpg"
    os.mkfifo(path)
    yield path
    try:  # a reader still blocked on it (the bug) is let go
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


def test_a_fifo_is_refused_without_waiting_for_a_writer(fifo):
    stuck, outcome = finishes(lambda: read_regular_file(fifo))
    assert not stuck, "reading a FIFO waited for a writer"
    assert isinstance(outcome.get("error"), FileRefused) and str(outcome["error"]) == "not a regular file (a FIFO)"
    stuck, outcome = finishes(lambda: open_photo(fifo))
    assert not stuck and isinstance(outcome.get("error"), ImageLoadError)
    assert str(outcome["error"]) == f"{fifo}: not a regular file (a FIFO)"


def test_devices_and_folders_are_refused(tmp_path):
    for path, kind in (("/dev/zero", "a character device"), ("/dev/null", "a character device"),
                       (tmp_path, "a folder")):
        with pytest.raises(FileRefused, match=rf"^not a regular file \({kind}\)$"):
            read_regular_file(path)
        with pytest.raises(ImageLoadError, match=rf"not a regular file \({kind}\)$"):
            open_photo(path)


def test_a_file_is_read_up_to_the_limit_and_no_further(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 1000)
    assert read_regular_file(path, max_bytes=1000) == b"x" * 1000
    with pytest.raises(FileRefused, match=r"^over the 999 bytes limit \(1,000 bytes or more\)$"):
        read_regular_file(path, max_bytes=999)
    (tmp_path / "empty").write_bytes(b"")
    assert read_regular_file(tmp_path / "empty") == b""


def test_a_file_that_grows_while_it_is_read_is_still_bounded():
    """The size checked first is what fstat said; reading goes on past it only up to the limit
    (files in /proc say 0 bytes and hold more)."""
    assert 0 < len(read_regular_file("/proc/self/status", max_bytes=1 << 20)) < 1 << 20
    with pytest.raises(FileRefused, match="over the"):
        read_regular_file("/proc/self/status", max_bytes=10)


def test_a_link_to_a_file_is_read_and_a_missing_file_says_so(tmp_path):
    (tmp_path / "real").write_bytes(b"abc")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert read_regular_file(tmp_path / "link") == b"abc"
    with pytest.raises(FileNotFoundError):
        read_regular_file(tmp_path / "missing")
