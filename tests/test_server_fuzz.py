"""Fuzz the server with malformed requests: none may get a 5xx, and /health must answer after.

Over 500 requests: truncated and bit-flipped JPEGs, random bytes, decompression-bomb headers,
empty bodies, wrong fields, wrong content types, huge and numerous multipart headers, broken
multipart envelopes, bodies over the limit, wrong methods and paths; then raw HTTP that no
client library would send (huge request headers, bad lengths, bad chunking).
"""
from __future__ import annotations

import asyncio
import json
import random
import struct
import zlib
from dataclasses import dataclass

import pytest
from tornado.iostream import StreamClosedError
from tornado.tcpclient import TCPClient
from tornado.testing import AsyncHTTPTestCase

from deploy.rest_server.server import make_app, server_options
from glasses_core import GlassesClassifier
from serving import MTFL_GLASSES, multipart

LIMIT = 1_000_000  # bytes; small, so that over-limit bodies are cheap to send
ENDPOINTS = ("/glass_no_glass/", "/api/v1/predict")


@dataclass
class Case:
    name: str
    body: bytes | None
    content_type: str | None = None
    method: str = "POST"
    path: str = ""  # default: the endpoints in turn


def png_header(width: int, height: int) -> bytes:
    """A well-formed PNG that claims width x height pixels but holds almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def image_cases(photo: bytes, rng: random.Random) -> list[Case]:
    cases = []
    for i in range(120):
        cases.append(Case(f"truncated JPEG {i}", photo[:rng.randrange(len(photo))]))
    for i in range(160):
        data = bytearray(photo)
        # half of them hit the headers (markers, tables), half anywhere
        span = 600 if i % 2 else len(data)
        for _ in range(rng.randint(1, 32)):
            data[rng.randrange(span)] ^= 1 << rng.randrange(8)
        cases.append(Case(f"bit-flipped JPEG {i}", bytes(data)))
    for i in range(60):
        cases.append(Case(f"random bytes {i}", rng.randbytes(rng.randint(1, 20_000))))
    for i, magic in enumerate([b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"BM", b"II*\0", b"RIFF"] * 5):
        cases.append(Case(f"magic + random {i}", magic + rng.randbytes(rng.randint(0, 5000))))
    for width, height in [(20000, 20000), (65535, 65535), (1, 50_000_000), (50_000_000, 1), (0, 0),
                          (2**31 - 1, 2**31 - 1), (8000, 8000), (7000, 6000)]:
        cases.append(Case(f"PNG header {width}x{height}", png_header(width, height)))
    gif = b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\0\0\0;"
    bmp = (b"BM" + struct.pack("<IHHI", 0, 0, 0, 54)
           + struct.pack("<IiiHHIIiiII", 40, 60000, 60000, 1, 24, 0, 0, 0, 0, 0, 0))
    cases += [Case("GIF header 65535x65535", gif), Case("BMP header 60000x60000", bmp)]
    return [Case(c.name, *multipart({"image": ("fuzz.jpg", c.body)})[::-1]) for c in cases]


def one_part(boundary: str, headers: bytes, data: bytes = b"abc") -> bytes:
    """A multipart body of one part with the given raw part headers."""
    return f"--{boundary}\r\n".encode() + headers + b"\r\n\r\n" + data + f"\r\n--{boundary}--\r\n".encode()


def form_cases(photo: bytes, rng: random.Random) -> list[Case]:
    ct, body = multipart({"image": ("a.jpg", photo)})
    boundary = ct.split("=", 1)[1]
    final = f"--{boundary}--".encode()
    cases = [
        Case("empty body, no content type", b""),
        Case("empty body, multipart", b"", "multipart/form-data; boundary=x"),
        Case("empty image field", *multipart({"image": ("a.jpg", b"")})[::-1]),
        Case("only the final boundary", b"--x--\r\n", "multipart/form-data; boundary=x"),
        Case("empty form-urlencoded", b"", "application/x-www-form-urlencoded"),
        Case("urlencoded image", b"image=" + photo[:500], "application/x-www-form-urlencoded"),
        Case("no boundary parameter", body, "multipart/form-data"),
        Case("empty boundary", body, "multipart/form-data; boundary="),
        Case("another boundary", body, "multipart/form-data; boundary=other"),
        Case("quoted boundary", body, f'multipart/form-data; boundary="{boundary}"'),
        Case("multipart/form-dataxyz", body, f"multipart/form-dataxyz; boundary={boundary}"),
        Case("no final boundary", body[: body.rfind(final)], ct),
        Case("no CRLF before the final boundary", body.replace(b"\r\n" + final, final), ct),
        Case("part without headers", f"--{boundary}\r\nabc\r\n--{boundary}--\r\n".encode(), ct),
        Case("part without name", one_part(boundary, b"Content-Disposition: form-data"), ct),
        Case("not form-data", one_part(boundary, b"Content-Disposition: attachment; name=image"), ct),
        Case("non-UTF-8 part header", one_part(boundary, b'Content-Disposition: form-data; name="\xff\xfe"'), ct),
        Case("NUL in part header", one_part(boundary, b'Content-Disposition: form-data; name="im\0age"'), ct),
        Case("image field twice, first broken",
             one_part(boundary, b'Content-Disposition: form-data; name="image"', b"junk").replace(final, body), ct),
    ]
    for i in range(30):
        cut = rng.randrange(1, len(body))
        cases.append(Case(f"multipart cut at {cut}", body[:cut] if i % 2 else body[cut:], ct))
    for i in range(20):
        name = "".join(rng.choice("abcdefgimageIMAGE_-0 ") for _ in range(rng.randint(1, 12)))
        if name != "image":
            cases.append(Case(f"field {name!r}", *multipart({name: ("a.jpg", photo)})[::-1]))
    for content_type in ["image/jpeg", "image/png", "application/json", "text/plain", "application/octet-stream",
                         "text/html; charset=utf-8", "multipart/mixed; boundary=x", "multipart/related",
                         "application/x-www-form-urlencoded", "*/*", "", "garbage", "multipart/form-data;;;",
                         "multipart/form-data; boundary", "multipart/form-data; charset=utf-8",
                         "MULTIPART/FORM-DATA; boundary=x", "image/jpeg; boundary=x", "text/plain; a=b; c",
                         "application/json; charset=latin-1", "x" * 2000]:
        cases.append(Case(f"content type {content_type[:30]!r}", photo, content_type))
    cases.append(Case("JSON body", json.dumps({"image": "abc"}).encode(), "application/json"))
    cases.append(Case("gzip content encoding", body, ct))  # headers added in the test
    return cases


def header_cases(photo: bytes) -> list[Case]:
    cases = []
    for size in (10_241, 20_000, 100_000, 300_000, 900_000):
        boundary = "b0undary"
        part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n"
                f"X-Filler: {'h' * size}\r\n\r\n").encode() + photo + f"\r\n--{boundary}--\r\n".encode()
        cases.append(Case(f"part header of {size} bytes", part[:LIMIT], f"multipart/form-data; boundary={boundary}"))
    for length in (1000, 100_000):
        upload = multipart({"image": ("n" * length + ".jpg", photo)})
        cases.append(Case(f"filename of {length} characters", upload[1], upload[0]))
    for parts in (101, 500, 5000):
        fields = {f"f{i}": (None, b"x") for i in range(parts)}
        fields["image"] = ("a.jpg", photo)
        cases.append(Case(f"{parts} parts", *multipart(fields)[::-1]))
    for size in (LIMIT + 1, 2 * LIMIT, 5 * LIMIT):
        cases.append(Case(f"body of {size} bytes", *multipart({"image": ("a.jpg", b"\xff" * size)})[::-1]))
    return cases


def method_and_path_cases() -> list[Case]:
    cases = [Case(f"{method} {path}", b"" if method in ("POST", "PUT", "PATCH") else None, None, method, path)
             for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS")
             for path in ("/glass_no_glass/", "/api/v1/predict", "/health")]
    cases += [Case(f"POST {path}", b"x", "text/plain", "POST", path)
              for path in ("/", "/nope", "/api/v1/predict/extra", "/static/../server.py", "/static/",
                           "/glass_no_glass//", "/%00", "/" + "a" * 5000, "/static/app.js?x=" + "y" * 3000,
                           "/health?%ff")]
    return cases


POST = b"POST /glass_no_glass/ HTTP/1.1\r\nHost: x\r\n"
MULTIPART = b"Content-Type: multipart/form-data; boundary=x\r\n"
CHUNKED = b"Transfer-Encoding: chunked\r\n\r\n"
RAW_REQUESTS = [
    ("huge request header", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"),
    ("many headers", b"GET /health HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(5000)) + b"\r\n"),
    ("bad content length", POST + b"Content-Length: abc\r\n\r\n"),
    ("negative content length", POST + b"Content-Length: -5\r\n\r\n"),
    ("two content lengths", POST + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
    ("content length too large", POST + b"Content-Length: 99999999999\r\n\r\n"),
    ("expect 100-continue over the limit",
     POST + MULTIPART + b"Expect: 100-continue\r\nContent-Length: 5000000\r\n\r\n"),
    ("bad chunk size", POST + CHUNKED + b"zz\r\nabc\r\n0\r\n\r\n"),
    ("chunked over the limit", POST + MULTIPART + CHUNKED + (b"10000\r\n" + b"a" * 0x10000 + b"\r\n") * 20
     + b"0\r\n\r\n"),
    ("chunked, no image", POST + MULTIPART + CHUNKED + b"5\r\n--x--\r\n0\r\n\r\n"),
    ("chunked and content length", POST + b"Content-Length: 5\r\n" + CHUNKED + b"0\r\n\r\n"),
    ("garbage request line", b"\x00\x01\x02 garbage\r\n\r\n"),
    ("no version", b"GET /health\r\n\r\n"),
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    ("header without colon", b"GET /health HTTP/1.1\r\nHost x\r\n\r\n"),
    ("unknown method", b"BREW /glass_no_glass/ HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("HTTP/1.0", b"POST /glass_no_glass/ HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc"),
    ("NUL in header", b"GET /health HTTP/1.1\r\nHost: x\0y\r\n\r\n"),
    ("TLS hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 200),
]


@pytest.fixture(scope="class")
def fuzz_inputs(request, tiny_model_json, data_dir):
    request.cls.classifier = GlassesClassifier(tiny_model_json)
    request.cls.photo = (data_dir / "mtfl" / MTFL_GLASSES[1]).read_bytes()


@pytest.mark.usefixtures("fuzz_inputs")
@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # Pillow's note on some bit-flipped JPEGs
class FuzzTest(AsyncHTTPTestCase):
    def get_app(self):
        return make_app(self.classifier, max_body_bytes=LIMIT)

    def get_httpserver_options(self):
        return server_options(LIMIT)

    def get_http_client(self):
        from tornado.simple_httpclient import SimpleAsyncHTTPClient
        return SimpleAsyncHTTPClient(max_header_size=1 << 20, max_body_size=1 << 24)

    def send(self, case: Case, index: int):
        headers = {"Content-Type": case.content_type} if case.content_type is not None else {}
        if case.name == "gzip content encoding":
            headers["Content-Encoding"] = "gzip"
        return self.fetch(case.path or ENDPOINTS[index % 2], method=case.method, body=case.body,
                          headers=headers, raise_error=False, allow_nonstandard_methods=True,
                          request_timeout=30)

    async def raw(self, data: bytes) -> bytes:
        """Send bytes on a fresh connection (asking to close it after the answer); what comes back."""
        data = data.replace(b" HTTP/1.1\r\n", b" HTTP/1.1\r\nConnection: close\r\n", 1)
        stream = await TCPClient().connect("127.0.0.1", self.get_http_port())
        received = bytearray()
        try:
            await stream.write(data)
            while True:
                received += await asyncio.wait_for(stream.read_bytes(65536, partial=True), 3)
        except (StreamClosedError, ConnectionError):
            return bytes(received)  # closed by the server: the answer, if any, is in
        except TimeoutError:
            return bytes(received)  # still waiting for the rest of a request that will never come
        finally:
            stream.close()

    def test_no_5xx_and_health_answers_after(self):
        rng = random.Random(1234)
        cases = (image_cases(self.photo, rng) + form_cases(self.photo, rng) + header_cases(self.photo)
                 + method_and_path_cases())
        assert len(cases) >= 500
        statuses = {}
        for index, case in enumerate(cases):
            response = self.send(case, index)
            assert response.code < 500, f"{case.name}: {response.code} {response.body[:300]!r}"
            if response.code >= 400 and response.body:
                assert json.loads(response.body)["error"]["status"] == response.code, case.name
            statuses[response.code] = statuses.get(response.code, 0) + 1
        for name, data in RAW_REQUESTS:
            answer = self.io_loop.run_sync(lambda: self.raw(data), timeout=30)
            if answer:  # the server may also just close a connection that breaks HTTP itself
                status = int(answer.split(b" ", 2)[1])
                assert status < 500, f"{name}: {answer[:300]!r}"
        assert self.fetch("/health").code == 200
        good = self.send(Case("good photo", *multipart({"image": ("a.jpg", self.photo)})[::-1]), 0)
        assert good.code == 200
        # every kind of answer showed up, and 5xx never
        assert {200, 400, 404, 405, 413} <= set(statuses), statuses
