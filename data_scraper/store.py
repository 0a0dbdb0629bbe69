"""The output folder: ``with_glasses/`` + ``without_glasses/`` (what the training loaders read),
``manifest.csv`` (one row per kept file) and ``rejects.csv`` (one row per rejected URL).

Files are named after their content (``<sha256 prefix>.<format>``), never after the URL, and
are written with an exclusive link, so nothing is ever overwritten. Both CSVs are appended
to, so a run that stops half-way resumes where it was.
"""
from __future__ import annotations

import csv
import os
import threading
from datetime import datetime, timezone
from pathlib import Path

from glasses_core.errors import ConfigError
from research_and_train_nn.data.datasets import IMAGE_SUFFIXES

from data_scraper.checks import Candidate, HashIndex, Reject
from data_scraper.presets import LABEL_FOLDERS, Job

MANIFEST_FIELDS = ["file", "label", "query", "engine", "source_url", "sha256", "bytes", "width", "height",
                   "phash", "faces", "time"]
REJECT_FIELDS = ["source_url", "reason", "detail", "query", "engine", "time"]
TRANSIENT_REASONS = {"timeout", "network", "unavailable", "error"}  # tried again on the next run
NAME_LENGTH = 20  # hex digits of the sha256 in a file name


class ScrapeFolder:
    """A scraper output folder, opened for appending; thread-safe."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        for folder in LABEL_FOLDERS.values():
            label_folder = self.root / folder
            if label_folder.is_symlink():  # its files would be written, and its .part files removed, elsewhere
                raise ConfigError(f"{label_folder} is a symbolic link: the scraper writes and removes files "
                                  f"only inside {self.root}; make it a folder")
            label_folder.mkdir(parents=True, exist_ok=True)
            for partial in label_folder.glob(".*.part"):  # left by a killed run
                partial.unlink()  # a link itself, never what it points to
        self.manifest = self.root / "manifest.csv"
        self.rejects = self.root / "rejects.csv"
        for path, fields in ((self.manifest, MANIFEST_FIELDS), (self.rejects, REJECT_FIELDS)):
            _append(path, fields, None)  # both exist from the start, even when nothing is found
        self.rows = _read_csv(self.manifest, MANIFEST_FIELDS)
        self._done = {row["source_url"] for row in self.rows}
        self._done |= {row["source_url"] for row in _read_csv(self.rejects, REJECT_FIELDS)
                       if row["reason"] not in TRANSIENT_REASONS}
        self._claimed: set[str] = set()
        self._lock = threading.Lock()

    def accepted(self, job: Job, engine: str) -> int:
        """How many files earlier runs kept for this query."""
        return sum(row["query"] == job.query and row["engine"] == engine for row in self.rows)

    def unlisted_files(self) -> list[Path]:
        """Images in the label folders that the manifest does not list (added by hand, or
        saved just before a run was killed): they are hashed so that they are not fetched again."""
        listed = {row["file"] for row in self.rows}
        return [path for folder in LABEL_FOLDERS.values() for path in sorted((self.root / folder).rglob("*"))
                if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
                and path.relative_to(self.root).as_posix() not in listed]

    def claim(self, url: str) -> bool:
        """True the first time a URL is met that no earlier run finished with."""
        with self._lock:
            if url in self._done or url in self._claimed:
                return False
            self._claimed.add(url)
            return True

    def save(self, candidate: Candidate, job: Job, engine: str, url: str, index: HashIndex) -> str:
        """Write the file under a generated name, add it to ``index`` and to the manifest;
        returns the name. Raises Reject("duplicate") if ``index`` already has the picture
        (checked again here, under the lock, as another thread may just have saved it)."""
        name = f"{job.folder}/{candidate.sha256[:NAME_LENGTH]}.{candidate.extension}"
        row = {"file": name, "label": job.label, "query": job.query, "engine": engine, "source_url": url,
               "sha256": candidate.sha256, "bytes": len(candidate.data), "width": candidate.width,
               "height": candidate.height, "phash": format(candidate.phash, "016x"),
               "faces": "" if candidate.faces is None else candidate.faces, "time": _now()}
        with self._lock:
            twin = index.match(candidate.phash, candidate.sha256)
            if twin is not None:
                raise Reject(url, "duplicate", f"same picture as {twin}")
            _write_new(self.root / name, candidate.data)
            index.add(candidate.phash, name, candidate.sha256)
            _append(self.manifest, MANIFEST_FIELDS, row)
            self.rows.append({key: str(value) for key, value in row.items()})
            self._done.add(url)
        return name

    def reject(self, url: str, reason: str, detail: str, job: Job, engine: str) -> None:
        row = {"source_url": url, "reason": reason, "detail": detail[:300], "query": job.query,
               "engine": engine, "time": _now()}
        with self._lock:
            _append(self.rejects, REJECT_FIELDS, row)
            if reason not in TRANSIENT_REASONS:
                self._done.add(url)


def _write_new(target: Path, data: bytes) -> None:
    """Write a file that must not exist yet; a killed run leaves no half-written image."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    partial.unlink(missing_ok=True)  # a link or a killed run's file of the same name: never written through
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644),
                   "wb") as stream:
        stream.write(data)
    try:
        os.link(partial, target)  # unlike a rename, fails instead of replacing an existing file
    except FileExistsError:
        raise Reject(str(target), "duplicate", f"{target.name} already exists") from None
    finally:
        partial.unlink()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _read_csv(path: Path, fields: list[str]) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(fields) - set(reader.fieldnames or [])
        if missing:
            raise ConfigError(f"{path}: not a scraper file (missing columns {sorted(missing)})")
        return list(reader)


def _append(path: Path, fields: list[str], row: dict | None) -> None:
    """Add a row (None: none) to a CSV file, writing its header first when it is new or empty."""
    new = not path.is_file() or path.stat().st_size == 0
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        if new:
            writer.writeheader()
        if row is not None:
            writer.writerow(row)
