"""The folder runner's rows and how they are written: paths, tab-separated text, CSV or JSON.

Every format gives one line per photo: paths and error messages go through escape(), so a
file name with a newline or with bytes that are not UTF-8 can neither split a line nor stop
the output under any locale (JSON is written in ASCII).
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from deploy.escape import escape

FORMATS = ("text", "csv", "json")
CSV_COLUMNS = ("path", "answer", "probability", "faces", "error", "model")


@dataclass
class Row:
    """One photo's line of output: its answer, or the reason it could not be read."""
    path: Path
    answer: str = ""
    probability: float | None = None  # highest face probability (the fallback crop's with no face)
    faces: int = 0  # faces found; 0 means the fallback crop was classified
    error: str = ""
    details: dict | None = None  # PhotoResult.to_dict(), for --format json

    @property
    def has_glasses(self) -> bool:
        return not self.error and self.answer == "glass"


class Output:
    """Writes rows to a stream as they come: paths or tab-separated text, CSV, or a JSON list.
    CSV rows and JSON records name the model that gave the answer (``model``: its model id)."""

    def __init__(self, fmt: str, every: bool, stream, model: str = ""):
        self.fmt, self.every, self.stream, self.model = fmt, every, stream, model
        self.encoding = getattr(stream, "encoding", None) or "utf-8"
        self._count = 0
        if fmt == "csv":
            self._csv = csv.writer(stream, lineterminator="\n")
            self._csv.writerow(CSV_COLUMNS)
        elif fmt == "json":
            stream.write("[")

    def write(self, row: Row) -> None:
        path, error = escape(row.path, self.encoding), escape(row.error, self.encoding)
        if self.fmt == "csv":
            self._csv.writerow([path, row.answer, "" if row.probability is None else f"{row.probability:.6f}",
                                "" if row.error else row.faces, error, self.model])
        elif self.fmt == "json":
            details = row.details or {"answer": None, "probability": None, "face_found": False, "faces": []}
            record = {"path": path, **details, "error": error or None, "model": self.model}
            self.stream.write(("," if self._count else "") + "\n  " + json.dumps(record))
        elif not self.every:
            print(path, file=self.stream)
        elif row.error:
            print(f"{path}\terror\t{error}", file=self.stream)
        else:
            print(f"{path}\t{row.answer}\t{row.probability:.3f}", file=self.stream)
        self._count += 1
        self.stream.flush()  # a long run shows its answers as they come, also through a pipe

    def finish(self) -> None:
        if self.fmt == "json":
            self.stream.write("\n]\n" if self._count else "]\n")
        self.stream.flush()
