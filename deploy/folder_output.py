"""The folder runner's rows and how they are written: paths, tab-separated text, CSV or JSON.

Every format gives one line per photo (with ``per_face``, one per face): paths and error
messages go through escape(), so a file name with a newline or with bytes that are not UTF-8
can neither split a line nor stop the output under any locale (JSON is written in ASCII).
"""
from __future__ import annotations

import csv
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from glasses_core import PhotoResult

from deploy.escape import escape

FORMATS = ("text", "csv", "json")
CSV_COLUMNS = ("path", "answer", "probability", "faces", "error", "model", "kind")
FACE_COLUMNS = ("path", "face", "x0", "y0", "x1", "y1", "probability", "answer", "error", "model", "kind")


@dataclass
class Row:
    """One photo's line of output: its answer, or the reason it could not be read."""
    path: Path
    answer: str = ""  # "glass", "no_glass", or "no_face" (no face found)
    probability: float | None = None  # highest face probability; None with no face (or an error)
    faces: int = 0  # faces found
    error: str = ""
    result: PhotoResult | None = None  # the whole answer: each face, and the fallback crop's guess

    @property
    def has_glasses(self) -> bool:
        return not self.error and self.answer == "glass"

    @property
    def kind(self) -> str:
        """Which glasses ("clear", "dark") when the photo has them and the model says; else ""."""
        return (self.result.kind or "") if self.result is not None and self.has_glasses else ""

    def wanted(self, kind: str | None) -> bool:
        """Whether the photo has glasses of ``kind`` (any glasses when None): what is listed and gathered."""
        return self.has_glasses and (kind is None or self.kind == kind)

    def guessed(self) -> "Row":
        """This row; for a photo without a face, the fallback crop's guess as its answer."""
        if self.result is None:
            return self
        result = self.result.guessed()
        return dataclasses.replace(self, answer=result.answer, probability=result.probability, result=result)


class Output:
    """Writes rows to a stream as they come: paths or tab-separated text, CSV, or a JSON list.
    CSV rows and JSON records name the model that gave the answer (``model``: its model id).

    ``every``: every photo's row; otherwise the photos with glasses (of ``kind`` only, when given)
    and, except as the plain list of paths (text without ``every`` or ``per_face``), the photos
    that could not be read. ``per_face``: one row per face found (a photo without a face, or
    unread, keeps one row)."""

    def __init__(self, fmt: str, every: bool, stream, model: str = "", per_face: bool = False,
                 kind: str | None = None):
        self.fmt, self.every, self.stream, self.model, self.per_face = fmt, every, stream, model, per_face
        self.kind = kind
        self.encoding = getattr(stream, "encoding", None) or "utf-8"
        self.paths_only = fmt == "text" and not every and not per_face
        self._count = 0
        if fmt == "csv":
            self._csv = csv.writer(stream, lineterminator="\n")
            self._csv.writerow(FACE_COLUMNS if per_face else CSV_COLUMNS)
        elif fmt == "json":
            stream.write("[")

    def lists(self, row: Row) -> bool:
        """Whether ``row`` is part of this output."""
        return self.every or row.wanted(self.kind) or bool(row.error) and not self.paths_only

    def write(self, row: Row) -> None:
        path, error = escape(row.path, self.encoding), escape(row.error, self.encoding)
        if self.per_face:
            for face, record in face_records(row):
                self._write_face(path, error, face, record)
        elif self.fmt == "csv":
            self._csv.writerow([path, row.answer, _number(row.probability, 6), "" if row.error else row.faces,
                                error, self.model, row.kind])
        elif self.fmt == "json":
            details = row.result.to_dict() if row.result else {
                "answer": None, "probability": None, "kind": None, "face_found": False, "faces": [], "fallback": None}
            self._json({"path": path, **details, "error": error or None, "model": self.model})
        elif self.paths_only:
            print(path, file=self.stream)
        elif row.error:
            print(f"{path}\terror\t{error}", file=self.stream)
        else:
            kind = f"\t{row.kind}" if row.kind else ""
            print(f"{path}\t{row.answer}\t{_number(row.probability, 3) or '-'}{kind}", file=self.stream)
        self.stream.flush()  # a long run shows its answers as they come, also through a pipe

    def _write_face(self, path: str, error: str, face: int | None, record: dict) -> None:
        box = record.get("box") or [None] * 4
        if self.fmt == "csv":
            self._csv.writerow([path, face or "", *(_number(v, 1) for v in box),
                                _number(record.get("probability"), 6), record.get("answer") or "", error, self.model,
                                record.get("kind") or ""])
        elif self.fmt == "json":
            self._json({"path": path, "face": face, "box": record.get("box"), "probability": record.get("probability"),
                        "answer": record.get("answer"), "kind": record.get("kind"), "error": error or None,
                        "model": self.model})
        elif error:
            print(f"{path}\terror\t{error}", file=self.stream)
        else:
            where = ",".join(_number(v, 1) for v in box) if record.get("box") else "-"
            chance = _number(record.get("probability"), 3) or "-"
            kind = f"\t{record['kind']}" if record.get("kind") else ""
            print(f"{path}\t{face or '-'}\t{record['answer']}\t{chance}\t{where}{kind}", file=self.stream)

    def _json(self, record: dict) -> None:
        self.stream.write(("," if self._count else "") + "\n  " + json.dumps(record))
        self._count += 1

    def finish(self) -> None:
        if self.fmt == "json":
            self.stream.write("\n]\n" if self._count else "]\n")
        self.stream.flush()


def face_records(row: Row) -> list[tuple[int | None, dict]]:
    """(face number from 1, largest face first; None for a photo without a face or unread, its
    box None) and that face's box, probability and answer, for each row ``per_face`` writes."""
    if row.error or row.result is None:
        return [(None, {})]
    if not row.result.faces:
        return [(None, {"box": None, "probability": row.probability, "answer": row.answer, "kind": row.kind or None})]
    return [(number, face.to_dict()) for number, face in enumerate(row.result.faces, 1)]


def _number(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"
