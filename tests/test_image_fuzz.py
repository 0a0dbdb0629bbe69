"""Mutation fuzzing of every accepted format (issue 30): small real images, each in every
accepted format and its variants, mutated the ways files break (bits flipped, runs zeroed or
overwritten, cut, bytes added or dropped, a span repeated), then opened and decoded with
open_photo and posted to the server. open_photo may only succeed or raise ImageLoadError; the
server may only answer 200 or a JSON 4xx, and a batch gives every image its own result.

The budget is small for CI (FUZZ_CASES mutants per variant); the mutants depend only on
FUZZ_SEED, and a failure names the seed, the variant and the mutant's number, so that
`FUZZ_SEED=<seed> pytest tests/test_image_fuzz.py` replays it (raise FUZZ_CASES to search longer).
"""
from __future__ import annotations

import json
import os
import random
import sys
from functools import lru_cache

import pytest
from PIL import Image
from tornado.testing import AsyncHTTPTestCase

from deploy.rest_server.http1 import JsonErrorsHTTPServer
from deploy.rest_server.openapi import ANSWERS, NO_FACE
from deploy.rest_server.server import make_app, make_serving, server_options
from glasses_core import GlassesClassifier, ImageLoadError, open_photo
from glasses_core.image_header import ACCEPTED
from serving import MTFL_GLASSES, ROOT, SHIPPED_MODEL, multipart

sys.path.insert(0, str(ROOT / "benchmarks"))
from hostile_images import bmp_rle8, encode  # noqa: E402

