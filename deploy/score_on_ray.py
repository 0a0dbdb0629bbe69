"""Score photos on Ray Data, on this machine or a cluster: folders, globs, file lists or
object-storage URIs in, Parquet or CSV part files out.

    python3 deploy/score_on_ray.py photos/ --recursive --out answers/          # Parquet
    python3 deploy/score_on_ray.py 'photos/**/*.jpg' --out answers/ --format csv
    python3 deploy/score_on_ray.py --file-list paths.txt --out answers/
    python3 deploy/score_on_ray.py s3://bucket/photos/ --out s3://bucket/answers/ --address auto

Each photo's bytes are read and handed to GlassesClassifier.predict(bytes, name=path), the
same runtime and preprocessing as every other tool, in Ray Data tasks (deploy/ray_scoring.py):
one per CPU at a time, each worker process holding a classifier whose LiteRT interpreters run on
one thread, loaded on its first batch and kept for the next. A photo that cannot be read
or decoded becomes a row with its error; the job goes on. A task that fails (its worker killed
for memory, say) is tried once more; the photos of a task that failed twice are scored again
one per task, and a photo whose own task fails twice gets an error row: nothing is retried
without end. Running again with the same --out scores only the photos not yet written there.
Needs the full environment (`ray[data]`).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

from glasses_core import GlassesClassifier, GlassesError

from deploy import ray_output
from deploy.escape import escape
from deploy.folder_output import Row
from deploy.ray_inputs import InputError, find_photos
from deploy.ray_scoring import score_batch
from deploy.ray_session import ray_session
from deploy.run_on_folder import EXIT_INCOMPLETE, EXIT_NO_MODEL, EXIT_OK, EXIT_USAGE, Tally, probability

BATCH = 32  # photos per call of score_batch
BLOCK = 128  # photos per Ray Data block (one task); benchmarks/ray_results.md compares 64
ROWS_PER_FILE = 1000  # rows per output part file at least (the last ones may hold fewer)
TASK_FAILED = ("scoring it failed twice, each time in a task of its own that raised or whose worker died "
               "(killed for memory?); Ray's log says why")
EPILOG = f"""\
exit status:
  {EXIT_OK}  every photo has its answer in --out (also when there was nothing left to do)
  {EXIT_NO_MODEL}  the model could not be loaded
  {EXIT_USAGE}  bad arguments, or a path that does not exist, a pattern that matches nothing,
     a URI that cannot be listed, a file list that cannot be read, an --out whose part files
     cannot be read
  {EXIT_INCOMPLETE}  the run went to the end, but some photos could not be read (their rows say why)
     or some entries could not be looked at (named on stderr)

