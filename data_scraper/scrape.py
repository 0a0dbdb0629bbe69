"""Collect photos from image search into a clean, deduplicated, training-ready folder.

    python3 data_scraper/scrape.py                       # every preset, on Bing, into data/scraped
    python3 data_scraper/scrape.py --preset snapchat --preset forehead --faces
    python3 data_scraper/scrape.py --query "cat eye glasses selfie" --label 1 \
        --against mtfl:../shared/data/mtfl

Results are deduplicated against the project's test sets by default (TEST_SETS: a test set that
cannot be found stops the run, exit 2, unless --no-test-sets), against the output folder, and
against any training data given with --against.

Every result is fetched politely (fetch.py), checked (checks.py) and saved under a generated
name with a manifest row (store.py); re-running resumes. See data_scraper/README.md. Needs the
full environment (.venv, requirements.txt): the light one has no icrawler nor ImageHash.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import inspect
import logging
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

EXIT_OK, EXIT_CONFIG, EXIT_NOTHING_KEPT, EXIT_INTERRUPTED = 0, 2, 3, 130
FULL_ENVIRONMENT = ("icrawler", "imagehash", "requests")  # the scraper's libraries, in requirements.txt only


def require_full_environment() -> None:
    """Run as a command in the light environment (.venv-deploy), say which one it needs, exit 2."""
    missing = [name for name in FULL_ENVIRONMENT if importlib.util.find_spec(name) is None]
    if missing:
        print(f"scrape.py: error: {', '.join(missing)} not installed: the scraper needs the full environment "
              f"(source .venv/bin/activate; `make venv` makes it), not the light one", file=sys.stderr)
        sys.exit(EXIT_CONFIG)


if __name__ == "__main__":
    require_full_environment()

from glasses_core.errors import ConfigError  # noqa: E402
from research_and_train_nn.data.datasets import IMAGE_SUFFIXES, load  # noqa: E402

from data_scraper.checks import Checker, HashIndex, Reject, hash_files  # noqa: E402
from data_scraper.config import ScrapeConfig  # noqa: E402
from data_scraper.engines import ENGINES, check_engine, crawl  # noqa: E402
from data_scraper.fetch import PoliteSession, RateLimiter, fetch_image  # noqa: E402
from data_scraper.presets import PRESETS, Job, parse_label, preset_jobs  # noqa: E402
from data_scraper.store import ScrapeFolder  # noqa: E402

log = logging.getLogger("scrape")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "data" / "scraped"
# Every test set the project evaluates on: a scraped photo that is one of them would leak the
# test into training. MTFL's testing.txt (AFLW) is the only one (../shared/data/README.md),
# found from this file's place, wherever the scraper is started from.
TEST_SETS = (f"mtfl-test:{ROOT.parent / 'shared' / 'data' / 'mtfl'}",)


@dataclass
class Tally:
    """What became of one query's results; thread-safe."""
    job: Job
    wanted: int
    counts: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    @property
    def rejects(self) -> Counter:
        return Counter({k: v for k, v in self.counts.items() if k not in ("results", "kept", "seen")})


class Collector:
    """Fetches, checks and saves one image URL; called from the download threads."""

    def __init__(self, folder: ScrapeFolder, index: HashIndex, config: ScrapeConfig):
        self.folder = folder
        self.index = index
        self.config = config
        self.checker = Checker(config, index)

    def handle(self, tally: Tally, url: str, session: PoliteSession) -> bool:
        """True when the image was kept. Never raises: one bad result must not end the run."""
        tally.add("results")
        if not self.folder.claim(url):
            tally.add("seen")
            return False
        engine = self.config.engine
        try:
            data = fetch_image(session, url, self.config)
            name = self.folder.save(self.checker.inspect(data, url), tally.job, engine, url, self.index)
        except Reject as err:
            reason, detail = err.reason, err.detail
        except Exception as err:  # a library failing on one odd file: log it, count it, go on
            log.exception("%s: unexpected error", url)
            reason, detail = "error", repr(err)
        else:
            tally.add("kept")
            log.debug("kept %s <- %s", name, url)
            return True
        log.debug("rejected (%s: %s) %s", reason, detail, url)
        self.folder.reject(url, reason, detail, tally.job, engine)
        tally.add(reason)
        return False


