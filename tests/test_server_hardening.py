"""Issue 15, server findings 8, 9, 10 and 12: each test here failed on the server before the fix."""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest
from tornado.testing import AsyncHTTPTestCase, gen_test

from deploy.rest_server import decode, handlers
from deploy.rest_server.http1 import JsonErrorsHTTPServer
from deploy.rest_server.server import make_app, make_serving, server_options
from glasses_core import GlassesClassifier, Photo
from serving import MTFL_GLASSES, SHIPPED_MODEL, blank_png, json_error, multipart, raw_exchange

LIMIT = 1_000_000


@pytest.fixture(scope="class")
def photo(request, data_dir):
    request.cls.classifier = GlassesClassifier(SHIPPED_MODEL)
    request.cls.photo = (data_dir / "mtfl" / MTFL_GLASSES[0]).read_bytes()


class HoldingClassifier:
    """The real classifier, except that photos over ``hold_over`` pixels wait for ``release``."""

    def __init__(self, classifier: GlassesClassifier, hold_over: int):
        self._classifier, self.hold_over = classifier, hold_over
        self.version, self.threshold, self.config = classifier.version, classifier.threshold, classifier.config
        self.model_id = classifier.model_id
        self.release, self.holding = threading.Event(), threading.Event()

    def predict(self, photo):
        if photo.size[0] * photo.size[1] > self.hold_over:
            self.holding.set()
            assert self.release.wait(20), "never released"
        return self._classifier.predict(photo)


class HardeningTest(AsyncHTTPTestCase):
    serving_options: dict = {}

    def get_app(self):
        self.serving = make_serving(self.make_classifier(), max_body_bytes=LIMIT, **self.serving_options)
        return make_app(self.serving)

    def make_classifier(self):
        return self.classifier

    def get_http_server(self):
        return JsonErrorsHTTPServer(self._app, **server_options(LIMIT))

    def post(self, path: str, fields: dict, **kwargs):
        content_type, body = multipart(fields)
        return self.fetch(path, method="POST", body=body, headers={"Content-Type": content_type},
                          raise_error=False, **kwargs)

    def raw(self, data: bytes, timeout: float = 3.0) -> bytes:
        return self.io_loop.run_sync(lambda: raw_exchange(self.get_http_port(), data, timeout), timeout=60)

    def assert_json_error(self, response, status: int, *words: str) -> str:
        assert response.code == status, (response.code, response.body[:300])
        assert response.headers["Content-Type"].startswith("application/json")
        error = json.loads(response.body)["error"]
        assert error["status"] == status and all(w in error["message"] for w in words), error
        return error["message"]


@pytest.mark.usefixtures("photo")
class StaticAndFormTest(HardeningTest):
    # --- 8: a NUL byte in a static path was a 500 -----------------------------------------------

    def test_static_paths_with_nul_are_404(self):
        for path in ("/static/%00", "/static/index.html%00.js", "/static/%00/app.js"):
            self.assert_json_error(self.fetch(path), 404, "no such resource")
        assert self.fetch("/static/app.js").code == 200

    # --- 9: valid requests that were refused, and invalid ones that were ignored ------------------

    def test_media_type_is_case_insensitive(self):
        content_type, body = multipart({"image": ("a.jpg", self.photo)})
        for variant in (content_type.replace("multipart/form-data", "Multipart/Form-Data"),
                        content_type.replace("multipart/form-data", "MULTIPART/FORM-DATA").replace("boundary", "BOUNDARY")):
            response = self.fetch("/glass_no_glass/", method="POST", body=body, headers={"Content-Type": variant})
            assert json.loads(response.body) == {"answer": self.classifier.predict(self.photo).answer}, variant

    def test_non_utf8_file_name_is_accepted(self):
        response = self.post("/api/v1/predict", {"image": ("caf\xe9.jpg", self.photo)})  # encoded below
        assert response.code == 200
        content_type, body = multipart({"image": ("NAME", self.photo)})
        body = body.replace(b'filename="NAME"', b'filename="caf\xe9 \xff.jpg"')
        response = self.fetch("/api/v1/predict", method="POST", body=body, headers={"Content-Type": content_type})
        assert response.code == 200 and json.loads(response.body)["answer"] == "glass"
        broken = body.replace(self.photo[:3000], b"")
        self.assert_json_error(self.fetch("/api/v1/predict", method="POST", body=broken,
                                          headers={"Content-Type": content_type}, raise_error=False),
                               400, "caf\ufffd \ufffd.jpg")

    def test_query_parameters_are_refused_by_name(self):
        for query, name in (("threshold=", "threshold"), ("threshold=0.5", "threshold"), ("verbose=1", "verbose")):
            for path in ("/glass_no_glass/", "/api/v1/predict", "/api/v1/predict/batch"):
                response = self.post(f"{path}?{query}", {"image": ("a.jpg", self.photo)})
                self.assert_json_error(response, 400, f"'{name}'")

    def test_a_second_image_field_is_refused(self):
        content_type, body = multipart({"image": ("a.jpg", self.photo)})
        boundary = content_type.split("=", 1)[1]
        twice = body.replace(f"--{boundary}--".encode(), body[:-len(f"--{boundary}--\r\n")] + f"--{boundary}--".encode())
        for path in ("/glass_no_glass/", "/api/v1/predict"):
            response = self.fetch(path, method="POST", body=twice, headers={"Content-Type": content_type},
                                  raise_error=False)
            self.assert_json_error(response, 400, "2 'image' fields", "/api/v1/predict/batch")

    def test_an_unknown_field_beside_the_image_is_refused_by_name(self):
        response = self.post("/glass_no_glass/", {"image": ("a.jpg", self.photo), "threshold": (None, b"0.1")})
        self.assert_json_error(response, 400, "'threshold'")

    def test_the_answer_keeps_its_exact_shape(self):
        response = self.post("/glass_no_glass/", {"image": ("a.jpg", self.photo)})
        assert json.loads(response.body) == {"answer": "glass"}