output: part files in --out, columns {", ".join(ray_output.COLUMNS)}
(face_boxes: [x0, y0, x1, y1] of each face found, largest first; Parquet lists, JSON text in
CSV). A photo in which no face is found answers no_face, with no probability, unless
--fallback-guess. Paths and errors are escaped as the folder runner's. Start one run at a time
for an --out."""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="folders, photos, glob patterns ('photos/**/*.jpg') or URIs (s3://, gs://, file://)")
    parser.add_argument("--file-list", type=Path, action="append", default=[], metavar="FILE",
                        help="a file of paths or URIs, one a line ('-': standard input); repeatable")
    parser.add_argument("--out", required=True, help="output folder or URI (created; a rerun adds to it)")
    parser.add_argument("--format", choices=ray_output.FORMATS, default="parquet", help="default: parquet")
    parser.add_argument("--recursive", action="store_true", help="also look in subfolders")
    parser.add_argument("--retry-errors", action="store_true",
                        help="also score again the photos whose rows in --out are errors (a file that "
                             "could not be read then); their error rows are removed first")
    parser.add_argument("--model", type=Path, default=None,
                        help="model .json (or .tflite with its .json beside it); default: the shipped model")
    parser.add_argument("--threshold", type=probability, default=None, help="default: the model's")
    parser.add_argument("--fallback-guess", action="store_true",
                        help="a photo in which no face is found: answer from the model's guess on its "
                             "centre (a fallback crop) instead of no_face")
    parser.add_argument("--address", default=None,
                        help="Ray cluster to use ('auto', ray://HOST:10001); default: RAY_ADDRESS, "
                             "else a local Ray started for this run")
    parser.add_argument("--cpus", type=int, default=None, help="CPUs of the local Ray (default: all)")
    parser.add_argument("--workers", type=int, default=0,
                        help="photos scored at once, at most (default 0: one per CPU of the Ray)")
    args = parser.parse_args(argv)
    if not args.paths and not args.file_list:
        parser.error("give photos, folders, patterns or URIs, or --file-list")
    if args.workers < 0:
        parser.error("--workers must be 0 (one per CPU) or more")
    return args


def score(photos: list[str], args, workers: int) -> None:
    """Score ``photos`` on Ray Data and write their rows into ``args.out``: every photo gets a
    row, even one whose task fails twice alone (see the module docstring)."""
    import ray
    context = ray.data.DataContext.get_current()
    saved, context.max_errored_blocks = context.max_errored_blocks, -1  # a block that failed is left out
    try:
        score_pass(photos, args, workers, BLOCK, BATCH)
        lost = unwritten(photos, args)
        if lost:
            print(f"{len(lost)} photos were in tasks that failed twice: scoring them one per task",
                  file=sys.stderr)
            score_pass(lost, args, workers, 1, 1)
            lost = unwritten(lost, args)
        if lost:
            rows = [Row(photo, error=TASK_FAILED) for photo in lost]
            ray_output.write(ray.data.from_arrow(ray_output.table(rows, args.format)), args.out, args.format,
                             ROWS_PER_FILE)
    finally:
        context.max_errored_blocks = saved


def score_pass(photos: list[str], args, workers: int, block: int, batch: int) -> None:
    """One Ray Data run over ``photos``, ``block`` photos per task, each task tried twice at most."""
    import ray
    blocks = min(len(photos), max(workers, math.ceil(len(photos) / block)))  # no empty block
    workers = min(workers, blocks)
    dataset = ray.data.from_items([{"path": photo} for photo in photos], override_num_blocks=blocks)
    with warnings.catch_warnings():
        # max_retries has no named parameter in Ray 2.60 (Ray Data's default, -1, retries a task
        # whose worker died without end); the catch-all it goes through is deprecated for 2.64.
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
        dataset = dataset.map_batches(score_batch, fn_kwargs={"model": args.model, "threshold": args.threshold,
                                                              "fmt": args.format, "fallback_guess": args.fallback_guess},
                                      batch_size=batch, batch_format="numpy", num_cpus=1, max_retries=1,
                                      compute=ray.data.TaskPoolStrategy(size=workers))
    ray_output.write(dataset, args.out, args.format, ROWS_PER_FILE)


def unwritten(photos: list[str], args) -> list[str]:
    """The photos that have no row in ``args.out`` (a part file left unfinished is removed)."""
    done = ray_output.written(args.out, args.format, [])
    return [photo for photo in photos if escape(photo) not in done]


def to_score(photos: list[str], args) -> list[str]:
    """The photos not yet in the output (with --retry-errors, also those whose row is an error:
    those rows are removed); unfinished part files are removed (and named)."""
    removed: list[str] = []
    done = ray_output.written(args.out, args.format, removed)
    for path in removed:
        print(escape(f"{path}: removed, left unfinished by a stopped run; its photos are scored again"),
              file=sys.stderr)
    for path in ray_output.upgrade_parts(args.out, args.format):
        print(escape(f"{path}: written by an older release; rewritten with the columns added since "
                     "(empty), so that every part file has the same columns"), file=sys.stderr)
    if args.retry_errors:
        failed = {escape(photo) for photo in photos if escape(photo) in done and done[escape(photo)].error}
        dropped = ray_output.drop_error_rows(args.out, args.format, failed)
        print(f"{dropped} error rows removed from {args.out}: their photos are scored again", file=sys.stderr)
        done = {path: row for path, row in done.items() if path not in failed}
    return [photo for photo in photos if escape(photo) not in done]


def report(photos: list[str], args, tally: Tally) -> None:
    """Counts the output rows of ``photos`` into ``tally`` and names the unread ones on stderr."""
    rows = ray_output.written(args.out, args.format, [])
    for photo in photos:
        row = rows.get(escape(photo), Row(escape(photo), error="no row was written"))
        tally.add(row)
        if row.error:
            print(f"{row.path}: {row.error}", file=sys.stderr)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    try:
        found = find_photos(args.paths, args.file_list, args.recursive)
    except InputError as err:
        print(escape(f"error: {err}"), file=sys.stderr)
        return EXIT_USAGE
    for path, why in found.skipped:
        print(escape(f"{path}: skipped: {why}"), file=sys.stderr)
    try:
        GlassesClassifier(args.model, args.threshold)  # fail here, not in every worker
    except GlassesError as err:
        print(escape(f"error: {err}"), file=sys.stderr)
        return EXIT_NO_MODEL
    try:
        pending = to_score(found.photos, args)
    except OSError as err:
        print(escape(f"error: cannot read what {args.out} already holds ({err}); nothing was removed"),
              file=sys.stderr)
        return EXIT_USAGE
    print(f"{len(found.photos)} photos, {len(found.photos) - len(pending)} already in {args.out}, "
          f"{len(pending)} to score", file=sys.stderr)
    if pending:
        with ray_session(args.address, args.cpus) as cpus:
            score(pending, args, args.workers or cpus)
    tally = Tally(skipped=len(found.skipped))
    report(found.photos, args, tally)
    print(tally.line(time.monotonic() - started, None), file=sys.stderr)
    return EXIT_OK if tally.complete else EXIT_INCOMPLETE


if __name__ == "__main__":
    sys.exit(main())