def files_of_test_sets(specs: list[str], chosen: bool) -> list[Path]:
    """Image files of the test sets. One that cannot be read is an error, the default one too
    (``chosen``: named with --test-set): a guard that cannot see the test set must stop the run,
    not let its photos through; --no-test-sets is the way to go without one."""
    paths = []
    for spec in specs:
        try:
            paths += [Path(record.path) for record in load(spec)]
        except ConfigError as err:
            if chosen:
                raise ConfigError(f"--test-set {spec!r}: {err}") from None
            raise ConfigError(f"the default test set {spec!r} is not here ({err}), so results cannot be "
                              "checked against it: name where it is with --test-set KIND:PATH, or give "
                              "--no-test-sets (only for a folder never scored on it)") from None
    return paths


def reference_files(specs: list[str]) -> list[Path]:
    """Image files of the training data to deduplicate against: folders or KIND:PATH specs."""
    paths = []
    for spec in specs:
        if Path(spec).is_dir():
            paths += [p for p in sorted(Path(spec).rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES]
        else:
            try:
                paths += [Path(record.path) for record in load(spec)]
            except ConfigError as err:
                raise ConfigError(f"--against {spec!r} is not a folder, and as a dataset: {err}") from None
    return paths


def build_index(folder: ScrapeFolder, references: list[Path], config: ScrapeConfig) -> HashIndex:
    """Every picture the output folder has had (its manifest, files added by hand) and the
    reference images."""
    index = HashIndex(config.dup_distance)
    for row in folder.rows:
        try:
            index.add(int(row["phash"], 16), row["file"], row["sha256"])
        except ValueError:
            raise ConfigError(f"{folder.manifest}: {row['file']}: phash {row['phash']!r} is not hex") from None
    paths = folder.unlisted_files() + references
    for path, phash in hash_files(paths, folder.root / "hash_cache.json").items():
        index.add(phash, str(path))
    return index


def scrape(jobs: list[Job], out: Path, config: ScrapeConfig, against: list[str] = (),
           test_sets: list[str] = TEST_SETS, chosen_test_sets: bool = False) -> list[Tally]:
    """Run each query until ``config.max_per_query`` images (earlier runs included) are kept;
    a picture in ``against`` or ``test_sets`` is a duplicate."""
    check_engine(config)  # before hashing the reference data, which can take minutes
    references = reference_files(list(against)) + files_of_test_sets(list(test_sets), chosen_test_sets)
    folder = ScrapeFolder(out)
    index = build_index(folder, references, config)
    limiter = RateLimiter(config.min_interval)  # shared by every query's pages and images
    collector = Collector(folder, index, config)
    tallies = []
    for job in jobs:
        tally = Tally(job, config.max_per_query - folder.accepted(job, config.engine))
        tallies.append(tally)
        if tally.wanted <= 0:
            continue
        log.info("query %r (label %d): want %d more", job.query, job.label, tally.wanted)
        crawl(job.query, partial(collector.handle, tally), tally.wanted, config, limiter)
    return tallies


def report(tallies: list[Tally], out: Path, seconds: float) -> str:
    """The end-of-run summary: per query, then the reject reasons, then the totals."""
    lines = [f"{'query':44} {'label':>5} {'results':>7} {'kept':>5} {'rejected':>8} {'seen':>5}"]
    for t in tallies:
        c = t.counts
        lines.append(f"{t.job.query[:44]:44} {t.job.label:>5} {c['results']:>7} {c['kept']:>5} "
                     f"{sum(t.rejects.values()):>8} {c['seen']:>5}{_note(t)}")
    rejects = sum((t.rejects for t in tallies), Counter())
    lines.append("rejected: " + (", ".join(f"{k} {v}" for k, v in sorted(rejects.items())) or "none"))
    kept = Counter()
    for t in tallies:
        kept[t.job.folder] += t.counts["kept"]
    per_folder = ", ".join(f"{k} {v}" for k, v in sorted(kept.items()))
    lines.append(f"kept {sum(kept.values())} new images ({per_folder}) in {out} in {seconds:.0f} s; "
                 "details in manifest.csv and rejects.csv")
    return "\n".join(lines)


def _note(tally: Tally) -> str:
    if tally.wanted <= 0:
        return "  (already complete)"
    if tally.counts["results"] == 0:
        return "  (no results: offline, blocked, or the engine changed its pages?)"
    return ""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Collect photos from image search into a clean training folder "
                    "(with_glasses/ + without_glasses/ + manifest.csv). Re-running resumes.",
        epilog=f"exit status: {EXIT_OK} images were kept, or every query was already complete; "
               f"{EXIT_CONFIG} bad arguments or settings, a test set that cannot be found (without "
               f"--no-test-sets), or the light environment (the scraper needs the full one, .venv); "
               f"{EXIT_NOTHING_KEPT} nothing was kept although "
               f"images were wanted (offline, blocked, or every result rejected: see rejects.csv); "
               f"{EXIT_INTERRUPTED} interrupted")
    parser.add_argument("--preset", action="append", default=[],
                        help=f"query preset (repeatable): {', '.join(PRESETS)}, or all; "
                             "the default when no --query is given is all")
    parser.add_argument("--query", action="append", default=[],
                        help="your own query (repeatable; a URL file for --engine urls); needs --label")
    parser.add_argument("--label", help="label of the --query results: 1/with_glasses or 0/without_glasses")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: data/scraped)")
    parser.add_argument("--against", action="append", default=[],
                        help="training data to deduplicate against: a folder or KIND:PATH, e.g. "
                             "mtfl:../shared/data/mtfl (repeatable)")
    parser.add_argument("--test-set", action="append", default=[], metavar="KIND:PATH",
                        help="test set to deduplicate against (repeatable), instead of the default: "
                             + ", ".join(TEST_SETS))
    parser.add_argument("--no-test-sets", "--no-test-set", action="store_true",
                        help="do not deduplicate against any test set (only for data never scored on them); "
                             "without it, a test set that cannot be found is an error (exit 2)")
    parser.add_argument("--config", type=Path, help="JSON file of ScrapeConfig settings (flags win)")
    parser.add_argument("--list-presets", action="store_true", help="print the presets and engines, and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every kept and rejected URL")
    settings = parser.add_argument_group("settings (override data_scraper/config.py and --config)")
    helps = _setting_help()
    for f in dataclasses.fields(ScrapeConfig):
        flag = "--" + f.name.replace("_", "-")
        text = f"{helps.get(f.name, '')} (default: {f.default!r})"
        if f.type == "bool":
            settings.add_argument(flag, action="store_const", const=True, default=None, help=text)
        else:
            kind = {"int": int, "float": float, "str": str}[f.type]
            choices = sorted(ENGINES) if f.name == "engine" else None
            settings.add_argument(flag, type=kind, choices=choices, default=None, metavar=f.name.upper(),
                                  help=text)
    return parser.parse_args(argv)


