"""Find the photos among the files and folders given to the folder runner.

A file named on the command line is always tried. In a folder, a file is a photo when its
extension is one of a photo format the core accepts (glasses_core/image_header.py), or when its
first bytes are the signature of one; other files, and hidden files and folders, are left out
quietly. Entries that cannot be looked at are reported
(``Scan.skipped``): dangling symbolic links, symbolic link loops, FIFOs, sockets and devices
(never opened, so a FIFO cannot block the run), folders that cannot be listed, and, without
``--recursive``, a folder named like a photo. Symbolic links to folders are followed, each
folder is scanned once; each photo keeps the folder given that it was found under (``root``),
so that a move can refuse the photos that a link led out of it.
"""
from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from glasses_core.files import read_head
from glasses_core.image_header import accepted_extensions, sniff

SPECIAL_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                 (stat.S_ISBLK, "a block device"))


@dataclass(frozen=True)
class Photo:
    path: Path
    relative: Path  # its place below --copy-to/--move-to: its path below the folder given, or its name
    root: Path | None = None  # the folder given that it was found in (None: the file was given itself)


@dataclass
class Scan:
    photos: list[Photo] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (entry, why it was not looked at)


def image_extensions() -> frozenset[str]:
    """File extensions of the photo formats the core reads ('.jpg', '.heic', ...)."""
    return accepted_extensions()


def readable_header(path: Path) -> bool:
    """Whether a file without a photo extension starts like a photo (its first 16 bytes, read
    only from a regular file). A file we may not open counts as a photo, so that its row says
    why it was not read."""
    try:
        return sniff(read_head(path, 16)) is not None
    except PermissionError:
        return True
    except OSError:  # FileRefused included: a FIFO or device that appeared since the scan looked
        return False


def input_problem(path: Path) -> str | None:
    """Why a path given on the command line cannot be used, or None."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        return entry_problem(path, err)
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return f"not a file or folder ({special_kind(mode)})"


def entry_problem(path: Path, err: OSError) -> str:
    if err.errno == errno.ELOOP:
        return "symbolic link loop"
    if err.errno == errno.ENOENT:
        return "dangling symbolic link" if path.is_symlink() else "no such file or folder"
    return f"cannot read it ({err.strerror})"


def special_kind(mode: int) -> str:
    return next((name for test, name in SPECIAL_KINDS if test(mode)), "not a regular file")


def scan(inputs: list[Path], recursive: bool, exclude: Path | None = None) -> Scan:
    """The photos of ``inputs`` (checked with input_problem), in order, each folder's sorted;
    ``exclude`` (the destination folder, when it exists) is not looked into."""
    walker = _Walker(recursive, exclude)
    for path in inputs:
        if path.is_dir():
            walker.folder(path, path, frozenset())
        else:
            walker.found.photos.append(Photo(path, Path(path.name)))
    return walker.found


class _Walker:
    def __init__(self, recursive: bool, exclude: Path | None):
        self.recursive = recursive
        self.excluded = _identity(exclude) if exclude is not None and exclude.is_dir() else None
        self.extensions = image_extensions()
        self.visited: dict[tuple[int, int], Path] = {}
        self.found = Scan()

    def folder(self, folder: Path, root: Path, ancestors: frozenset) -> None:
        identity = _identity(folder)
        if identity == self.excluded:
            return
        if identity in ancestors:
            return self.skip(folder, "symbolic link loop (leads back to a folder that contains it)")
        if identity in self.visited:
            return self.skip(folder, f"the same folder as {self.visited[identity]}, scanned once")
        self.visited[identity] = folder
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as err:
            return self.skip(folder, f"cannot list this folder ({err.strerror})")
        for entry in entries:
            if not entry.name.startswith("."):
                self.entry(Path(entry.path), root, ancestors | {identity})

    def entry(self, path: Path, root: Path, ancestors: frozenset) -> None:
        try:
            mode = path.stat().st_mode
        except OSError as err:
            return self.skip(path, entry_problem(path, err))
        if stat.S_ISDIR(mode):
            if self.recursive:
                self.folder(path, root, ancestors)
            elif path.suffix.lower() in self.extensions:
                self.skip(path, "a folder, not a photo (use --recursive to look inside)")
        elif not stat.S_ISREG(mode):
            self.skip(path, f"not a regular file ({special_kind(mode)})")
        elif path.suffix.lower() in self.extensions or readable_header(path):
            self.found.photos.append(Photo(path, path.relative_to(root), root))

    def skip(self, path: Path, why: str) -> None:
        self.found.skipped.append((path, why))


def _identity(folder: Path) -> tuple[int, int]:
    info = folder.stat()
    return info.st_dev, info.st_ino
