"""Fuzz the server with malformed requests: none may get a 5xx, every error is JSON with the
status of the answer, and /health must answer after.

Over 600 requests: truncated and bit-flipped JPEGs, random bytes, decompression-bomb headers,
blank giant images, empty bodies, wrong, unknown and repeated fields, wrong content types and
capitals, non-UTF-8 file names, huge and numerous multipart headers, broken multipart envelopes,
bodies over the limit, query parameters, batches, wrong methods and paths (NUL bytes in static
paths included), every endpoint; then raw HTTP that no client library would send (huge request
headers, bad lengths, bad chunking, chunk extensions, bad versions, HEAD), each of which must get
a JSON answer too.
"""
from __future__ import annotations

import asyncio
import json
import random
import struct
import zlib
from dataclasses import dataclass

import pytest
from tornado.testing import AsyncHTTPTestCase

from deploy.rest_server.http1 import JsonErrorsHTTPServer
from deploy.rest_server.server import make_app, make_serving, server_options
from glasses_core import GlassesClassifier
from serving import MTFL_GLASSES, SHIPPED_MODEL, blank_png, multipart, parse_answer, raw_exchange

LIMIT = 1_000_000  # bytes; small, so that over-limit bodies are cheap to send
ENDPOINTS = ("/glass_no_glass/", "/api/v1/predict", "/api/v1/predict/batch")


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
    for width, height in [(2500, 2000), (6400, 6400), (9000, 5000)]:  # decodable; the last two over 40 MP
        cases.append(Case(f"blank PNG {width}x{height}", blank_png(width, height)))
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
    for variant in ("Multipart/Form-Data", "MULTIPART/FORM-DATA", "multipart/FORM-data"):
        cases.append(Case(f"content type {variant}", body, ct.replace("multipart/form-data", variant)))
    for raw_name in (b"caf\xe9.jpg", b"\xff\xfe.jpg", b"\x80" * 50, "\u00e9t\u00e9.jpg".encode()):
        cases.append(Case(f"file name {raw_name[:10]!r}", body.replace(b'filename="a.jpg"', b'filename="' + raw_name + b'"'), ct))
    for extra in ("threshold", "image2", "Image", "mode"):
        cases.append(Case(f"image and field {extra!r}", *multipart({"image": ("a.jpg", photo), extra: (None, b"1")})[::-1]))
    final_part = f"--{boundary}--\r\n".encode()
    for count in (2, 3, 17, 40):
        cases.append(Case(f"{count} image fields", body[:-len(final_part)] * count + final_part, ct))
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


def query_cases(photo: bytes) -> list[Case]:
    ct, body = multipart({"image": ("a.jpg", photo)})
    queries = ["threshold=", "threshold=0.5", "threshold=abc", "verbose=1", "a=1&b=2", "%ff=%fe", "=", "&&",
               "image=x", "x=" + "y" * 3000]
    return [Case(f"query {q[:20]!r} on {path}", body, ct, "POST", f"{path}?{q}")
            for q in queries for path in ENDPOINTS]


def endpoint_cases() -> list[Case]:
    paths = ("/health", "/ready", "/metrics", "/openapi.json", "/api/v1/model", "/", "/static/app.js",
             "/static/%00", "/static/index.html%00.js", "/static/%00/x", "/%00", "/static/..%2fserver.py",
             "/api/v1/predict/batch/x", "/api/v1/model/x")
    return [Case(f"{method} {path}", None, None, method, path) for method in ("GET", "HEAD", "OPTIONS", "DELETE")
            for path in paths]


