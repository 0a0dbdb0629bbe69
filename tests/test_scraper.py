"""The scraper against a local image-search stand-in: no internet, 127.0.0.1 only.

The server serves a results page per query and images that exercise every check: good faces
(LFW), a corrupt file, a near-duplicate, one already in the "training data", a small one
(CelebA), two oversized ones, one that stalls, one that trickles, one that 404s, one that fails once, one with
no face, and one whose URL tries to escape the output folder.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from PIL import Image

from glasses_core.errors import ConfigError
from research_and_train_nn.data.datasets import load, load_folder, scraped_manifest

from data_scraper import engines, scrape
from data_scraper.checks import Candidate, HashIndex, Reject
from data_scraper.config import ScrapeConfig
from data_scraper.fetch import RateLimiter
from data_scraper.presets import PRESETS, Job, parse_label, preset_jobs
from data_scraper.store import MANIFEST_FIELDS, REJECT_FIELDS, ScrapeFolder

MAX_BYTES = 150_000  # the test's cap; the oversized images are PNGs well over it
STALL_SECONDS = 5  # the stalling and trickling images give up after this, whatever happens
NAME = re.compile(r"^[0-9a-f]{20}\.(jpg|png)$")


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def lfw(data_dir) -> list[bytes]:
    """Ten LFW photos: one clear face each, 250 x 250."""
    return [p.read_bytes() for p in sorted((data_dir / "mtfl" / "lfw_5590").glob("*.jpg"))[:10]]


def _images(lfw: list[bytes], small: bytes) -> dict[str, bytes]:
    first = Image.open(io.BytesIO(lfw[0]))
    big = _png(Image.open(io.BytesIO(lfw[8])).resize((900, 900), Image.BICUBIC))
    ramp = np.linspace(0, 255, 200 * 200 * 3).reshape(200, 200, 3).astype(np.uint8)
    assert len(big) > MAX_BYTES
    return {
        "/img/good1.jpg": lfw[0], "/img/good2.jpg": lfw[1], "/img/good3.jpg": lfw[2],
        "/photo?id=4": lfw[3],  # no extension in the URL
        "/img/..%2F..%2Fescape.jpg": lfw[4],  # a URL-supplied name would leave the folder
        "/img/flaky.jpg": lfw[5],  # 503 on the first request
        "/img/known.jpg": lfw[6],  # also in the "training data" folder
        "/img/resized-copy.jpg": _jpeg(first.resize((220, 220)), quality=70),  # same picture as good1
        "/img/corrupt.jpg": lfw[2][: len(lfw[2]) // 2],
        "/img/small.jpg": small,  # 89 x 109
        "/img/big-declared.png": big,
        "/img/big-streamed.png": big,  # no Content-Length: the cap must hold while reading
        "/img/ramp.png": _png(Image.fromarray(ramp)),  # no face in it
        "/img/negative.jpg": lfw[9],  # for the label-0 query
        "/mirror/good2.jpg": lfw[1],
    }


GLASSES_PAGE = [
    "/img/good1.jpg", "/img/good2.jpg", "/img/good3.jpg", "/photo?id=4", "/img/..%2F..%2Fescape.jpg",
    "/img/flaky.jpg", "/img/known.jpg", "/img/corrupt.jpg", "/img/small.jpg",
    "/img/big-declared.png", "/img/big-streamed.png", "/img/stall.jpg", "/img/trickle.jpg", "/img/missing.jpg",
    "/img/ramp.png", "/img/good1.jpg",  # the same URL twice: fetched once
]
EXPECTED_REJECTS = {"duplicate": 1, "undecodable": 1, "too_small": 1, "too_large": 2, "timeout": 2,
                    "http_error": 1, "no_face": 1}


def _page(paths: list[str]) -> bytes:
    items = "".join(f'<a href="/view/{i}"><img src="{p}" alt=""></a>\n' for i, p in enumerate(paths))
    extra = '<img src="data:image/gif;base64,R0lGOD"><a href="/about.html">about</a>'
    return f"<html><body>{items}{extra}</body></html>".encode()


class SearchStandIn(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # close-delimited bodies, so a body may omit Content-Length

    def do_GET(self):  # noqa: N802 (http.server's naming)
        server = self.server
        with server.lock:
            server.requests.append(self.path)
            calls = server.requests.count(self.path)
        if self.path.startswith("/search?"):
            query = parse_qs(urlsplit(self.path).query)["q"][0]
            return self._send(200, _page(server.pages.get(query, [])), "text/html")
        if self.path in ("/img/stall.jpg", "/img/trickle.jpg"):
            return self._stall(trickle=self.path == "/img/trickle.jpg")
        if self.path == "/img/flaky.jpg" and calls == 1:
            return self._send(503, b"busy", "text/plain", extra={"Retry-After": "0"})
        if self.path not in server.images:
            return self._send(404, b"not found", "text/plain")
        body = server.images[self.path]
        self._send(200, body, "image/jpeg", declare_length=self.path != "/img/big-streamed.png")

    def _send(self, status, body, kind, declare_length=True, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if declare_length:
            self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _stall(self, trickle: bool):
        """Headers and 100 bytes, then nothing, or one byte every 0.2 s (never a read timeout)."""
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", "50000")
        self.end_headers()
        self.wfile.write(b"\xff\xd8\xff\xe0" + b"\0" * 100)
        self.wfile.flush()
        until = time.monotonic() + STALL_SECONDS
        while trickle and time.monotonic() < until and not self.server.stop.wait(0.2):
            try:
                self.wfile.write(b"\0")
                self.wfile.flush()
            except OSError:  # the scraper gave up and closed the connection
                return
        self.server.stop.wait(max(0.0, until - time.monotonic()))

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(lfw, data_dir):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), SearchStandIn)
    httpd.daemon_threads = True
    httpd.lock, httpd.stop, httpd.requests = threading.Lock(), threading.Event(), []
    httpd.images = _images(lfw, (data_dir / "celeba" / "img_align_celeba" / "000001.jpg").read_bytes())
    httpd.pages = {"funny glasses": GLASSES_PAGE,
                   # the next run's page: good2 again, under its own URL and another, and a smaller
                   # copy of good1: only the first is new
                   "glasses on forehead": ["/img/negative.jpg", "/img/good2.jpg", "/mirror/good2.jpg",
                                           "/img/resized-copy.jpg"]}
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield httpd
    httpd.stop.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _argv(server, out: Path, against: Path, *queries) -> list[str]:
    host, port = server.server_address
    return ["--engine", "page", "--page-url", f"http://{host}:{port}/search?q={{query}}", "--out", str(out),
            "--against", str(against), "--faces", "--max-bytes", str(MAX_BYTES), "--timeout", "1",
            "--retries", "1", "--backoff", "0.05", "--deadline", "1.5", "--min-interval", "0", "--threads", "2",
            "--no-test-sets", *queries]  # the default test sets: test_test_sets_are_duplicates_by_default


def _files(root: Path) -> dict[str, tuple]:
    """Every image file: name -> (inode, modification time, content)."""
    return {p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
            for folder in ("with_glasses", "without_glasses") for p in (root / folder).iterdir()}


def _rejects(root: Path) -> Counter:
    with open(root / "rejects.csv", newline="") as handle:
        return Counter(row["reason"] for row in csv.DictReader(handle))


def test_scrape_checks_every_result_resumes_and_never_overwrites(server, tmp_path, capsys):
    out, against = tmp_path / "scraped", tmp_path / "training_data"
    against.mkdir()
    (against / "someone.jpg").write_bytes(server.images["/img/known.jpg"])
    started = time.monotonic()

    assert scrape.main(_argv(server, out, against, "--query", "funny glasses", "--label", "1")) == 0
    summary = capsys.readouterr().out
    assert time.monotonic() - started < 30

    kept = sorted(p.name for p in (out / "with_glasses").iterdir())
    assert len(kept) == 6 and all(NAME.match(name) for name in kept), kept
    assert not list((out / "without_glasses").iterdir())
    assert not [p for p in tmp_path.rglob("*escape*")]
    assert _rejects(out) == Counter(EXPECTED_REJECTS)
    for reason, count in EXPECTED_REJECTS.items():
        assert f"{reason} {count}" in summary
    assert "kept 6 new images (with_glasses 6)" in summary

    rows = scraped_manifest(out)
    host = "http://%s:%d" % server.server_address
    kept_urls = {host + p for p in ("/img/good1.jpg", "/img/good2.jpg", "/img/good3.jpg", "/photo?id=4",
                                    "/img/..%2F..%2Fescape.jpg", "/img/flaky.jpg")}
    assert {row["source_url"] for row in rows} == kept_urls
    for row in rows:
        data = (out / row["file"]).read_bytes()
        assert data == server.images[row["source_url"][len(host):]]
        assert (row["label"], row["query"], row["engine"]) == ("1", "funny glasses", "page")
        assert row["faces"] == "1"
        assert int(row["bytes"]) == len(data) and row["width"] == row["height"] == "250"
        assert hashlib.sha256(data).hexdigest() == row["sha256"] and row["time"]
    assert server.requests.count("/img/flaky.jpg") == 2  # retried after the 503
    assert server.requests.count("/img/missing.jpg") == 1  # a 404 is not retried
    assert server.requests.count("/img/stall.jpg") == 2  # a timeout is
    assert server.requests.count("/img/trickle.jpg") == 2  # stopped by the deadline, then retried
    with open(out / "rejects.csv", newline="") as handle:
        details = {row["source_url"][len(host):]: row["detail"] for row in csv.DictReader(handle)}
    assert "still downloading after 1.5 s" in details["/img/trickle.jpg"]
    assert details["/img/big-streamed.png"] == f"over {MAX_BYTES} bytes"

    # Run again with one more query: nothing is fetched twice but the stall (a timeout may
    # pass), nothing is overwritten, and the new query's results go to their label's folder.
    before, requests_before = _files(out), len(server.requests)
    # the same page again has nothing new to keep: exit 3, "nothing was kept"
    assert scrape.main(_argv(server, out, against, "--query", "funny glasses", "--label", "1")) == 3
    assert scrape.main(_argv(server, out, against, "--query", "glasses on forehead", "--label", "0")) == 0
    capsys.readouterr()
    after = _files(out)
    assert {k: v for k, v in after.items() if k in before} == before
    new = sorted(set(after) - set(before))
    assert len(new) == 1 and new[0].startswith("without_glasses/"), new
    fetched = [p for p in server.requests[requests_before:] if not p.startswith("/search")]
    assert sorted(fetched) == ["/img/negative.jpg", "/img/resized-copy.jpg", "/img/stall.jpg", "/img/stall.jpg",
                               "/img/trickle.jpg", "/img/trickle.jpg", "/mirror/good2.jpg"]
    assert _rejects(out)["duplicate"] == 3  # + good2 from another URL, and good1 resized

    # The training loaders read the folder.
    records = load_folder(out)
    assert Counter(r.label for r in records) == {1: 6, 0: 1}
    assert {r.source for r in records} == {"scraped"} and all(r.identity is None for r in records)
    assert {Path(r.path).name for r in records} == {Path(row["file"]).name for row in scraped_manifest(out)}
    assert len(load(f"folder:{out}")) == 7


def test_url_list_engine(server, tmp_path, capsys):
    host = "http://%s:%d" % server.server_address
    url_file = tmp_path / "urls.txt"
    url_file.write_text(f"# two URLs\n{host}/img/good3.jpg\n\n{host}/img/nowhere.jpg\n")
    out = tmp_path / "out"
    argv = ["--engine", "urls", "--query", str(url_file), "--label", "without_glasses", "--out", str(out),
            "--min-interval", "0", "--retries", "0", "--no-test-sets"]
    assert scrape.main(argv) == 0
    assert "kept 1 new images (without_glasses 1)" in capsys.readouterr().out
    assert [row["source_url"] for row in scraped_manifest(out)] == [f"{host}/img/good3.jpg"]
    assert _rejects(out) == {"http_error": 1}


def test_test_sets_are_duplicates_by_default(server, tmp_path, data_dir, capsys):
    """An AFLW photo from MTFL's testing.txt is rejected without any --against: training on it
    would leak the test set. Its LFW neighbour (training pool) is kept."""
    test_photo = data_dir / "mtfl" / "AFLW" / "0001-image20056.jpg"
    server.images["/test-set/aflw.jpg"] = test_photo.read_bytes()
    server.pages["aflw photo"] = ["/test-set/aflw.jpg", "/img/good3.jpg"]
    host = "http://%s:%d" % server.server_address
    out = tmp_path / "out"
    argv = ["--engine", "page", "--page-url", f"{host}/search?q={{query}}", "--out", str(out), "--min-side", "64",
            "--min-interval", "0", "--retries", "0", "--query", "aflw photo", "--label", "1"]
    assert scrape.main(argv) == 0
    capsys.readouterr()
    assert [row["source_url"] for row in scraped_manifest(out)] == [f"{host}/img/good3.jpg"]
    with open(out / "rejects.csv", newline="") as handle:
        (reject,) = list(csv.DictReader(handle))
    assert reject["source_url"] == f"{host}/test-set/aflw.jpg" and reject["reason"] == "duplicate"
    assert reject["detail"] == f"same picture as {test_photo}"


def test_a_missing_test_set_named_on_the_command_line_exits_2(tmp_path, capsys):
    argv = ["--engine", "urls", "--query", str(tmp_path / "urls.txt"), "--label", "1", "--out", str(tmp_path / "out"),
            "--test-set", f"mtfl-test:{tmp_path / 'nowhere'}"]
    (tmp_path / "urls.txt").write_text("")
    assert scrape.main(argv) == 2
    assert "--test-set" in capsys.readouterr().err


def test_nothing_kept_exits_3_and_still_writes_both_csv_files(server, tmp_path, capsys):
    host = "http://%s:%d" % server.server_address
    out = tmp_path / "out"
    argv = ["--engine", "page", "--page-url", f"{host}/search?q={{query}}", "--out", str(out), "--no-test-sets",
            "--min-interval", "0", "--query", "no such thing", "--label", "0"]
    assert scrape.main(argv) == 3
    captured = capsys.readouterr()
    assert "kept 0 new images" in captured.out and "nothing was kept" in captured.err
    assert (out / "manifest.csv").read_text().strip() == ",".join(MANIFEST_FIELDS)
    assert (out / "rejects.csv").read_text().strip() == ",".join(REJECT_FIELDS)


def test_image_links_keeps_images_only_absolute_and_once():
    html = ('<img src="a.jpg"><img data-src="/b.png"><img src="data:image/png;base64,xx">'
            '<a href="c.JPEG?x=1">c</a><a href="/page.html">p</a><img src="javascript:alert(1)">'
            '<img src="https://cdn.example/a.jpg"><img src="a.jpg">')
    assert engines.image_links(html, "http://h/s/results") == [
        "http://h/s/a.jpg", "http://h/b.png", "http://h/s/c.JPEG?x=1", "https://cdn.example/a.jpg"]


def test_real_engines_are_wired_to_icrawler():
    from icrawler.builtin import BaiduParser, BingFeeder, BingParser, FlickrParser, GoogleParser
    config = ScrapeConfig()
    assert engines.engine("bing").feeder is BingFeeder and engines.engine("bing").parser is BingParser
    assert engines.engine("baidu").parser is BaiduParser and engines.engine("google").parser is GoogleParser
    assert engines.engine("flickr").parser is FlickrParser
    assert engines.engine("bing").feed_args("funny glasses", 5000, config)["max_num"] == engines.SEARCH_LIMIT
    with pytest.raises(ConfigError, match="API key"):
        engines.check_engine(config.with_overrides(engine="flickr"))
    engines.check_engine(config.with_overrides(engine="flickr", flickr_key="k"))
    with pytest.raises(ConfigError, match="unknown engine"):
        engines.engine("altavista")
    with pytest.raises(ConfigError, match="page-url"):
        engines.check_engine(config.with_overrides(engine="page"))


def test_presets_labels_and_settings():
    assert all(p.label in (0, 1) and p.queries for p in PRESETS.values())
    assert {job.label for job in preset_jobs(["forehead", "in_hand"])} == {0}
    assert len(preset_jobs(["all"])) == sum(len(p.queries) for p in PRESETS.values())
    assert parse_label("with_glasses") == 1 and parse_label("0") == 0
    for bad in (lambda: preset_jobs(["nope"]), lambda: parse_label("maybe"),
                lambda: ScrapeConfig(timeout=0), lambda: ScrapeConfig().with_overrides(retries="2"),
                lambda: ScrapeConfig().with_overrides(colour="red")):
        with pytest.raises(ConfigError):
            bad()


def test_command_line_errors_exit_2(tmp_path, capsys):
    out = str(tmp_path / "out")
    assert scrape.main(["--query", "x", "--out", out]) == 2
    assert scrape.main(["--engine", "page", "--out", out]) == 2
    assert scrape.main(["--preset", "nope", "--out", out]) == 2
    (tmp_path / "bad.json").write_text('{"max_per_query": 10, "speed": 3}')
    assert scrape.main(["--config", str(tmp_path / "bad.json"), "--out", out]) == 2
    assert "speed" in capsys.readouterr().err


def test_saving_never_overwrites(tmp_path, lfw):
    folder, index = ScrapeFolder(tmp_path), HashIndex(4)
    job = Job("q", 1, "custom")
    data = lfw[0]
    name = folder.save(Candidate(data, "ab" * 32, 1, 250, 250, "jpg", None), job, "page", "http://h/1", index)
    with pytest.raises(Reject, match="already exists"):  # same name, different picture hash
        folder.save(Candidate(b"other", "ab" * 32, 2 ** 63, 9, 9, "jpg", None), job, "page", "http://h/2",
                    HashIndex(4))
    assert (tmp_path / name).read_bytes() == data
    assert not [p for p in tmp_path.rglob("*.part")]


def test_rate_limit_spaces_requests_to_one_host():
    limiter = RateLimiter(0.05)
    started = time.monotonic()
    for _ in range(3):
        limiter.wait("http://a.example/x")
    limiter.wait("http://b.example/x")
    assert 0.1 <= time.monotonic() - started < 0.5


# --- what a new user trips on (issue 29) ---------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def test_in_the_light_environment_it_says_which_one_it_needs():
    """The README activates the light environment; scrape.py died there with a traceback
    (ModuleNotFoundError: imagehash). Now it says which environment it needs, exit 2."""
    import subprocess
    light = ROOT / ".venv-deploy" / "bin" / "python"
    if not light.is_file():
        pytest.fail(f"{light} missing: `make test` creates the light environment")
    done = subprocess.run([str(light), str(ROOT / "data_scraper" / "scrape.py"), "--list-presets"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "the scraper needs the full environment (source .venv/bin/activate" in done.stderr
    assert done.stdout == ""


def test_a_default_test_set_that_cannot_be_found_stops_the_run(server, tmp_path, monkeypatch, capsys):
    """The guard switched itself off: with the default test set not where it was looked for (a
    clone whose ../shared/data is elsewhere), it logged a warning, kept a test photo and exited 0.
    Now it stops before fetching anything, exit 2, unless --no-test-sets."""
    monkeypatch.setattr(scrape, "TEST_SETS", (f"mtfl-test:{tmp_path / 'shared' / 'data' / 'mtfl'}",))
    server.images["/test-set/aflw.jpg"] = (ROOT.parent / "shared" / "data" / "mtfl" / "AFLW" /
                                           "0001-image20056.jpg").read_bytes()
    server.pages["guarded"] = ["/test-set/aflw.jpg"]
    host = "http://%s:%d" % server.server_address
    argv = ["--engine", "page", "--page-url", f"{host}/search?q={{query}}", "--out", str(tmp_path / "out"),
            "--min-interval", "0", "--retries", "0", "--query", "guarded", "--label", "1"]
    before = len(server.requests)
    assert scrape.main(argv) == 2
    err = capsys.readouterr().err
    assert f"the default test set 'mtfl-test:{tmp_path / 'shared' / 'data' / 'mtfl'}' is not here" in err
    assert "--test-set KIND:PATH" in err and "--no-test-sets" in err
    assert len(server.requests) == before  # nothing fetched
    assert scrape.main([*argv, "--no-test-set"]) == 0  # told to go without: it does
    capsys.readouterr()


def test_the_documented_offline_run_works_from_another_folder(tmp_path, data_dir):
    """docs/training.md's offline commands, as written: Python's web server on a gallery folder,
    the page engine on it, started from another folder than the checkout. The test photo in the
    gallery is still caught by the default test set, and no progress bar goes into the log."""
    import os
    import shlex
    import subprocess
    import sys

    import documentation
    block = re.search(r"<!-- offline scraping -->\n```sh\n(.*?)```", documentation.text(), re.S)
    serve, run = [shlex.split(line) for line in block.group(1).splitlines() if line.strip()]
    gallery = tmp_path / "my_gallery"
    (gallery / "sunglasses").mkdir(parents=True)
    for photo in sorted((data_dir / "mtfl" / "lfw_5590").glob("*.jpg"))[:2]:
        (gallery / "sunglasses" / photo.name).write_bytes(photo.read_bytes())
    test_photo = data_dir / "mtfl" / "AFLW" / "0001-image20056.jpg"
    (gallery / "sunglasses" / "from_the_test_set.jpg").write_bytes(test_photo.read_bytes())
    assert serve[:3] == ["python3", "-m", "http.server"] and serve[-1] == "&"
    serve = [sys.executable, "-u", *[{"8000": "0", "my_gallery/": str(gallery)}.get(a, a) for a in serve[1:-1]]]
    web = subprocess.Popen(serve, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = re.search(r"port (\d+)", web.stdout.readline()).group(1)
        assert run[:2] == ["python3", "data_scraper/scrape.py"]
        command = [sys.executable, str(ROOT / run[1]), *[a.replace(":8000/", f":{port}/") for a in run[2:]],
                   "--out", str(tmp_path / "scraped")]
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        done = subprocess.run(command, cwd=elsewhere, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        web.terminate()
        web.wait(10)
    assert done.returncode == 0, done.stderr
    assert "kept 2 new images (with_glasses 2)" in done.stdout
    assert _rejects(tmp_path / "scraped") == {"duplicate": 1}
    assert "hashing reference images" not in done.stderr  # stderr is a pipe here, not a terminal


def test_a_label_folder_that_is_a_link_is_refused_and_nothing_outside_is_removed(tmp_path, capsys):
    """Issue 30: a label folder linked out of the output folder had its .part files removed and
    the scraped images written there; now the run stops with exit 2 before touching it."""
    from data_scraper.presets import LABEL_FOLDERS
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / ".keep.jpg.1.part").write_bytes(b"someone else's file")
    out = tmp_path / "out"
    out.mkdir()
    (out / next(iter(LABEL_FOLDERS.values()))).symlink_to(outside, target_is_directory=True)
    with pytest.raises(ConfigError, match="symbolic link"):
        ScrapeFolder(out)
    assert (outside / ".keep.jpg.1.part").read_bytes() == b"someone else's file"
    (tmp_path / "urls.txt").write_text("http://127.0.0.1:9/none.jpg\n")
    assert scrape.main(["--engine", "urls", "--query", str(tmp_path / "urls.txt"), "--label", "with_glasses",
                        "--out", str(out), "--no-test-sets"]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert (outside / ".keep.jpg.1.part").exists()


def test_an_image_is_never_written_through_a_link_left_where_its_partial_file_goes(tmp_path, lfw):
    """Issue 30: the partial file's name, taken by a link to a file outside, was written through."""
    import os

    from data_scraper import store
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep me")
    target = tmp_path / "out.jpg"
    (tmp_path / f".out.jpg.{os.getpid()}.part").symlink_to(victim)
    store._write_new(target, lfw[0])
    assert victim.read_bytes() == b"keep me" and target.read_bytes() == lfw[0]
