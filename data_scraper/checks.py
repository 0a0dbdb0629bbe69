"""What a downloaded file must pass: it decodes (the core loader), it is big enough, it is
not a picture we already have (perceptual hash) and, when asked, it shows a face."""
from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

from glasses_core import CropConfig, Detectors, ImageLoadError, load_image
from glasses_core.crop import usable_faces
from glasses_core.image_header import read_header

from data_scraper.config import ScrapeConfig

log = logging.getLogger(__name__)

# Pillow format -> the extension we save under; every one is in the loaders' IMAGE_SUFFIXES.
FORMAT_EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp",
                     "BMP": "bmp", "TIFF": "tif"}


class Reject(Exception):
    """A search result was turned down; ``reason`` names why, in the summary and rejects.csv."""

    def __init__(self, name: str, reason: str, detail: str):
        super().__init__(f"{name}: {reason} ({detail})")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Candidate:
    """A downloaded file that passed every check but the duplicate one (done when saving)."""
    data: bytes
    sha256: str
    phash: int
    width: int
    height: int
    extension: str
    faces: int | None  # None when faces were not looked for


def perceptual_hash(rgb: np.ndarray) -> int:
    """64-bit DCT hash: the same picture re-encoded or resized lands within a few bits."""
    return int(str(imagehash.phash(Image.fromarray(rgb))), 16)


class HashIndex:
    """Perceptual and exact hashes of every picture we have; thread-safe."""

    def __init__(self, max_distance: int):
        self.max_distance = max_distance
        self._hashes = np.zeros(1024, dtype=np.uint64)
        self._names: list[str] = []
        self._sha256: dict[str, str] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._names)

    def add(self, phash: int, name: str, sha256: str | None = None) -> None:
        with self._lock:
            count = len(self._names)
            if count == len(self._hashes):
                self._hashes = np.resize(self._hashes, 2 * count)
            self._hashes[count] = np.uint64(phash)
            self._names.append(name)
            if sha256:
                self._sha256[sha256] = name

    def match(self, phash: int, sha256: str | None = None) -> str | None:
        """The name of a picture that this one duplicates, or None."""
        with self._lock:
            if sha256 in self._sha256:
                return self._sha256[sha256]
            count = len(self._names)
            if count == 0:
                return None
            distances = np.bitwise_count(self._hashes[:count] ^ np.uint64(phash))
            best = int(np.argmin(distances))
            return self._names[best] if distances[best] <= self.max_distance else None


class Checker:
    """Runs the checks on downloaded bytes; one instance is shared by the download threads."""

    def __init__(self, config: ScrapeConfig, index: HashIndex):
        self.config = config
        self.index = index
        self.crop_config = CropConfig()
        self.detectors = Detectors(self.crop_config) if config.faces else None

    def inspect(self, data: bytes, name: str) -> Candidate:
        """A Candidate, or Reject: undecodable, unsupported_format, too_small, duplicate, no_face."""
        try:
            rgb = load_image(data, name=name)
        except ImageLoadError as err:
            raise Reject(name, "undecodable", err.reason) from err
        fmt = read_header(data, name).format  # decoded above: the header is that of an accepted format
        extension = FORMAT_EXTENSIONS.get(fmt)
        if extension is None:
            raise Reject(name, "unsupported_format", f"{fmt} is not a training-loader format")
        height, width = rgb.shape[:2]
        if min(height, width) < self.config.min_side:
            raise Reject(name, "too_small", f"{width}x{height}, shorter side under {self.config.min_side}")
        sha256 = hashlib.sha256(data).hexdigest()
        phash = perceptual_hash(rgb)
        twin = self.index.match(phash, sha256)
        if twin is not None:
            raise Reject(name, "duplicate", f"same picture as {twin}")
        faces = None
        if self.detectors is not None:
            faces = len(usable_faces(self.detectors.detect(rgb), self.crop_config))
            if faces == 0:
                raise Reject(name, "no_face", "the core detector found no usable face")
        return Candidate(data, sha256, phash, width, height, extension, faces)


def hash_files(paths: list[Path], cache_file: Path, progress: bool = True) -> dict[Path, int]:
    """Perceptual hashes of image files, cached by path, size and modification time.

    Files the core loader cannot read are left out (and counted in the log).
    """
    cache = _read_cache(cache_file)
    hashes, fresh, unreadable = {}, 0, 0
    for path in _progress(paths, progress and len(paths) > 500):
        try:
            stat = path.stat()
            key, stamp = str(path.resolve()), [stat.st_size, stat.st_mtime_ns]
            entry = cache.get(key)
            if entry is None or entry[:2] != stamp:
                entry = stamp + [format(perceptual_hash(load_image(path)), "016x")]
        except (OSError, ImageLoadError) as err:
            unreadable += 1
            log.debug("not hashed: %s", err)
            continue
        if cache.get(key) != entry:
            cache[key] = entry
            fresh += 1
        hashes[path] = int(entry[2], 16)
    if fresh:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache))
        tmp.replace(cache_file)
    if unreadable:
        log.warning("%d reference files could not be read and are not deduplicated against", unreadable)
    return hashes


def _read_cache(cache_file: Path) -> dict:
    try:
        cache = json.loads(cache_file.read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError:
        log.warning("%s is not valid JSON; hashing again", cache_file)
        return {}
    return cache if isinstance(cache, dict) else {}


def _progress(iterable, enabled: bool):
    if not enabled or not sys.stderr.isatty():  # a bar is for a person watching, not for a log file
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, desc="hashing reference images", unit="img")
