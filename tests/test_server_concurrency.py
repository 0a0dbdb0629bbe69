"""Many simultaneous requests to one server process get the answers sequential calls get.

One process (in this one, on a free port), a pool of several threads, each with its own LiteRT
interpreters; 24 requests at once, mixing photos with one face, two faces (the classifier's
batch is resized between requests on the same thread) and none (the fallback crop).
"""
import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from deploy.rest_server.server import make_serving
from glasses_core import GlassesClassifier
from serving import MTFL_GLASSES, MTFL_NO_GLASSES, SHIPPED_MODEL, post_in_process

THREADS = 4
COPIES = 3  # each upload sent this many times, all at once


class Overlaps:
    """Stands in for the classifier; notes the threads its predictions ran in and how many ran at once."""

    def __init__(self, classifier: GlassesClassifier):
        self._classifier, self._lock = classifier, threading.Lock()
        self.running, self.most, self.threads = 0, 0, set()

    def __getattr__(self, name):
        return getattr(self._classifier, name)

    def predict(self, photo):
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.get_ident())
        try:
            return self._classifier.predict(photo)
        finally:
            with self._lock:
                self.running -= 1


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def uploads(data_dir) -> list[tuple[str, bytes]]:
    """Real photos with and without glasses, two of them side by side, and noise (no face)."""
    paths = [data_dir / "mtfl" / p for p in MTFL_GLASSES + MTFL_NO_GLASSES]
    pair = Image.new("RGB", (600, 320), (120, 120, 120))
    for x, path in ((0, paths[0]), (300, paths[3])):
        pair.paste(Image.open(path).convert("RGB").resize((300, 300)), (x, 10))
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8))
    return [(p.name, p.read_bytes()) for p in paths] + [("pair.png", png(pair)), ("noise.png", png(noise))]


def test_simultaneous_requests_get_the_sequential_answers(data_dir):
    photos = uploads(data_dir)
    classifier = GlassesClassifier(SHIPPED_MODEL)
    sequential = [classifier.predict(data, name).to_dict() for name, data in photos]
    assert [len(s["faces"]) for s in sequential[-2:]] == [2, 0] and not sequential[-1]["face_found"]
    order = np.random.default_rng(0).permutation(len(photos) * COPIES) % len(photos)
    recorder = Overlaps(GlassesClassifier(SHIPPED_MODEL))
    with ThreadPoolExecutor(THREADS) as pool:
        responses = post_in_process(make_serving(recorder, executor=pool), [photos[i] for i in order])
    print(f"\n{len(order)} requests at once: up to {recorder.most} predictions ran together "
          f"in {len(recorder.threads)} threads")
    assert recorder.most >= 2 and len(recorder.threads) >= 2
    for i, response in zip(order, responses):
        assert response.code == 200, response.body
        body = json.loads(response.body)
        assert {k: body[k] for k in sequential[i]} == sequential[i], photos[i][0]
