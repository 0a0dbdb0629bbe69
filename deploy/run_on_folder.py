"""Tell which photos in folders (or given one by one) show someone wearing glasses.

    python3 deploy/run_on_folder.py DIR                 # the photos with glasses, one path a line
    python3 deploy/run_on_folder.py DIR --all --format csv > answers.csv
    python3 deploy/run_on_folder.py DIR --recursive --copy-to with_glasses/
    python3 deploy/run_on_folder.py DIR --per-face --format csv   # who in each photo wears glasses
    python3 deploy/run_on_folder.py DIR --annotate boxes/          # copies with the faces drawn on
    python3 deploy/run_on_folder.py a.jpg b.png DIR     # files and folders, in any mix

Reads the photo formats (JPEG, PNG, GIF, WebP, BMP, TIFF, HEIC/HEIF, AVIF: by extension, or by
content for files without a known one); other files and hidden files are skipped quietly. A photo that cannot be read gets an
error row (and a line on stderr) and the run goes on; entries that cannot be looked at
(dangling or looping links, FIFOs, unreadable folders, ...) are named on stderr
(deploy/photo_scan.py). A summary line closes every run on stderr. Large runs are shared
between this process and a pool of others, each with its own classifier; the photos a worker
process held when it died are classified again (deploy/worker_pool.py).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from glasses_core import GlassesClassifier, GlassesError
from glasses_core.config import KINDS

from deploy.annotate import annotated
from deploy.escape import escape
from deploy.folder_output import FORMATS, Output, Row
from deploy.gather import GatherError, gather, place
from deploy.memory import keep_freed_memory
from deploy.photo_scan import Photo, input_problem, scan
from deploy.progress import progress_bar
from deploy.worker_pool import Workers, shared_in_order

BATCH = 8  # photos per task sent to a worker process: fewer round trips
POOL_MIN_PHOTOS = 200  # below this, starting worker processes (~0.3 s each) costs more than it saves
PROGRESS_MIN_PHOTOS = 20  # no progress bar for shorter runs
EXIT_OK, EXIT_NO_MODEL, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3
EPILOG = f"""\
exit status:
  {EXIT_OK}  every photo was read (also when there was nothing to do)
  {EXIT_NO_MODEL}  the model could not be loaded
  {EXIT_USAGE}  bad arguments (--kind with a model that does not say which glasses), a path that
     does not exist or is not a file or folder, or a --copy-to,
     --move-to or --annotate folder that cannot be made or written in (it is made, with its
     parents, first)
  {EXIT_INCOMPLETE}  the run went to the end, but some files or folders could not be read, or
     some photos could not be copied, moved or annotated: each is named on stderr and counted
     in the summary

output: one line per photo (with --per-face, one per face) in every format. With --all, every
photo; without it, the photos with glasses and, in CSV, JSON and --per-face output, every photo
that could not be read (its error row; a plain list of paths names those on stderr only). A
photo in which no face is found answers no_face, with no probability, unless --fallback-guess.
A model that says which glasses adds each photo's kind (clear or dark, of the face most likely to
wear glasses; each face's in --per-face and JSON): the last CSV column, a fourth text field.
Faces come largest first, numbered from 1; a box is x0,y0,x1,y1 in the photo's upright
(EXIF-applied) pixels. In paths and error messages a backslash is doubled, control characters
(newline, tab, ...) become \\n, \\t, \\xNN, bytes of a file name that are not valid UTF-8 become
\\xNN, and characters the output's encoding cannot hold become \\xNN, \\uNNNN or \\UNNNNNNNN.

