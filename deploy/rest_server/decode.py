"""What one upload may cost: read from the image header before any pixel is decoded.

A blank 6,300 x 6,300 PNG is 39 KB on the wire and 119 MB once decoded (1.6 s of one core), so
the bytes say nothing about the cost; the header does (glasses_core/image_header.py: the
accepted formats, their limits, and the cost of decoding, the pixels weighed by what turning
them into RGB takes). Each image is held to a per-image limit (413 before decoding), and every
decode holds its cost from a budget shared by the requests in flight: an image waits for room,
up to a deadline, then gets 503. Images that cost over LARGE_PIXELS are decoded in a lane of
their own, so that however many arrive, they never hold the threads that ordinary photos use.
"""
from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager

from glasses_core import GlassesClassifier, Photo

LARGE_PIXELS = 4_000_000  # above this cost an image is decoded in the large-image lane
BUDGET_WAIT_S = 10.0  # how long an image may wait for room in the decode budget before a 503


class BudgetBusy(Exception):
    """No room in the decode budget within the deadline."""


class PixelBudget:
    """Pixels that may be decoded at once. ``hold(n)`` waits until n fit; anyone who fits goes
    first, so small images pass a large one that is waiting."""

    def __init__(self, total_pixels: int, wait_s: float = BUDGET_WAIT_S):
        self.total, self.wait_s, self.used = total_pixels, wait_s, 0
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def hold(self, pixels: int):
        pixels = min(pixels, self.total)  # the per-image limit is checked before this
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: self.used + pixels <= self.total),
                                       self.wait_s)
            except TimeoutError:
                raise BudgetBusy(f"the server is decoding {self.used / 1e6:.1f} of its "
                                 f"{self.total / 1e6:g} megapixels; retry later") from None
            self.used += pixels
        try:
            yield
        finally:
            async with self._changed:
                self.used -= pixels
                self._changed.notify_all()


def predict(classifier: GlassesClassifier, photo: Photo):
    """Decode and classify an opened photo (in a worker thread, or on the event loop's with
    --threads 0); (result, (height, width), milliseconds)."""
    start = time.perf_counter()
    result = classifier.predict(photo)  # decodes only the pixels the answer needs
    return result, (photo.size[1], photo.size[0]), (time.perf_counter() - start) * 1000.0