def _setting_help() -> dict[str, str]:
    """Each setting's one-line comment in config.py, so that it is written in one place only."""
    helps = {}
    for line in inspect.getsource(ScrapeConfig).splitlines():
        name, colon, rest = line.strip().partition(":")
        if colon and "  # " in rest and name.isidentifier():
            helps[name] = rest.split("  # ", 1)[1].replace("%", "%%")
    return helps


def build(args) -> tuple[ScrapeConfig, list[Job]]:
    config = ScrapeConfig.load(args.config) if args.config else ScrapeConfig()
    flags = {f.name: getattr(args, f.name) for f in dataclasses.fields(ScrapeConfig)}
    config = config.with_overrides(**{k: v for k, v in flags.items() if v is not None})
    if args.query and args.label is None:
        raise ConfigError("--query needs --label (1/with_glasses or 0/without_glasses)")
    if args.label is not None and not args.query:
        raise ConfigError("--label applies to --query results; presets carry their own labels")
    jobs = [Job(query, parse_label(args.label), "custom") for query in args.query]
    if config.engine == "urls" and (args.preset or not jobs):
        raise ConfigError("engine urls reads URL files given as --query FILE --label L, not presets")
    return config, preset_jobs(args.preset or ([] if jobs else ["all"])) + jobs


def which_test_sets(args) -> list[str]:
    if args.no_test_sets and args.test_set:
        raise ConfigError("--test-set and --no-test-sets contradict each other")
    return [] if args.no_test_sets else args.test_set or list(TEST_SETS)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.WARNING)
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)  # -v: every URL, kept or not
    if args.list_presets:
        for name, preset in PRESETS.items():
            print(f"{name:20} label {preset.label}  {preset.why}: {'; '.join(preset.queries)}")
        for name, spec in ENGINES.items():
            print(f"--engine {name:11} {spec.about}")
        return 0
    started = time.monotonic()
    try:
        config, jobs = build(args)
        tallies = scrape(jobs, args.out, config, args.against, which_test_sets(args),
                         chosen_test_sets=bool(args.test_set))
    except ConfigError as err:
        print(f"scrape.py: error: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        print("interrupted: every kept file is complete and listed; run again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(report(tallies, args.out, time.monotonic() - started))
    if any(t.wanted > 0 for t in tallies) and not any(t.counts["kept"] for t in tallies):
        print(f"scrape.py: nothing was kept (see {args.out / 'rejects.csv'})", file=sys.stderr)
        return EXIT_NOTHING_KEPT
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