@pytest.mark.usefixtures("photo")
class RawHttpTest(HardeningTest):
    """Requests that break HTTP itself: Tornado answered an empty 400 or reset the connection."""

    def test_malformed_requests_get_json_400(self):
        post = b"POST /glass_no_glass/ HTTP/1.1\r\nHost: x\r\n"
        for request in (b"GET /health HTTP/1.1\r\nHost x\r\n\r\n",
                        b"GET /health HTTP/1.1\r\nHost: x\r\n bad continuation\r\n\r\n",
                        b"GET /health HTTP/3.0\r\nHost: x\r\n\r\n",
                        b"GET /health\r\n\r\n",
                        b"\x00\x01\x02 garbage\r\n\r\n",
                        post + b"Content-Length: abc\r\n\r\n",
                        post + b"Content-Length: -5\r\n\r\n",
                        post + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                        post + b"Transfer-Encoding: gzip\r\n\r\n",
                        post + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
                        post + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
                        b"HEAD /health HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n"):
            status, headers, body = json_error(self.raw(request))
            assert status == 400 and body["error"]["status"] == 400, request[:80]
            assert headers["content-type"].startswith("application/json")
            assert "malformed HTTP request" in body["error"]["message"]

    def test_head_requests_get_headers_only(self):
        answer = self.raw(b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"\r\n\r\n")
        answer = self.raw(b"HEAD /glass_no_glass/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 405") and b"Allow: POST" in answer and answer.endswith(b"\r\n\r\n")

    def test_headers_over_64_kb_get_json_431(self):
        request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
        status, _, body = json_error(self.raw(request))
        assert status == 431 and "64 KB" in body["error"]["message"]
        many = b"GET /health HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(9000)) + b"\r\n"
        assert json_error(self.raw(many))[0] == 431
        assert self.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Fine: " + b"a" * 60_000 + b"\r\n\r\n").startswith(
            b"HTTP/1.1 200")

    def test_chunk_extensions_are_accepted(self):
        content_type, body = multipart({"image": ("a.jpg", self.photo)})
        half = len(body) // 2
        chunks = (b"%x;name=value\r\n" % half + body[:half] + b"\r\n"
                  + b'%x ; a="quoted;" ; b\r\n' % (len(body) - half) + body[half:] + b"\r\n" + b"0;last\r\n\r\n")
        request = (b"POST /glass_no_glass/ HTTP/1.1\r\nHost: x\r\nContent-Type: " + content_type.encode()
                   + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
        answer = self.raw(request)
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"answer": "glass"}'), answer[:300]

    # --- 12: a chunked upload over the drain limit got an empty 400 -----------------------------

    def test_chunked_upload_over_the_drain_limit_gets_json_413(self):
        with mock.patch.object(handlers, "DRAIN_LIMIT", 2_000_000):  # 200 MB in the issue; the same path
            status, headers, error = json_error(self.raw(chunked_upload(40)))  # 2.6 MB
        assert status == 413 and "limit" in error["error"]["message"] and headers["connection"] == "close"
        # over the body limit but under the drain limit: read to the end, and the same 413
        assert json_error(self.raw(chunked_upload(20)))[0] == 413


