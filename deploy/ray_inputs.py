"""The photos a Ray scoring run reads, and how one photo's bytes are fetched.

Local folders and files go through the folder runner's scan (deploy/photo_scan.py), so both
tools see the same photos; glob patterns are expanded first. Object-storage URIs (``s3://``,
``gs://``, ``file://``, ...) are listed and read through pyarrow's file systems, which are
part of Ray Data's own dependencies; in a URI, ``*``, ``?`` and ``[...]`` match as in fnmatch.
A file list holds one path or URI a line; it may be a pipe (``-``, ``<(find ...)``), never a
device, and holds at most MAX_LIST_BYTES. A photo is read only from a regular file (a FIFO
would block the task forever, /dev/zero would never end), or from a URI, up to MAX_FILE_BYTES.
"""
from __future__ import annotations

import fnmatch
import glob
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

from glasses_core.files import MAX_FILE_BYTES, FileRefused, kind, read_regular_file, too_large

from deploy.photo_scan import image_extensions, input_problem, scan

URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
GLOB = re.compile(r"[*?[]")
MAX_LIST_BYTES = 1024 * 1024 * 1024  # a file list: ten million paths of 100 characters


class InputError(Exception):
    """A path given on the command line cannot be used (exit status 2)."""


@dataclass
class Found:
    photos: list[str] = field(default_factory=list)  # local paths and URIs, in order, each once
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (entry, why it was not looked at)


def is_uri(text: str) -> bool:
    return bool(URI.match(text))


def find_photos(specs: list[str], file_lists: list[Path], recursive: bool) -> Found:
    """The photos named by ``specs`` (paths, globs, URIs) and by the lines of ``file_lists``.
    A spec that names nothing raises InputError; a missing file in a list becomes an error row."""
    found = Found()
    for spec in specs:
        if is_uri(spec):
            found.photos += list_uri(spec, recursive)
        else:
            _scan_local(_expand(spec), recursive, found)
    for file_list in file_lists:
        found.photos += read_list(file_list)
    found.photos = list(dict.fromkeys(found.photos))
    return found


def _expand(spec: str) -> list[Path]:
    if not GLOB.search(spec):
        problem = input_problem(Path(spec))
        if problem:
            raise InputError(f"{spec}: {problem}")
        return [Path(spec)]
    matches = sorted(glob.glob(spec, recursive=True))
    if not matches:
        raise InputError(f"{spec}: matches nothing")
    return [Path(match) for match in matches]


def _scan_local(paths: list[Path], recursive: bool, found: Found) -> None:
    result = scan(paths, recursive)
    found.photos += [str(photo.path) for photo in result.photos]
    found.skipped += [(str(path), why) for path, why in result.skipped]


def read_list(file_list: Path) -> list[str]:
    """The non-empty lines of a file list ('-': standard input), of at most MAX_LIST_BYTES."""
    try:
        if str(file_list) == "-":
            data = sys.stdin.buffer.read(MAX_LIST_BYTES + 1)
        else:
            with open(file_list, "rb") as stream:
                mode = os.fstat(stream.fileno()).st_mode
                if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
                    raise FileRefused(f"not a regular file or a pipe ({kind(mode)})")
                data = stream.read(MAX_LIST_BYTES + 1)
        if len(data) > MAX_LIST_BYTES:
            raise FileRefused(too_large(len(data), MAX_LIST_BYTES))
        text = data.decode()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{file_list}: cannot read the file list ({err})") from err
    return [line.strip() for line in text.splitlines() if line.strip()]


def list_uri(uri: str, recursive: bool) -> list[str]:
    """The image files under an object-storage URI (a file, a prefix, or a pattern)."""
    import pyarrow.fs as pafs
    scheme = uri.split("://", 1)[0]
    pattern = GLOB.search(uri)
    base = uri[:uri.rfind("/", 0, pattern.start()) + 1] if pattern else uri
    try:
        filesystem, root = pafs.FileSystem.from_uri(base)
        info = filesystem.get_file_info(root)
        if info.type == pafs.FileType.File:
            return [uri]
        if info.type != pafs.FileType.Directory:
            raise InputError(f"{uri}: no such file or folder")
        listing = filesystem.get_file_info(pafs.FileSelector(root, recursive=recursive or bool(pattern)))
    except OSError as err:
        raise InputError(f"{uri}: cannot list it ({err})") from err
    extensions = image_extensions()
    names = sorted(f"{scheme}://{entry.path}" for entry in listing if entry.type == pafs.FileType.File
                   and Path(entry.path).suffix.lower() in extensions)
    return [name for name in names if not pattern or fnmatch.fnmatchcase(name, uri)]


def read_bytes(path: str) -> bytes:
    """A photo's bytes, from a local path or a URI (``file://`` ones as local paths); raises
    OSError (FileRefused: not a regular file, or over MAX_FILE_BYTES) when it cannot be read."""
    if not is_uri(path):
        return read_regular_file(path)
    filesystem, inner = _filesystem(path)
    if filesystem.type_name == "local":
        return read_regular_file(inner)
    with filesystem.open_input_stream(inner) as stream:
        data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise FileRefused(too_large(len(data), MAX_FILE_BYTES))
    return data


_filesystems: dict[str, object] = {}  # one pyarrow file system per bucket, kept for the process


def _filesystem(uri: str):
    """(pyarrow file system, path inside it): ``bucket/key`` for object stores, ``/path`` for file://."""
    import pyarrow.fs as pafs
    scheme, rest = uri.split("://", 1)
    bucket = f"{scheme}://{rest.split('/', 1)[0]}"
    if bucket not in _filesystems:
        _filesystems[bucket] = pafs.FileSystem.from_uri(uri)[0]
    return _filesystems[bucket], rest
