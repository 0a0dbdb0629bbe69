"""Tell which photos in a folder show someone wearing glasses.

    python3 deploy/run_on_folder.py DIR                 # the photos with glasses, one path a line
    python3 deploy/run_on_folder.py DIR --all --format csv > answers.csv
    python3 deploy/run_on_folder.py DIR --recursive --copy-to with_glasses/

Reads every image format Pillow reads (by extension, or by content for files without a known
one); other files and hidden files are skipped quietly. An unreadable image is reported on
stderr (and in the error column) and the run goes on. Large folders are split over a pool of
processes, each with its own classifier. Exit status: 0 when the run completed, 1 when the
model cannot be loaded, 2 for bad arguments or a missing folder.
"""
from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from glasses_core import GlassesClassifier, GlassesError, load_image

BATCH = 8  # photos per task sent to a worker process: fewer round trips
POOL_MIN_PHOTOS = 200  # below this, starting worker processes (~0.3 s each) costs more than it saves
PROGRESS_MIN_PHOTOS = 20  # no progress bar for shorter runs
FORMATS = ("text", "csv", "json")
CSV_COLUMNS = ("path", "answer", "probability", "faces", "error")


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


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="folder of photos")
    parser.add_argument("--all", action="store_true",
                        help="print every photo with its answer, not only those with glasses")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument("--threshold", type=probability, default=None,
                        help="probability of glasses at or above which the answer is 'glass' "
                             "(default: the model's)")
    parser.add_argument("--recursive", action="store_true", help="also look in subfolders")
    gather = parser.add_mutually_exclusive_group()
    gather.add_argument("--copy-to", type=Path, metavar="DIR", help="copy the photos with glasses here")
    gather.add_argument("--move-to", type=Path, metavar="DIR", help="move the photos with glasses here")
    parser.add_argument("--model", type=Path, default=None,
                        help="model .json (or .tflite with its .json beside it); default: the shipped model")
    parser.add_argument("--workers", type=int, default=0,
                        help=f"worker processes (default 0: one per core for {POOL_MIN_PHOTOS}+ photos)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: on a terminal, for long runs)")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"{args.folder}: no such folder")
    destination = args.copy_to or args.move_to
    if destination is not None and destination.exists() and not destination.is_dir():
        parser.error(f"{destination}: exists and is not a folder")
    if args.workers < 0:
        parser.error("--workers must be 0 (automatic) or more")
    return args


def probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def image_extensions() -> frozenset[str]:
    """File extensions of every format Pillow can read (not those it can only write)."""
    Image.init()
    return frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN)


def find_photos(folder: Path, recursive: bool, exclude: Path | None = None) -> list[Path]:
    """The photos in ``folder``, sorted; hidden files and folders, and ``exclude``, left out."""
    extensions = image_extensions()
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    excluded = exclude.resolve() if exclude is not None else None
    photos = []
    for path in candidates:
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if excluded is not None and path.resolve().is_relative_to(excluded):
            continue
        if path.suffix.lower() in extensions or readable_header(path):
            photos.append(path)
    return sorted(photos)


def readable_header(path: Path) -> bool:
    """Whether Pillow recognises a file without an image extension (it reads the header only)."""
    try:
        with Image.open(path):
            return True
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def classify_batch(classifier: GlassesClassifier, paths: list[Path]) -> list[Row]:
    """Rows for ``paths``, in order. One photo at a time: a folder of large photos must not
    hold several decoded ones in memory at once."""
    rows = []
    for path in paths:
        try:
            result = classifier.predict(load_image(path))
        except GlassesError as err:
            rows.append(Row(path, error=getattr(err, "reason", str(err))))
            continue
        rows.append(Row(path, answer=result.answer, probability=result.probability,
                        faces=len(result.faces) if result.face_found else 0, details=result.to_dict()))
    return rows


_worker_classifier: GlassesClassifier | None = None


def _start_worker(model: Path, threshold: float | None) -> None:
    global _worker_classifier
    _worker_classifier = GlassesClassifier(model, threshold)


def _classify_in_worker(paths: list[Path]) -> list[Row]:
    return classify_batch(_worker_classifier, paths)