SEED = int(os.environ.get("FUZZ_SEED", "30"))
CASES = int(os.environ.get("FUZZ_CASES", "60"))  # mutants per variant given to open_photo
SERVER_CASES = max(1, CASES // 6)  # ... and posted to the server, one batch a variant
SIDE = 96  # small: decoding is quick, and the face detector still runs on it


VARIANTS = ("JPEG", "JPEG progressive", "MPO", "PNG", "PNG RGBA interlaced", "PNG 16-bit grey", "GIF animated",
            "WEBP lossy", "WEBP lossless RGBA", "BMP", "BMP RLE8", "TIFF deflate", "TIFF raw", "HEIF", "AVIF")


@lru_cache(maxsize=None)
def variants() -> dict[str, bytes]:
    """The face photo in every accepted format, and variants that take other decoder paths."""
    face = Image.open(ROOT.parent / "shared" / "data" / "mtfl" / MTFL_GLASSES[1]).convert("RGB").resize((SIDE, SIDE))
    other = face.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    made = {
        "JPEG": encode(face, "JPEG", quality=85),
        "JPEG progressive": encode(face, "JPEG", quality=85, progressive=True),
        "MPO": encode(face, "MPO", save_all=True, append_images=[other]),
        "PNG": encode(face, "PNG"),
        "PNG RGBA interlaced": encode(face.convert("RGBA"), "PNG", interlace=1),
        "PNG 16-bit grey": encode(face.convert("I;16"), "PNG"),
        "GIF animated": encode(face.convert("P"), "GIF", save_all=True, append_images=[other.convert("P")]),
        "WEBP lossy": encode(face, "WEBP", quality=80),
        "WEBP lossless RGBA": encode(face.convert("RGBA"), "WEBP", lossless=True),
        "BMP": encode(face, "BMP"),
        "BMP RLE8": bmp_rle8(SIDE, SIDE, 5, 10_000),
        "TIFF deflate": encode(face, "TIFF", compression="tiff_deflate"),
        "TIFF raw": encode(face, "TIFF"),
        "HEIF": encode(face, "HEIF", quality=70),
        "AVIF": encode(face, "AVIF", quality=60),
    }
    assert tuple(made) == VARIANTS and {open_photo(data).header.format for data in made.values()} == set(ACCEPTED)
    return made


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One mutant of ``data`` and what was done to it."""
    out, size = bytearray(data), len(data)
    kind = rng.choice(("flip", "flip header", "zero run", "random run", "cut", "insert", "drop", "repeat"))
    at = rng.randrange(min(size, 64) if kind == "flip header" else size)
    length = rng.randint(1, 64)
    if kind in ("flip", "flip header"):
        for _ in range(rng.randint(1, 8)):
            out[at] ^= 1 << rng.randrange(8)
            at = rng.randrange(min(size, 64) if kind == "flip header" else size)
    elif kind == "zero run":
        out[at:at + length] = bytes(len(out[at:at + length]))
    elif kind == "random run":
        out[at:at + length] = rng.randbytes(len(out[at:at + length]))
    elif kind == "cut":
        del out[at:]
    elif kind == "insert":
        out[at:at] = rng.randbytes(length)
    elif kind == "drop":
        del out[at:at + length]
    else:
        out[at:at] = out[at:at + length]
    return bytes(out), f"{kind} at {at}"


def mutants(variant: str, count: int, stream: str):
    """``count`` (number, bytes, description) mutants of a variant; only FUZZ_SEED, the
    variant's name and ``stream`` decide them."""
    rng = random.Random(f"{SEED}/{stream}/{variant}")
    for number in range(count):
        data, how = mutate(variants()[variant], rng)
        yield number, data, how


def replay(variant: str, number: int, how: str) -> str:
    return f"FUZZ_SEED={SEED}, variant {variant!r}, mutant {number} ({how})"


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's notes on odd files (corrupt EXIF, ...)
def test_open_photo_either_decodes_a_mutant_or_raises_image_load_error(variant):
    for number, data, how in mutants(variant, CASES, "open_photo"):
        try:
            photo = open_photo(data, "mutant")
            for scale in (1.0, 0.125):
                pixels = photo.pixels(scale)[0]
                assert pixels.ndim == 3 and pixels.shape[2] == 3 and pixels.dtype.name == "uint8"
        except ImageLoadError as err:
            assert str(err).startswith("mutant: ") and err.reason, replay(variant, number, how)
        except Exception as err:  # noqa: BLE001 -- the finding: say how to replay it
            pytest.fail(f"{type(err).__name__}: {err} -- {replay(variant, number, how)}")


@pytest.fixture(scope="class")
def classifier(request):
    request.cls.classifier = GlassesClassifier(SHIPPED_MODEL)


@pytest.mark.usefixtures("classifier")
@pytest.mark.filterwarnings("ignore::UserWarning")
class ServerFuzzTest(AsyncHTTPTestCase):
    def get_app(self):
        return make_app(make_serving(self.classifier))

    def get_http_server(self):
        return JsonErrorsHTTPServer(self._app, **server_options(10 * 1024 * 1024))

    def test_every_mutant_gets_an_answer_or_a_json_4xx_of_its_own(self):
        for variant in VARIANTS:
            cases = list(mutants(variant, SERVER_CASES, "server"))
            fields = [(f"{number}.bin", data) for number, data, _ in cases]
            content_type, body = multipart({"image": fields[0]})
            boundary = content_type.split("=", 1)[1]
            end = f"--{boundary}--\r\n".encode()
            parts = b"".join(multipart({"image": field}, boundary)[1][:-len(end)] for field in fields)
            response = self.fetch("/api/v1/predict/batch", method="POST", body=parts + end,
                                  headers={"Content-Type": content_type}, raise_error=False)
            assert response.code == 200, f"{response.code} {response.body[:300]!r} -- {variant}, FUZZ_SEED={SEED}"
            results = json.loads(response.body)["results"]
            assert [r["index"] for r in results] == list(range(len(cases)))
            for result, (number, data, how) in zip(results, cases):
                if "error" in result:
                    assert result["error"]["status"] in (400, 413), f"{result} -- {replay(variant, number, how)}"
                else:
                    assert result["answer"] in (*ANSWERS, NO_FACE), replay(variant, number, how)
            number, data, how = cases[0]  # one of them alone, on the one-photo endpoint
            content_type, body = multipart({"image": ("m.bin", data)})
            single = self.fetch("/api/v1/predict", method="POST", body=body, headers={"Content-Type": content_type},
                                raise_error=False)
            assert single.code < 500, f"{single.code} {single.body[:300]!r} -- {replay(variant, number, how)}"
