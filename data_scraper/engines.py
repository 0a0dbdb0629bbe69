"""Image search engines, on icrawler's Feeder -> Parser -> Downloader threads.

Each engine is a feeder (the result-page URLs of a query) and a parser (the image URLs on
a page). The downloader is always ours: it hands every image URL to a callback that fetches,
checks and saves it (see scrape.py), so all engines share one set of checks.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable
from urllib.parse import quote_plus, urljoin, urlsplit

from icrawler import Crawler, Feeder, ImageDownloader, Parser, UrlListFeeder
from icrawler.builtin import (BaiduFeeder, BaiduParser, BingFeeder, BingParser, FlickrFeeder, FlickrParser,
                              GoogleFeeder, GoogleParser, PseudoParser)

from glasses_core.errors import ConfigError

from data_scraper.config import ScrapeConfig
from data_scraper.fetch import PoliteSession, RateLimiter

log = logging.getLogger(__name__)

SEARCH_LIMIT = 1000  # Bing, Baidu and Google serve no results past the 1000th
IMAGE_LINK_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp")
FLICKR_SIZES = ["large", "medium 800", "medium 640", "medium"]  # big enough, not originals
QUEUE_TIMEOUT = 1  # seconds a thread waits on an empty queue before it checks whether to stop


class PageFeeder(Feeder):
    """Engine "page": one results page, ``page_url`` with the query put in for ``{query}``."""

    def feed(self, page_url: str, query: str):
        self.out_queue.put(page_url.replace("{query}", quote_plus(query)))


class _ImageLinks(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.links += [attrs[key] for key in ("src", "data-src") if attrs.get(key)]
        elif tag == "a" and attrs.get("href"):
            if urlsplit(attrs["href"]).path.lower().endswith(IMAGE_LINK_SUFFIXES):
                self.links.append(attrs["href"])


def image_links(html: str, page_url: str) -> list[str]:
    """Absolute http(s) URLs of a page's ``<img src>``/``data-src`` and of its links to image
    files, in page order, without repeats."""
    parser = _ImageLinks()
    parser.feed(html)
    urls = {}
    for link in parser.links:
        url = urljoin(page_url, link.strip())
        if urlsplit(url).scheme in ("http", "https"):
            urls.setdefault(url, None)
    return list(urls)


class PageParser(Parser):
    """Every image on a results page (any HTML page: a gallery, a search engine's basic view)."""

    def parse(self, response):
        if response.status_code != 200:
            log.warning("results page %s: HTTP %d", response.url, response.status_code)
            return
        for url in image_links(response.text, response.url):
            yield {"file_url": url}


class ScrapeDownloader(ImageDownloader):
    """Gives each image URL to ``handle(url, session) -> kept`` (the crawler's session, so images
    are asked for with the same headers as the pages) and stops the crawl after ``wanted`` kept."""

    def __init__(self, thread_num, signal, session, storage, handle: Callable[[str, PoliteSession], bool],
                 wanted: int):
        super().__init__(thread_num, signal, session, storage)
        self.handle = handle
        self.wanted = wanted
        self.kept = 0

    def download(self, task, default_ext, timeout=None):
        # icrawler's own counter (fetched_num) stays 0 on purpose: while it is 0, a downloader
        # waits for a slow parser instead of quitting as soon as its queue is empty.
        if self.signal.get("reach_max_num"):
            return False
        kept = self.handle(task["file_url"], self.session)
        if kept:
            with self.lock:
                self.kept += 1
                if self.kept >= self.wanted:
                    self.signal.set(reach_max_num=True)
        return kept


class PoliteCrawler(Crawler):
    """An icrawler Crawler whose every request (pages and images) goes through PoliteSession."""

    def __init__(self, session: PoliteSession, **kwargs):
        self._polite = session
        super().__init__(**kwargs)

    def set_session(self, headers=None):
        super().set_session(headers)  # icrawler's browser-like headers: engines serve others less
        self._polite.headers.update(self.session.headers)
        self.session = self._polite


@dataclass(frozen=True)
class Engine:
    feeder: type
    parser: type
    feed_args: Callable[[str, int, ScrapeConfig], dict]  # (query, results wanted, config) -> kwargs
    parse_args: Callable[[ScrapeConfig], dict] = field(default=lambda config: {})
    about: str = ""


def _search(query: str, results: int, config: ScrapeConfig) -> dict:
    return {"keyword": query, "offset": 0, "max_num": min(SEARCH_LIMIT, results), "filters": None}


def _search_quoted(query: str, results: int, config: ScrapeConfig) -> dict:
    # icrawler's Bing and Baidu feeders paste the keyword into the URL as it is ("&", "#").
    return _search(quote_plus(query), results, config)


def _flickr_key(config: ScrapeConfig) -> str:
    key = config.flickr_key or os.environ.get("FLICKR_APIKEY", "")
    if not key:
        raise ConfigError("engine flickr needs an API key: --flickr-key KEY or FLICKR_APIKEY")
    return key


def _url_file(path: str, results: int, config: ScrapeConfig) -> dict:
    """Engine "urls": the query is a text file of image URLs, one a line (# starts a comment)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as err:
        raise ConfigError(f"engine urls: cannot read URL list {path!r} ({err.strerror})") from None
    urls = [line.strip() for line in lines]
    return {"url_list": [url for url in urls if url and not url.startswith("#")]}


def _page(query: str, results: int, config: ScrapeConfig) -> dict:
    if "{query}" not in config.page_url:
        raise ConfigError(f"engine page needs --page-url with {{query}} in it, got {config.page_url!r}")
    return {"page_url": config.page_url, "query": query}


ENGINES = {
    "bing": Engine(BingFeeder, BingParser, _search_quoted, about="Bing image search (the most dependable)"),
    "baidu": Engine(BaiduFeeder, BaiduParser, _search_quoted, about="Baidu image search"),
    "google": Engine(GoogleFeeder, GoogleParser, _search,
                     about="Google image search (icrawler's parser; Google often serves no results)"),
    "flickr": Engine(FlickrFeeder, FlickrParser,
                     lambda query, results, config: {"apikey": _flickr_key(config), "text": query,
                                                     "max_num": min(4000, results),
                                                     "per_page": min(100, results)},
                     lambda config: {"apikey": _flickr_key(config), "size_preference": FLICKR_SIZES},
                     about="Flickr API search (needs an API key)"),
    "page": Engine(PageFeeder, PageParser, _page, about="the images on one HTML page: --page-url with {query}"),
    "urls": Engine(UrlListFeeder, PseudoParser, _url_file, about="text files of image URLs: --query FILE"),
}


def engine(name: str) -> Engine:
    if name not in ENGINES:
        raise ConfigError(f"unknown engine {name!r}; choose one of {sorted(ENGINES)}")
    return ENGINES[name]


def check_engine(config: ScrapeConfig) -> None:
    """Raise ConfigError now if ``config`` cannot run its engine (name, page URL, API key)."""
    spec = engine(config.engine)
    if spec.feeder in (PageFeeder, FlickrFeeder):
        spec.feed_args("", 1, config)


def crawl(query: str, handle: Callable[[str, PoliteSession], bool], wanted: int, config: ScrapeConfig,
          limiter: RateLimiter) -> None:
    """Run one query on ``config.engine``, calling ``handle`` on each image URL until
    ``wanted`` of them were kept or the results run out."""
    spec = engine(config.engine)
    feed_args = spec.feed_args(query, wanted * config.overfetch, config)
    if not feed_args.get("url_list", True):
        log.warning("%s: no URLs in the list", query)
        return
    session = PoliteSession(limiter, config.timeout)
    crawler = PoliteCrawler(session, feeder_cls=spec.feeder, parser_cls=spec.parser,
                            downloader_cls=ScrapeDownloader, downloader_threads=config.threads,
                            storage={"backend": "FileSystem", "root_dir": os.devnull},
                            log_level=logging.getLogger().getEffectiveLevel(),
                            extra_downloader_args={"handle": handle, "wanted": wanted})
    crawler.crawl(feeder_kwargs=feed_args,
                  parser_kwargs={"queue_timeout": QUEUE_TIMEOUT, "req_timeout": config.timeout,
                                 "max_retry": config.retries + 1, **spec.parse_args(config)},
                  downloader_kwargs={"max_num": wanted, "queue_timeout": QUEUE_TIMEOUT})
    session.close()
