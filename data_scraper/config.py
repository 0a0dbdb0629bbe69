"""The scraper's settings: one frozen dataclass, overridden by a JSON file and then by flags."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from glasses_core.config import from_dict, read_json
from glasses_core.errors import ConfigError


@dataclass(frozen=True)
class ScrapeConfig:
    """Every knob of a scrape; the defaults are meant for real image search, politely."""
    engine: str = "bing"  # where queries go: bing, baidu, google, flickr, page or urls (engines.py)
    max_per_query: int = 25  # accepted images wanted per query, counting earlier runs
    overfetch: int = 4  # search results asked for per wanted image (many are rejected)
    threads: int = 2  # download threads; checks run in them too
    min_interval: float = 1.0  # seconds between two requests to the same host
    timeout: float = 10.0  # seconds to connect, and between two received bytes
    deadline: float = 60.0  # seconds one download may take in all (a trickling server)
    retries: int = 2  # extra attempts after a timeout, a network error, 429 or 5xx
    backoff: float = 2.0  # seconds before the first retry, doubled each time
    max_backoff: float = 60.0  # never wait longer than this between attempts (Retry-After too)
    max_bytes: int = 10_000_000  # bigger downloads are abandoned as "too_large"
    min_side: int = 128  # shorter image side in pixels below which an image is "too_small"
    dup_distance: int = 4  # perceptual hashes this close (bits of 64) are the same picture
    faces: bool = False  # reject images in which the core detector finds no usable face
    page_url: str = ""  # engine "page": results page URL with {query}, e.g. https://x/s?q={query}
    flickr_key: str = ""  # engine "flickr": API key (or the FLICKR_APIKEY environment variable)

    def __post_init__(self):
        for name in ("max_per_query", "overfetch", "threads", "timeout", "deadline", "max_bytes",
                     "min_side"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"scraper settings: {name} must be positive, got {getattr(self, name)}")
        for name in ("min_interval", "retries", "backoff", "max_backoff", "dup_distance"):
            if getattr(self, name) < 0:
                raise ConfigError(f"scraper settings: {name} must not be negative, got {getattr(self, name)}")

    def with_overrides(self, **changes) -> "ScrapeConfig":
        """A copy with ``changes`` applied and checked like a config file's keys."""
        return from_dict(ScrapeConfig, {**dataclasses.asdict(self), **changes}, "scraper settings")

    @classmethod
    def load(cls, path: str | Path) -> "ScrapeConfig":
        return from_dict(cls, read_json(path, "scraper config not found"), str(path))
