"""Issue 30, the server's findings: each test here failed on the server before the fix."""
from __future__ import annotations

import json
import sys
from unittest import mock

import pytest
from PIL import IcoImagePlugin, Image
from tornado.testing import gen_test

from deploy.rest_server import decode
from glasses_core import GlassesClassifier, Photo
from glasses_core.image_header import DEFAULT_WEIGHTS
from serving import MTFL_GLASSES, ROOT, SHIPPED_MODEL, json_error, multipart
from test_server_hardening import HardeningTest, HoldingTest, gen_sleep

sys.path.insert(0, str(ROOT / "benchmarks"))
from hostile_images import blank, encode, ico_holding, png_claiming  # noqa: E402

ONE_IMAGE = ("/glass_no_glass/", "/api/v1/predict")


@pytest.fixture(scope="class")
def photos(request, data_dir):
    request.cls.classifier = GlassesClassifier(SHIPPED_MODEL)
    request.cls.photo = (data_dir / "mtfl" / MTFL_GLASSES[0]).read_bytes()
    face = Image.open(data_dir / "mtfl" / "lfw_5590" / "Aaron_Eckhart_0001.jpg").convert("RGB")
    avif = bytearray(encode(face, "AVIF", quality=60))
    start = avif.find(b"mdat") + 4 + 8
    avif[start:start + 64] = bytes(64)  # the mutation, past the sequence header: libavif's RuntimeError
    request.cls.broken_avif = bytes(avif)


def batch(*images: tuple[str, bytes]) -> tuple[str, bytes]:
    """(Content-Type, body) of a batch upload of several 'image' fields."""
    content_type, body = multipart({"image": images[0]})
    boundary = content_type.split("=", 1)[1]
    end = f"--{boundary}--\r\n".encode()
    parts = b"".join(multipart({"image": image}, boundary)[1][:-len(end)] for image in images)
    return content_type, parts + end


@pytest.mark.usefixtures("photos")
class HostileInputTest(HardeningTest):
    def post_raw(self, path: str, content_type: str, body: bytes):
        return self.fetch(path, method="POST", body=body, headers={"Content-Type": content_type}, raise_error=False)

    # --- 1: a boundary over 256 characters was a 500 (FormParserError from the parser's constructor)

    def test_a_boundary_over_256_characters_is_a_400(self):
        for length, status in ((256, 200), (257, 400), (5000, 400)):
            content_type, body = multipart({"image": ("a.jpg", self.photo)}, boundary="b" * length)
            for path in (*ONE_IMAGE, "/api/v1/predict/batch"):
                response = self.post_raw(path, content_type, body)
                if status == 200:
                    assert response.code == 200, (length, path, response.body[:200])
                else:
                    self.assert_json_error(response, 400, "malformed multipart/form-data", "Boundary length")

    # --- 2: a corrupt AVIF was a 500, and took the whole batch with it ---------------------------

    def test_a_corrupt_avif_is_a_400_and_its_own_error_in_a_batch(self):
        for path in ONE_IMAGE:
            response = self.post(path, {"image": ("face.avif", self.broken_avif)})
            self.assert_json_error(response, 400, "face.avif", "not a readable image")
        response = self.post_raw("/api/v1/predict/batch", *batch(("face.avif", self.broken_avif),
                                                                  ("face.jpg", self.photo)))
        assert response.code == 200
        first, second = json.loads(response.body)["results"]
        assert first["error"]["status"] == 400 and "face.avif" in first["error"]["message"]
        assert second["answer"] == "glass"

    def test_an_unexpected_failure_on_one_image_of_a_batch_spares_the_others(self):
        real = decode.predict

        def failing(classifier, photo):
            if "bad" in photo.label:
                raise ZeroDivisionError("a bug of ours")
            return real(classifier, photo)
        with mock.patch.object(decode, "predict", failing), mock.patch("deploy.rest_server.handlers.predict", failing):
            response = self.post_raw("/api/v1/predict/batch", *batch(("bad.jpg", self.photo), ("good.jpg", self.photo)))
        assert response.code == 200
        first, second = json.loads(response.body)["results"]
        assert first == {"index": 0, "error": {"status": 500, "message": "upload 'bad.jpg': internal error"}}
        assert second["answer"] == "glass"

    # --- 3: an ICO was decoded whole to learn its size, on the event loop, outside the budget ------

    def test_an_icon_is_refused_without_being_decoded(self):
        icon = ico_holding(blank("PNG", (3000, 3000), "RGBA"))
        with mock.patch.object(IcoImagePlugin.IcoFile, "frame", side_effect=AssertionError("decoded")):
            for path in ONE_IMAGE:
                response = self.post(path, {"image": ("icon.ico", icon)})
                self.assert_json_error(response, 400, "icon.ico", "ICO format, which is not accepted")

    # --- 4: a 1 x 39,999,999 PNG was under 40 MP and cost seconds and 800 MB a request -------------

    def test_a_side_over_the_limit_is_413_before_decoding(self):
        with mock.patch.object(Photo, "_decode", side_effect=AssertionError("decoded")):
            for path in ONE_IMAGE:
                response = self.post(path, {"image": ("tall.png", png_claiming(1, 39_999_999))})
                self.assert_json_error(response, 413, "tall.png", "1x39999999", "side over the 16,384 pixel limit")

    # --- minor: a bomb was "179.0 megapixels" whatever its size --------------------------------------

    def test_a_bomb_is_413_with_its_own_size(self):
        for (width, height), megapixels in (((20000, 20000), "400.0"), ((65535, 65535), "4294.8")):
            response = self.post("/api/v1/predict", {"image": ("bomb.png", png_claiming(width, height))})
            message = self.assert_json_error(response, 413, "bomb.png", f"{megapixels} megapixels")
            assert "179.0" not in message

    # --- minor: a chunked body with bare LF line ends got no answer until the body timeout ----------

    def test_a_chunked_body_with_bare_lf_lines_gets_a_json_400_at_once(self):
        request = (b"POST /glass_no_glass/ HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n5\n--x--\n0\n\n")
        status, _, error = json_error(self.raw(request, timeout=3.0))  # silence for 3 s: no answer
        assert status == 400 and "bare LF" in error["error"]["message"]
        good = (b"POST /glass_no_glass/ HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n5\r\n--x--\r\n0\r\n\r\n")
        status, _, error = json_error(self.raw(good))
        assert status == 400 and "no 'image' field" in error["error"]["message"]


@pytest.mark.usefixtures("photos")
class DecodeCostTest(HoldingTest):
    """Every decode holds its cost from the budget: what decoding to RGB takes, not just pixels."""
    serving_options = dict(max_pixels=5_000_000, decode_pixels=20_000_000)
    hold_over = 500_000

    @gen_test(timeout=60)
    async def test_an_image_with_alpha_holds_its_weighed_pixels(self):
        content_type, body = multipart({"image": ("alpha.png", blank("PNG", (1000, 1000), "RGBA"))})
        pending = self.http_client.fetch(self.get_url("/glass_no_glass/"), method="POST", body=body,
                                         headers={"Content-Type": content_type}, raise_error=False)
        while not self.holder.holding.is_set():
            await gen_sleep(0.02)
        # 1 MP of RGBA, laid on white
        assert self.serving.budget.used == DEFAULT_WEIGHTS[1] * 1_000_000
        self.holder.release.set()
        assert (await pending).code == 200 and self.serving.budget.used == 0