--copy-to, --move-to and --annotate never overwrite: a taken name.jpg becomes name-1.jpg,
name-2.jpg, ...; they never write through a symbolic link inside the destination. --move-to
never moves a photo that a symbolic link led to from outside the folder given (that would remove
a file outside it): such a photo stays, and is named on stderr."""


@dataclass
class Tally:
    """What the summary line counts."""
    photos: int = 0
    glasses: int = 0
    unreadable: int = 0
    skipped: int = 0
    no_face: int = 0  # among those without glasses: no face found
    gathered: int = 0
    not_gathered: int = 0
    annotated: int = 0
    not_annotated: int = 0

    def add(self, row: Row) -> None:
        self.photos += 1
        self.glasses += row.has_glasses
        self.unreadable += bool(row.error)
        self.no_face += not row.error and not row.faces

    def line(self, seconds: float, gathered_how: str | None, annotating: bool = False) -> str:
        without = self.photos - self.glasses - self.unreadable
        text = (f"{self.photos} photos: {self.glasses} with glasses, {without} without, "
                f"{self.unreadable} unreadable; {self.skipped} other entries skipped")
        if self.no_face:
            text += f"; no face found in {self.no_face}"
        if gathered_how:
            text += f"; {self.gathered} {gathered_how}, {self.not_gathered} not {gathered_how}"
        if annotating:
            text += f"; {self.annotated} annotated, {self.not_annotated} not annotated"
        return f"{text}; {seconds:.1f} s"

    @property
    def complete(self) -> bool:
        return not (self.unreadable or self.skipped or self.not_gathered or self.not_annotated)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", type=Path, nargs="+", metavar="PATH", help="folders of photos, or photos")
    parser.add_argument("--all", action="store_true",
                        help="print every photo with its answer, not only those with glasses")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument("--threshold", type=probability, default=None,
                        help="probability of glasses at or above which the answer is 'glass' "
                             "(default: the model's)")
    parser.add_argument("--fallback-guess", action="store_true",
                        help="a photo in which no face is found: answer from the model's guess on its "
                             "centre (a fallback crop) instead of no_face")
    parser.add_argument("--per-face", action="store_true",
                        help="one row per face: path, face number (largest first), box, probability, answer")
    parser.add_argument("--annotate", type=Path, metavar="DIR",
                        help="write a copy of each photo listed (JPEG) with its faces' boxes and answers "
                             "drawn, here")
    parser.add_argument("--kind", choices=KINDS,
                        help="list (and copy or move) only the photos with this kind of glasses: clear "
                             "eyeglasses or dark sunglasses (a model that says which; CSV and JSON carry "
                             "each photo's kind either way)")
    parser.add_argument("--recursive", action="store_true", help="also look in subfolders")
    gather_to = parser.add_mutually_exclusive_group()
    gather_to.add_argument("--copy-to", type=Path, metavar="DIR", help="copy the photos with glasses here")
    gather_to.add_argument("--move-to", type=Path, metavar="DIR", help="move the photos with glasses here")
    parser.add_argument("--model", type=Path, default=None,
                        help="model .json, or .tflite (its metadata inside it or in a .json beside it); "
                             "default: the shipped model")
    parser.add_argument("--workers", type=int, default=0,
                        help=f"processes that classify, this one included (default 0: one per core "
                             f"for {POOL_MIN_PHOTOS}+ photos)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: on a terminal, for long runs)")
    args = parser.parse_intermixed_args(argv)  # paths may come after options: DIR --all a.jpg
    for path in args.paths:
        problem = input_problem(path)
        if problem:
            parser.error(escape(f"{path}: {problem}"))
    for destination in (args.copy_to or args.move_to, args.annotate):
        problem = destination_problem(destination) if destination is not None else None
        if problem:
            parser.error(escape(f"{destination}: {problem}"))
    if args.workers < 0:
        parser.error("--workers must be 0 (automatic) or more")
    return args


def destination_problem(destination: Path) -> str | None:
    """Why a --copy-to, --move-to or --annotate folder cannot be used, or None once it is made
    (with its parents) and a file could be made in it: checked before anything is read or moved."""
    if destination.exists() and not destination.is_dir():
        return "exists and is not a folder"
    try:
        destination.mkdir(parents=True, exist_ok=True)
        probe, name = tempfile.mkstemp(prefix=".write-test-", dir=destination)
        os.close(probe)
        os.unlink(name)
    except OSError as err:
        return f"cannot be made or written in ({err.strerror or err})"
    return None


def probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def classify_one(classifier: GlassesClassifier, path: Path | str, read=None) -> Row:
    """The photo's row; whatever goes wrong with this one file becomes its error. ``read``
    (path -> bytes, raising OSError), when given, fetches the photo, from object storage say."""
    try:
        result = classifier.predict(path) if read is None else classifier.predict(read(path), name=str(path))
    except GlassesError as err:
        return Row(path, error=getattr(err, "reason", str(err)))
    except OSError as err:  # opening it: no permission, removed meanwhile, an I/O error
        return Row(path, error=f"cannot read it ({err.strerror or err})")
    except Exception as err:  # a library failing on one odd file must not end the run (or a worker)
        return Row(path, error=f"unexpected error: {err!r}")
    return Row(path, answer=result.answer, probability=result.probability, faces=len(result.faces), result=result)


def classify_batch(classifier: GlassesClassifier, paths: list[Path]) -> list[Row]:
    """Rows for ``paths``, in order. One photo at a time: a folder of large photos must not
    hold several decoded ones in memory at once."""
    return [classify_one(classifier, path) for path in paths]


_worker_classifier: GlassesClassifier | None = None


def _start_worker(model: Path, threshold: float | None) -> None:
    global _worker_classifier
    keep_freed_memory()  # a spawned worker does not inherit the parent's setting
    _worker_classifier = GlassesClassifier(model, threshold)


def _classify_in_worker(paths: list[Path]) -> list[Row]:
    return classify_batch(_worker_classifier, paths)


def classify_all(classifier: GlassesClassifier, model: Path | None, photos: list[Path], workers: int,
                 warn=lambda text: print(text, file=sys.stderr)):
    """Rows for every photo, in order, batch by batch, from ``workers`` processes: this one and,
    when ``workers`` > 1, a pool of ``workers - 1`` that each load ``model`` (None: the shipped
    one) with the classifier's threshold (deploy/worker_pool.py: the photos a dying worker
    held are classified again; ``warn`` says when one died)."""
    batches = [photos[i:i + BATCH] for i in range(0, len(photos), BATCH)]
    if workers <= 1:
        for batch in batches:
            yield classify_batch(classifier, batch)
        return
    pool = Workers(workers - 1, _start_worker, (model, classifier.threshold), warn)
    try:
        yield from shared_in_order(batches, partial(classify_batch, classifier), pool, _classify_in_worker,
                                   lambda path, reason: Row(path, error=reason))
    finally:
        pool.close()


def outside(photos: list[Photo], folder: Path | None) -> list[Photo]:
    """The photos that are not in ``folder`` (--annotate's: its copies are not photos to classify)."""
    if folder is None or not folder.is_dir():
        return photos
    inside = folder.resolve()
    return [photo for photo in photos if not photo.path.resolve().is_relative_to(inside)]


def worker_count(requested: int, photos: int) -> int:
    if requested:
        return requested
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cores, -(-photos // BATCH)) if photos >= POOL_MIN_PHOTOS else 1


def gather_photo(photo: Photo, destination: Path, move: bool) -> str | None:
    """Copy or move a photo into ``destination``; returns what went wrong, or None."""
    try:
        gather(photo.path, photo.relative, destination, move, tree=photo.root)
    except (OSError, GatherError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else err
        return f"could not {'move' if move else 'copy'} {photo.path} to {destination}: {reason}"
    return None


def annotate_photo(photo: Photo, row: Row, folder: Path) -> str | None:
    """Write ``photo`` with its faces drawn on into ``folder`` (as JPEG, named like the photo);
    returns what went wrong, or None."""
    try:
        place(annotated(photo.path, row.result), photo.relative.with_suffix(".jpg"), folder)
    except (OSError, GatherError, GlassesError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else err
        return f"could not annotate {photo.path} into {folder}: {reason}"
    return None


def answer_all(args, classifier: GlassesClassifier, photos: list[Photo], tally: Tally, output: Output) -> None:
    """Classify the photos, write their rows, gather those with glasses; counts go to ``tally``."""
    destination = args.copy_to or args.move_to
    show = args.progress if args.progress is not None else (
        sys.stderr.isatty() and len(photos) >= PROGRESS_MIN_PHOTOS)
    bar = progress_bar(len(photos), show)
    pending = iter(photos)
    workers = worker_count(args.workers, len(photos))
    try:
        warn = lambda text: bar.write(escape(text), file=sys.stderr)  # noqa: E731
        for rows in classify_all(classifier, args.model, [photo.path for photo in photos], workers, warn):
            for row, photo in zip(rows, pending):
                row = row.guessed() if args.fallback_guess else row
                tally.add(row)
                if row.error:
                    bar.write(escape(f"{row.path}: {row.error}"), file=sys.stderr)
                if output.lists(row):
                    output.write(row)
                if args.annotate is not None and output.lists(row) and not row.error:
                    problem = annotate_photo(photo, row, args.annotate)  # before a move takes the photo away
                    tally.annotated += problem is None
                    tally.not_annotated += problem is not None
                    if problem:
                        bar.write(escape(problem), file=sys.stderr)
                if row.wanted(args.kind) and destination is not None:
                    problem = gather_photo(photo, destination, move=args.move_to is not None)
                    tally.gathered += problem is None
                    tally.not_gathered += problem is not None
                    if problem:
                        bar.write(escape(problem), file=sys.stderr)
            bar.update(len(rows))
    finally:
        bar.close()


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    keep_freed_memory()
    destination = args.copy_to or args.move_to
    found = scan(args.paths, args.recursive, exclude=destination)
    found.photos = outside(found.photos, args.annotate)
    for path, why in found.skipped:
        print(escape(f"{path}: skipped: {why}"), file=sys.stderr)
    try:
        classifier = GlassesClassifier(args.model, args.threshold)
    except GlassesError as err:
        print(escape(f"error: {err}"), file=sys.stderr)
        return EXIT_NO_MODEL
    if args.kind and not classifier.kinds:
        print(escape(f"error: --kind {args.kind}: the model {classifier.model_id} does not say which glasses "
                     f"(it has no second answer); use a model that does, as the shipped one from 0.3.0"),
              file=sys.stderr)
        return EXIT_USAGE
    tally = Tally(skipped=len(found.skipped))
    output = Output(args.format, args.all, sys.stdout, classifier.model_id, args.per_face, args.kind)
    try:
        if not found.photos:
            print("nothing to do: no photos in " + escape(", ".join(map(str, args.paths))), file=sys.stderr)
        else:
            answer_all(args, classifier, found.photos, tally, output)
    finally:
        output.finish()  # a JSON list stays valid, even when the run is interrupted
    gathered_how = None if destination is None else "moved" if args.move_to else "copied"
    print(tally.line(time.monotonic() - started, gathered_how, args.annotate is not None), file=sys.stderr)
    return EXIT_OK if tally.complete else EXIT_INCOMPLETE


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
