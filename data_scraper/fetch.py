"""Polite HTTP: a per-host rate limit, timeouts, retries with backoff and a cap on size."""
from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import requests
from icrawler.utils import ProxyPool, Session
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from data_scraper.checks import Reject
from data_scraper.config import ScrapeConfig

MAX_URL_LENGTH = 2048
CHUNK = 64 * 1024
RETRY_STATUSES = {429, 500, 502, 503, 504}


class FetchError(Reject):
    """A download failed; ``reason`` is one of the summary's reject reasons."""

    def __init__(self, url: str, reason: str, detail: str):
        super().__init__(url, reason, detail)
        self.url = url


class RateLimiter:
    """At most one request per ``min_interval`` seconds to each host, across threads."""

    def __init__(self, min_interval: float):
        self.min_interval = min_interval
        self._next = {}
        self._lock = threading.Lock()

    def wait(self, url: str) -> None:
        host = urlsplit(url).netloc
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next.get(host, now))
            self._next[host] = start + self.min_interval
        time.sleep(start - now)


class PoliteSession(Session):
    """icrawler's session (so its parsers and proxies work) with our rate limit and a
    default timeout: icrawler's Flickr parser, for one, calls ``get`` without any."""

    def __init__(self, limiter: RateLimiter, timeout: float, proxy_pool: ProxyPool | None = None):
        super().__init__(proxy_pool or ProxyPool())
        self.limiter = limiter
        self.timeout = timeout

    def get(self, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        self.limiter.wait(url)
        return super().get(url, **kwargs)


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > MAX_URL_LENGTH:
        raise FetchError(url[:200], "bad_url", "not an http(s) URL of reasonable length")


def fetch_image(session: requests.Session, url: str, config: ScrapeConfig) -> bytes:
    """The body of ``url``, retried with exponential backoff when the failure may pass.

    Raises FetchError: "http_error" (4xx, not retried), "unavailable" (429/5xx every time),
    "timeout", "network", "too_large" (over ``max_bytes``, declared or received) or "bad_url".
    """
    check_url(url)
    attempt = 0
    while True:
        try:
            return _fetch_once(session, url, config)
        except _Retry as retry:
            if attempt == config.retries:
                raise retry.error from retry.__cause__
            time.sleep(min(config.max_backoff, max(retry.wait, config.backoff * 2 ** attempt)))
        attempt += 1


class _Retry(Exception):
    def __init__(self, error: FetchError, wait: float = 0.0):
        super().__init__(str(error))
        self.error = error
        self.wait = wait


def _fetch_once(session: requests.Session, url: str, config: ScrapeConfig) -> bytes:
    started = time.monotonic()
    try:
        with session.get(url, timeout=config.timeout, stream=True) as response:
            _check_status(response, url)
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > config.max_bytes:
                raise FetchError(url, "too_large", f"declares {declared} bytes, limit {config.max_bytes}")
            return _read_capped(response, url, config, started)
    except (requests.Timeout, Urllib3Timeout) as err:
        raise _Retry(FetchError(url, "timeout", str(err))) from err
    except (requests.RequestException, Urllib3Error) as err:
        raise _Retry(FetchError(url, "network", str(err))) from err


def _check_status(response: requests.Response, url: str) -> None:
    if response.status_code == 200:
        return
    error = FetchError(url, "unavailable" if response.status_code in RETRY_STATUSES else "http_error",
                       f"HTTP {response.status_code}")
    if error.reason == "unavailable":
        after = response.headers.get("Retry-After", "")
        raise _Retry(error, float(after) if after.isdigit() else 0.0)
    raise error


def _read_capped(response: requests.Response, url: str, config: ScrapeConfig, started: float) -> bytes:
    body = bytearray()
    while True:
        # read1 returns what has arrived, so a server that trickles a byte at a time cannot
        # hold a download past the deadline (iter_content would wait for a whole chunk).
        chunk = response.raw.read1(CHUNK, decode_content=True)
        if not chunk:
            break
        body += chunk
        if len(body) > config.max_bytes:
            raise FetchError(url, "too_large", f"over {config.max_bytes} bytes")
        if time.monotonic() - started > config.deadline:
            raise _Retry(FetchError(url, "timeout", f"still downloading after {config.deadline:g} s"))
    return bytes(body)
