"""Copy or move a photo into the destination folder, safely.

Nothing is ever written through a symbolic link inside the destination (a linked subfolder
is refused, a link where the file would go counts as taken), and nothing is overwritten: when
``name.jpg`` is taken the photo becomes ``name-1.jpg``, ``name-2.jpg``, ... Every step works
on open folder descriptors and exclusive creation (O_EXCL, hard links), so a link or file that
appears meanwhile is never followed or replaced either. The destination folder itself may be
a link: the user chose it. A move never follows a link out of the folder it was given
(``tree``): a photo reached through one stays where it is, since moving it would remove a file
outside that folder.
"""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

MAX_TRIES = 10_000  # name-1 ... name-9999, then give up on this photo
NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
SUBFOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


class GatherError(Exception):
    """A photo could not be placed in the destination; it stays where it was."""


def _all_taken(name: str) -> GatherError:
    return GatherError(f"{name} and the {MAX_TRIES - 1} numbered names beside it are all taken")


def gather(photo: Path, relative: Path, destination: Path, move: bool, tree: Path | None = None) -> Path:
    """Copy (or move) ``photo`` to ``destination / relative`` or the first free name beside
    it; returns where it went. Raises OSError, or GatherError for a link, a full set of names,
    or a move of a photo that is not inside ``tree`` (the folder given) once links are resolved."""
    if move and tree is not None and not _inside(photo, tree):
        raise GatherError(f"reached through a symbolic link out of {tree}; not moved")
    folder = _open_folder(destination, relative.parent.parts)
    try:
        name = (_move if move else _copy)(photo, relative.name, folder)
    finally:
        os.close(folder)
    return destination / relative.parent / name


def _inside(photo: Path, tree: Path) -> bool:
    """Whether ``photo``, its folders' links and its own resolved, lies inside ``tree``."""
    return Path(os.path.realpath(photo)).is_relative_to(os.path.realpath(tree))


def free_names(name: str):
    """``name``, then ``stem-1.ext``, ``stem-2.ext``, ..."""
    yield name
    stem, dot, extension = name.rpartition(".")
    if not stem:  # no extension, or a name such as ".jpg"
        stem, dot, extension = name, "", ""
    for number in range(1, MAX_TRIES):
        yield f"{stem}-{number}{dot}{extension}"


def _open_folder(destination: Path, parts: tuple[str, ...]) -> int:
    """A descriptor of ``destination / parts``, made where missing, never through a link."""
    folder = os.open(destination, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for depth, part in enumerate(parts, 1):
            try:
                os.mkdir(part, dir_fd=folder)
            except FileExistsError:
                pass
            try:
                inner = os.open(part, SUBFOLDER, dir_fd=folder)
            except OSError:
                where = destination.joinpath(*parts[:depth])
                raise GatherError(f"{where} is a symbolic link or not a folder; not followed") from None
            os.close(folder)
            folder = inner
    except BaseException:
        os.close(folder)
        raise
    return folder


def _copy(photo: Path, name: str, folder: int) -> str:
    with open(photo, "rb") as source:
        target, chosen = _create_free(name, folder)
        try:
            with open(target, "wb") as out:
                shutil.copyfileobj(source, out)
                out.flush()  # before the times: closing would write the buffered tail and date the copy today
                info = os.fstat(source.fileno())
                os.utime(out.fileno(), ns=(info.st_atime_ns, info.st_mtime_ns))
                os.chmod(out.fileno(), stat.S_IMODE(info.st_mode))
        except BaseException:
            os.unlink(chosen, dir_fd=folder)  # no half-written copy left behind
            raise
    return chosen


def _create_free(name: str, folder: int) -> tuple[int, str]:
    for candidate in free_names(name):
        try:
            return os.open(candidate, NEW_FILE, 0o644, dir_fd=folder), candidate
        except FileExistsError:
            continue
    raise _all_taken(name)


def _move(photo: Path, name: str, folder: int) -> str:
    """A hard link, then the original removed: unlike a rename, a link never replaces a file.
    Where hard links cannot be made (another file system), a copy instead."""
    for candidate in free_names(name):
        try:
            os.link(photo, candidate, dst_dir_fd=folder)
        except FileExistsError:
            continue
        except OSError:
            candidate = _copy(photo, name, folder)
        os.unlink(photo)
        return candidate
    raise _all_taken(name)


def place(data: bytes, relative: Path, destination: Path) -> Path:
    """Write ``data`` as ``destination / relative``, or the first free name beside it, as a copy
    is written (never through a link, never over a file); returns where it went."""
    folder = _open_folder(destination, relative.parent.parts)
    try:
        target, chosen = _create_free(relative.name, folder)
        try:
            with open(target, "wb") as out:
                out.write(data)
        except BaseException:
            os.unlink(chosen, dir_fd=folder)  # no half-written file left behind
            raise
    finally:
        os.close(folder)
    return destination / relative.parent / chosen
