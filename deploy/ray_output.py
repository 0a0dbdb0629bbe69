"""What a Ray scoring run writes: the folder runner's columns plus each face's box and
probability, as Parquet or CSV part files in one output folder (local or object storage).

Columns: path, answer, probability, faces, error, kind (as deploy/folder_output.py, paths and
errors escaped the same way; kind: clear or dark for a photo with glasses, from a model that says
which), face_boxes ([x0, y0, x1, y1] per face found, in photo pixels), face_probabilities and
face_kinds (null for a face without glasses). Parquet holds the face columns as lists, CSV as JSON
text. An unread
photo has an error and empty answer, probability and faces; a photo in which no face was found
answers no_face with no probability and 0 faces (with --fallback-guess, the fallback crop's
answer and probability, and still 0 faces).

A rerun reads the paths already written and scores only the others. A part file that a
stopped run left unfinished (a Parquet file without its footer, a CSV file whose last line has
no end) is removed, and its photos are scored again. With --retry-errors, the error rows of the
photos asked for are first removed from their part files (each rewritten whole, then moved over
the old one), and those photos are scored again. A part file written before a column existed
(``kind`` and ``face_kinds`` came with the second answer) is rewritten the same way with that
column empty, so that every part file in a folder has the same columns. In a local output
folder, symbolic links are never followed: a part file is only ever read, removed or rewritten
inside the folder given.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from deploy.escape import escape
from deploy.folder_output import Row
from deploy.ray_inputs import is_uri

FORMATS = ("parquet", "csv")
COLUMNS = ("path", "answer", "probability", "faces", "error", "kind", "face_boxes", "face_probabilities", "face_kinds")
FACE_LISTS = pa.list_(pa.list_(pa.float64())), pa.list_(pa.float64()), pa.list_(pa.string())


def schema(fmt: str) -> pa.Schema:
    """One schema for every part file, so that an all-error batch writes the same types."""
    boxes, probabilities, kinds = FACE_LISTS if fmt == "parquet" else (pa.string(),) * 3
    return pa.schema([("path", pa.string()), ("answer", pa.string()), ("probability", pa.float64()),
                      ("faces", pa.int32()), ("error", pa.string()), ("kind", pa.string()),
                      ("face_boxes", boxes), ("face_probabilities", probabilities), ("face_kinds", kinds)])


def record(row: Row, fmt: str) -> dict:
    """A row of the output table, from the folder runner's Row."""
    faces = [face.to_dict() for face in row.result.faces] if row.result else []
    boxes, probabilities = [face["box"] for face in faces], [face["probability"] for face in faces]
    kinds = [face["kind"] for face in faces]
    if fmt == "csv":
        boxes, probabilities, kinds = json.dumps(boxes), json.dumps(probabilities), json.dumps(kinds)
    ok = not row.error
    return {"path": escape(row.path), "answer": row.answer if ok else None,
            "probability": round(row.probability, 6) if ok and row.probability is not None else None,
            "faces": row.faces if ok else None,
            "error": escape(row.error) if row.error else None, "kind": row.kind or None,
            "face_boxes": boxes if ok else None, "face_probabilities": probabilities if ok else None,
            "face_kinds": kinds if ok else None}


def table(rows: list[Row], fmt: str) -> pa.Table:
    return pa.Table.from_pylist([record(row, fmt) for row in rows], schema=schema(fmt))


def output_folder(out: str) -> tuple[pafs.FileSystem, str]:
    """(file system, folder inside it) of a local path or a URI."""
    if is_uri(out):
        return pafs.FileSystem.from_uri(out)
    return pafs.LocalFileSystem(), str(Path(out).resolve())


def written(out: str, fmt: str, removed: list[str]) -> dict[str, Row]:
    """Rows already in ``out`` (path, answer, faces, error), keyed by escaped path; the unfinished
    part files removed on the way are appended to ``removed``."""
    filesystem, folder = output_folder(out)
    rows = {}
    for part_path in _parts(filesystem, folder, fmt):
        columns = ["path", "answer", "faces", "error"]
        part = _read_part(filesystem, part_path, fmt, columns)
        if part is None:
            filesystem.delete_file(part_path)
            removed.append(part_path)
            continue
        for path, answer, faces, error in zip(*(part[name].to_pylist() for name in columns)):
            rows[path] = Row(path, answer=answer or "", faces=faces or 0, error=error or "")
    return rows


