"""Read a file that a user named: a regular file only, and at most so many bytes.

Opening a FIFO for reading waits for a writer, forever if none comes, and reading /dev/zero
never ends; a path named in a folder, a file list or a URI may be either. So the path is
opened without waiting (O_NONBLOCK), looked at through the open descriptor (fstat, so it is
the same file that is then read), and read only when it is a regular file, up to a limit.
"""
from __future__ import annotations

import contextlib
import os
import stat

MAX_FILE_BYTES = 256 * 1024 * 1024  # the largest file read whole (a 40 MP 16-bit RGB TIFF is 240 MB)
MB = 1024 * 1024
READ_CHUNK = MB  # what is read at a time past the size the file said it had
KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
         (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


class FileRefused(OSError):
    """Not a regular file, or one over the size limit: it was not read (the message says why)."""


def kind(mode: int) -> str:
    """What a file of this st_mode is, in words ("a FIFO", ...), for one that is not regular."""
    return next((name for test, name in KINDS if test(mode)), "not a regular file")


def read_regular_file(path: str | os.PathLike, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; FileRefused for anything else,
    OSError when it cannot be opened or read."""
    with _regular(path) as (stream, size):
        if size > max_bytes:
            raise FileRefused(too_large(size, max_bytes))
        chunks, size, want = [], 0, size + 1  # one byte more than it said it held: a file that grew is read on
        while size <= max_bytes:
            chunk = stream.read(min(max(want, READ_CHUNK), max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size, want = size + len(chunk), READ_CHUNK
    if size > max_bytes:
        raise FileRefused(too_large(size, max_bytes))
    return b"".join(chunks)


def read_head(path: str | os.PathLike, length: int) -> bytes:
    """The first ``length`` bytes of a regular file (fewer when it is shorter); FileRefused for
    anything that is not a regular file."""
    with _regular(path) as (stream, _):
        return stream.read(length) or b""


@contextlib.contextmanager
def _regular(path: str | os.PathLike):
    """(unbuffered stream, size) of a regular file, opened without waiting, closed after."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"not a regular file ({kind(info.st_mode)})")
    except BaseException:
        os.close(fd)
        raise
    with open(fd, "rb", buffering=0) as stream:  # closes fd
        yield stream, info.st_size


def too_large(size: int, max_bytes: int) -> str:
    return f"over the {_amount(max_bytes)} limit ({_amount(size)} or more)"


def _amount(size: int) -> str:
    return f"{size / MB:.4g} MB" if size >= MB else f"{size:,} bytes"