def chunked_upload(chunks: int, size: int = 65536) -> bytes:
    """A chunked POST of ``chunks`` chunks of ``size`` bytes each."""
    body = (b"%x\r\n" % size + b"a" * size + b"\r\n") * chunks + b"0\r\n\r\n"
    return (b"POST /glass_no_glass/ HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + body)


@pytest.mark.usefixtures("photo")
class PixelLimitTest(HardeningTest):
    """10: an image's cost is its pixels, read from its header before decoding."""
    serving_options = dict(max_pixels=2_000_000)

    def test_an_image_over_the_pixel_limit_is_413_before_decoding(self):
        with mock.patch.object(Photo, "_decode", side_effect=AssertionError("decoded")):
            response = self.post("/glass_no_glass/", {"image": ("big.png", blank_png(2000, 1001))})
        self.assert_json_error(response, 413, "big.png", "2.0 megapixels", "limit")

    def test_an_upload_is_opened_and_its_header_checked_once(self):
        from glasses_core import image_header, image_io
        checks = mock.Mock(wraps=image_header.checked)
        with mock.patch.object(image_header, "checked", checks), mock.patch.object(image_io, "checked", checks):
            response = self.post("/glass_no_glass/", {"image": ("a.jpg", self.photo)})
        assert response.code == 200 and checks.call_count == 1

    def test_a_batch_is_held_to_the_pixel_limit_in_all(self):
        image = blank_png(1000, 800)  # 0.8 MP: two fit in 2 MP, the third does not
        content_type, body = multipart({"image": ("a.png", image)})
        boundary = content_type.split("=", 1)[1]
        part = body[: -len(f"--{boundary}--\r\n")]
        response = self.fetch("/api/v1/predict/batch", method="POST", body=part * 3 + f"--{boundary}--\r\n".encode(),
                              headers={"Content-Type": content_type})
        results = json.loads(response.body)["results"]
        assert [r["index"] for r in results] == [0, 1, 2]
        assert "answer" in results[0] and "answer" in results[1] and results[2]["error"]["status"] == 413


class HoldingTest(HardeningTest):
    """A server with one inference thread per lane whose classifier holds photos over
    ``hold_over`` pixels until the test releases them (``self.holder``)."""
    hold_over = decode.LARGE_PIXELS

    def make_classifier(self):
        self.holder = HoldingClassifier(self.classifier, hold_over=self.hold_over)
        return self.holder

    def get_app(self):
        self.serving_options = dict(self.serving_options, executor=ThreadPoolExecutor(1),
                                    large_executor=ThreadPoolExecutor(1))
        return super().get_app()

    def tearDown(self):
        self.holder.release.set()
        super().tearDown()


@pytest.mark.usefixtures("photo")
class DecodeBudgetTest(HoldingTest):
    """10: the megapixels decoded at once are bounded; large images have a lane of their own."""
    serving_options = dict(max_pixels=5_000_000, decode_pixels=6_000_000)

    def fetch_async(self, fields: dict):
        content_type, body = multipart(fields)
        return self.http_client.fetch(self.get_url("/glass_no_glass/"), method="POST", body=body,
                                      headers={"Content-Type": content_type}, raise_error=False,
                                      request_timeout=30)

    @gen_test(timeout=60)
    async def test_a_large_image_does_not_hold_up_ordinary_photos_and_the_budget_refuses_more(self):
        large = blank_png(2200, 2000)  # 4.4 MP: the large lane, and most of the 6 MP budget
        first = self.fetch_async({"image": ("large.png", large)})
        while not self.holder.holding.is_set():  # the large image is being decoded (held)
            await gen_sleep(0.02)
        assert self.serving.budget.used == 4_400_000  # its pixels (no canvas of the widened look since preprocessing 13)
        ordinary = await self.fetch_async({"image": ("face.jpg", self.photo)})  # the one ordinary thread
        assert ordinary.code == 200 and json.loads(ordinary.body) == {"answer": "glass"}
        with mock.patch.object(self.serving.budget, "wait_s", 0.3):
            second = await self.fetch_async({"image": ("large2.png", large)})  # no room: waits, then 503
        self.assert_json_error(second, 503, "megapixels", "retry")
        assert second.headers["Retry-After"].isdigit()
        self.holder.release.set()
        assert (await first).code == 200
        assert self.serving.budget.used == 0


async def gen_sleep(seconds: float) -> None:
    import asyncio
    await asyncio.sleep(seconds)