def method_and_path_cases() -> list[Case]:
    cases = [Case(f"{method} {path}", b"" if method in ("POST", "PUT", "PATCH") else None, None, method, path)
             for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS")
             for path in ("/glass_no_glass/", "/api/v1/predict", "/api/v1/predict/batch", "/health", "/metrics")]
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
    ("HTTP/3.0", b"GET /health HTTP/3.0\r\nHost: x\r\n\r\n"),
    ("HTTP/0.9 style", b"GET /\r\n\r\n"),
    ("header continuation", b"GET /health HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"),
    ("unsupported transfer encoding", POST + b"Transfer-Encoding: gzip\r\n\r\n"),
    ("transfer encoding list", POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
    ("chunk extension", POST + MULTIPART + CHUNKED + b"5;a=b\r\n--x--\r\n0;c\r\n\r\n"),
    ("long chunk extension", POST + MULTIPART + CHUNKED + b"5;" + b"a" * 900 + b"\r\n--x--\r\n0\r\n\r\n"),
    ("chunk-size line over 1 KB", POST + MULTIPART + CHUNKED + b"5;" + b"a" * 2000 + b"\r\n--x--\r\n0\r\n\r\n"),
    ("chunk not terminated", POST + MULTIPART + CHUNKED + b"5\r\n--x--XX0\r\n\r\n"),
    ("HEAD with bad length", b"HEAD /health HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n"),
    ("HEAD on an upload endpoint", b"HEAD /glass_no_glass/ HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("HEAD health", b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("static NUL", b"GET /static/%00 HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("headers of 100 KB in many lines", b"GET /health HTTP/1.1\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 90)
                                                                              for i in range(1000)) + b"\r\n"),
    ("gzip body", POST + MULTIPART + b"Content-Encoding: gzip\r\nContent-Length: 5\r\n\r\nabcde"),
    ("space before colon", b"GET /health HTTP/1.1\r\nHost : x\r\n\r\n"),
    ("bare LF", b"GET /health HTTP/1.1\nHost: x\n\n"),
]
# Closed without an answer, as documented: no HTTP to answer in, or a chunk-size line over 1 KB
# (Tornado's stream closes the connection itself when a bounded read overflows).
UNANSWERED = {"TLS hello", "chunk-size line over 1 KB"}


@pytest.fixture(scope="class")
def fuzz_inputs(request, data_dir):
    request.cls.classifier = GlassesClassifier(SHIPPED_MODEL)
    request.cls.photo = (data_dir / "mtfl" / MTFL_GLASSES[1]).read_bytes()


@pytest.mark.usefixtures("fuzz_inputs")
@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # Pillow's note on some bit-flipped JPEGs
class FuzzTest(AsyncHTTPTestCase):
    def get_app(self):
        return make_app(make_serving(self.classifier, max_body_bytes=LIMIT))

    def get_http_server(self):
        return JsonErrorsHTTPServer(self._app, **server_options(LIMIT))

    def get_http_client(self):
        from tornado.simple_httpclient import SimpleAsyncHTTPClient
        return SimpleAsyncHTTPClient(max_header_size=1 << 20, max_body_size=1 << 24)

    def send(self, case: Case, index: int):
        headers = {"Content-Type": case.content_type} if case.content_type is not None else {}
        if case.name == "gzip content encoding":
            headers["Content-Encoding"] = "gzip"
        return self.fetch(case.path or ENDPOINTS[index % len(ENDPOINTS)], method=case.method, body=case.body,
                          headers=headers, raise_error=False, allow_nonstandard_methods=True,
                          request_timeout=30)

    def assert_answer(self, name: str, method: str, status: int, content_type: str, body: bytes) -> None:
        assert status < 500, f"{name}: {status} {body[:300]!r}"
        if status >= 400 and method != "HEAD":
            assert content_type.startswith("application/json"), f"{name}: {status} {content_type}"
            assert json.loads(body)["error"]["status"] == status, name

    def test_no_5xx_every_error_json_and_health_answers_after(self):
        rng = random.Random(1234)
        cases = (image_cases(self.photo, rng) + form_cases(self.photo, rng) + header_cases(self.photo)
                 + query_cases(self.photo) + endpoint_cases() + method_and_path_cases())
        assert len(cases) + len(RAW_REQUESTS) >= 600
        statuses = {}
        for index, case in enumerate(cases):
            response = self.send(case, index)
            self.assert_answer(case.name, case.method, response.code, response.headers.get("Content-Type", ""),
                               response.body)
            statuses[response.code] = statuses.get(response.code, 0) + 1
        for name, data in RAW_REQUESTS:
            answer = self.io_loop.run_sync(lambda: raw_exchange(self.get_http_port(), data), timeout=30)
            if name in UNANSWERED:
                assert not answer, f"{name}: {answer[:100]!r}"
                continue
            assert answer, f"{name}: closed without an answer"
            status, headers, body = parse_answer(answer)
            self.assert_answer(name, data.split(b" ", 1)[0].decode("latin-1"), status,
                               headers.get("content-type", ""), body)
            statuses[status] = statuses.get(status, 0) + 1
        assert self.fetch("/health").code == 200
        good = self.send(Case("good photo", *multipart({"image": ("a.jpg", self.photo)})[::-1]), 0)
        assert good.code == 200
        # every kind of answer showed up, and 5xx never
        assert {200, 400, 404, 405, 413, 431} <= set(statuses), statuses