def classify_all(classifier: GlassesClassifier, model: Path | None, photos: list[Path], workers: int):
    """Rows for every photo, in order, batch by batch; ``workers`` > 1 uses a process pool
    whose workers each load ``model`` (None: the shipped one) with the classifier's threshold."""
    batches = [photos[i:i + BATCH] for i in range(0, len(photos), BATCH)]
    if workers <= 1:
        for batch in batches:
            yield classify_batch(classifier, batch)
        return
    # spawn, not fork: the parent may hold LiteRT interpreters (and, under pytest, TensorFlow's threads).
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker,
                               initargs=(model, classifier.threshold))
    try:
        yield from pool.map(_classify_in_worker, batches)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def worker_count(requested: int, photos: int) -> int:
    if requested:
        return requested
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cores, -(-photos // BATCH)) if photos >= POOL_MIN_PHOTOS else 1


def gather(path: Path, folder: Path, destination: Path, move: bool) -> str | None:
    """Copy or move a photo into ``destination``, keeping its path below ``folder``.

    Returns what went wrong, or None; an existing file is never overwritten.
    """
    target = destination / path.relative_to(folder)
    if target.exists():
        return f"{target} already exists; {path} left where it is"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        (shutil.move if move else shutil.copy2)(path, target)
    except OSError as err:
        return f"could not {'move' if move else 'copy'} {path} to {target}: {err}"
    return None


class Output:
    """Writes rows to a stream as they come: paths or tab-separated text, CSV, or a JSON list."""

    def __init__(self, fmt: str, every: bool, stream):
        self.fmt, self.every, self.stream = fmt, every, stream
        self._count = 0
        if fmt == "csv":
            self._csv = csv.writer(stream, lineterminator="\n")
            self._csv.writerow(CSV_COLUMNS)
        elif fmt == "json":
            stream.write("[")

    def write(self, row: Row) -> None:
        if self.fmt == "csv":
            self._csv.writerow([row.path, row.answer,
                                "" if row.probability is None else f"{row.probability:.6f}",
                                "" if row.error else row.faces, row.error])
        elif self.fmt == "json":
            details = row.details or {"answer": None, "probability": None, "face_found": False, "faces": []}
            record = {"path": str(row.path), **details, "error": row.error or None}
            self.stream.write(("," if self._count else "") + "\n  " + json.dumps(record))
        elif not self.every:
            print(row.path, file=self.stream)
        elif row.error:
            print(f"{row.path}\terror\t{row.error}", file=self.stream)
        else:
            print(f"{row.path}\t{row.answer}\t{row.probability:.3f}", file=self.stream)
        self._count += 1
        self.stream.flush()  # a long run shows its answers as they come, also through a pipe

    def finish(self) -> None:
        if self.fmt == "json":
            self.stream.write("\n]\n" if self._count else "]\n")


class TextBar:
    """A one-line progress bar for environments without tqdm (the light one has none)."""

    def __init__(self, total: int, enabled: bool, stream=sys.stderr):
        self.total, self.enabled, self.stream, self.done = total, enabled, stream, 0

    def update(self, n: int) -> None:
        self.done += n
        self._draw()

    def write(self, message: str, file=None) -> None:
        print(("\r\033[K" if self.enabled else "") + message, file=file or self.stream)
        self._draw()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")

    def _draw(self) -> None:
        if self.enabled and self.total:
            filled = 30 * self.done // self.total
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} photos")
            self.stream.flush()


def progress_bar(total: int, enabled: bool):
    """tqdm when it is installed, else TextBar; both have update(), write() and close()."""
    try:
        from tqdm import tqdm
    except ImportError:
        return TextBar(total, enabled)
    return tqdm(total=total, disable=not enabled, unit="photo", file=sys.stderr, dynamic_ncols=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    destination = args.copy_to or args.move_to
    photos = find_photos(args.folder, args.recursive, exclude=destination)
    try:
        classifier = GlassesClassifier(args.model, args.threshold)
    except GlassesError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if destination is not None:
        destination.mkdir(parents=True, exist_ok=True)
    show = args.progress if args.progress is not None else (
        sys.stderr.isatty() and len(photos) >= PROGRESS_MIN_PHOTOS)
    bar = progress_bar(len(photos), show)
    output = Output(args.format, args.all, sys.stdout)
    workers = worker_count(args.workers, len(photos))
    try:
        for rows in classify_all(classifier, args.model, photos, workers):
            for row in rows:
                if row.error:
                    bar.write(f"{row.path}: {row.error}", file=sys.stderr)
                if args.all or row.has_glasses:
                    output.write(row)
                if row.has_glasses and destination is not None:
                    problem = gather(row.path, args.folder, destination, move=args.move_to is not None)
                    if problem:
                        bar.write(problem, file=sys.stderr)
            bar.update(len(rows))
    finally:
        bar.close()
    output.finish()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