def upgrade_parts(out: str, fmt: str) -> list[str]:
    """Rewrite each part file in ``out`` that lacks some of the output's columns (written by an
    older release) with those columns empty, in the output's order; returns the files rewritten.
    A file whose columns are not a subset of the output's, or that was left unfinished, is left
    as it is."""
    filesystem, folder = output_folder(out)
    types, upgraded = schema(fmt), []
    for part_path in _parts(filesystem, folder, fmt):
        columns = _columns(filesystem, part_path, fmt)
        if columns is None or columns == types.names or not set(columns) < set(types.names):
            continue
        table = _read_part(filesystem, part_path, fmt, columns)
        if table is None:
            continue
        full = pa.table({field.name: table[field.name] if field.name in columns else pa.nulls(table.num_rows, field.type)
                         for field in types}, schema=types)
        _replace(filesystem, part_path, full, fmt)
        upgraded.append(part_path)
    return upgraded


def _columns(filesystem, path: str, fmt: str) -> list[str] | None:
    """A part file's column names, or None when they cannot be told (left unfinished, empty)."""
    if fmt == "parquet":
        try:
            with filesystem.open_input_file(path) as stream:
                return pq.read_schema(stream).names
        except pa.ArrowInvalid:
            return None
    with filesystem.open_input_stream(path) as stream:
        header = stream.read(64 * 1024).split(b"\n", 1)
    if len(header) < 2:
        return None
    return pacsv.read_csv(pa.BufferReader(header[0] + b"\n")).column_names


def _replace(filesystem, part_path: str, table: pa.Table, fmt: str) -> None:
    """Write ``table`` whole beside ``part_path``, then move it over it."""
    temporary = part_path + ".rewriting"  # not a part file: a rerun ignores it if this stops here
    with filesystem.open_output_stream(temporary) as stream:
        if fmt == "parquet":
            pq.write_table(table, stream)
        else:
            pacsv.write_csv(table, stream)
    filesystem.move(temporary, part_path)


def drop_error_rows(out: str, fmt: str, paths: set[str]) -> int:
    """Remove the error rows of ``paths`` (escaped, as written) from the part files in ``out``;
    a part file left empty is deleted. Returns how many rows were removed."""
    if not paths:
        return 0
    filesystem, folder = output_folder(out)
    removed = 0
    for part_path in _parts(filesystem, folder, fmt):
        table = _read_part(filesystem, part_path, fmt)
        if table is None:  # left unfinished: written() removes it
            continue
        drop = pc.and_(pc.is_in(table["path"], pa.array(sorted(paths))), pc.is_valid(table["error"]))
        dropped = pc.sum(drop).as_py() or 0
        if not dropped:
            continue
        removed += dropped
        if dropped == table.num_rows:
            filesystem.delete_file(part_path)
            continue
        _replace(filesystem, part_path, table.filter(pc.invert(drop)), fmt)
    return removed


def _parts(filesystem, folder: str, fmt: str) -> list[str]:
    """The part files in ``folder`` and below (none when there is no such folder). Locally,
    links are not followed (pyarrow's listing follows them: an unfinished-looking file a link
    led to outside the folder would have been removed)."""
    if filesystem.get_file_info(folder).type != pafs.FileType.Directory:
        return []
    if filesystem.type_name == "local":
        return sorted(path for top, _, names in os.walk(folder)  # os.walk follows no link below folder
                      for path in (os.path.join(top, name) for name in names)
                      if path.endswith("." + fmt) and not os.path.islink(path))
    return [info.path for info in filesystem.get_file_info(pafs.FileSelector(folder, recursive=True))
            if info.type == pafs.FileType.File and info.path.endswith("." + fmt)]


def _read_part(filesystem, path: str, fmt: str, columns: list[str] | None = None) -> pa.Table | None:
    """The part file's ``columns`` (default: all) with the output's types, or None when it was
    left unfinished. A file that cannot be read (OSError: no permission, the storage failing)
    raises: only a file that was read and is not whole may be removed."""
    types = schema(fmt)
    columns = columns or types.names
    wanted = pa.schema([types.field(name) for name in columns])
    if fmt == "parquet":
        try:
            return pq.read_table(path, columns=columns, filesystem=filesystem).cast(wanted)
        except pa.ArrowInvalid:  # no footer: the writer stopped before the end
            return None
    with filesystem.open_input_stream(path) as stream:
        data = stream.read()
    if not data:
        return wanted.empty_table()
    if not data.endswith(b"\n"):  # the last line has no end: the writer stopped in it
        return None
    options = pacsv.ConvertOptions(column_types={f.name: f.type for f in types}, strings_can_be_null=True,
                                   include_columns=columns)
    return pacsv.read_csv(pa.BufferReader(data), convert_options=options).cast(wanted)


def write(dataset, out: str, fmt: str, rows_per_file: int) -> None:
    """Write ``dataset`` into ``out`` as new part files beside those already there."""
    # Writing is I/O: no CPU is reserved for it, so it never waits for a scoring task to end.
    options = {"min_rows_per_file": rows_per_file, "ray_remote_args": {"num_cpus": 0}}
    if fmt == "parquet":
        dataset.write_parquet(out, **options)
    else:
        dataset.write_csv(out, **options)
