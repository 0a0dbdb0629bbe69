"""deploy/rest_server/server.py: every endpoint and every error, with tornado.testing."""
from __future__ import annotations

import io
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image
from tornado.testing import AsyncHTTPTestCase

from deploy.rest_server.server import make_app, make_serving, server_options
from glasses_core import GlassesClassifier
from serving import MTFL_GLASSES, MTFL_NO_GLASSES, ROOT, SHIPPED_MODEL, multipart, running_server

LIMIT = 200_000  # a small body limit keeps the 413 tests fast


@pytest.fixture(scope="class")
def classifier(request, data_dir):
    request.cls.classifier = GlassesClassifier(SHIPPED_MODEL)
    request.cls.photos = [data_dir / "mtfl" / p for p in MTFL_GLASSES[:1] + MTFL_NO_GLASSES[:1]]


class ThreadRecorder:
    """Stands in for the classifier and notes which thread each prediction ran in."""

    def __init__(self, classifier: GlassesClassifier):
        self._classifier, self.threads = classifier, []
        self.version, self.threshold, self.config = classifier.version, classifier.threshold, classifier.config
        self.model_id = classifier.model_id

    def predict(self, image):
        self.threads.append(threading.current_thread())
        return self._classifier.predict(image)


@pytest.mark.usefixtures("classifier")
class ServerTest(AsyncHTTPTestCase):
    def get_app(self):
        self.recorder = ThreadRecorder(self.classifier)
        return make_app(make_serving(self.recorder, max_body_bytes=LIMIT))

    def get_httpserver_options(self):
        return server_options(LIMIT)

    def post(self, path: str, fields=None, content_type=None, body=None, **kwargs):
        if fields is not None:
            content_type, body = multipart(fields)
        headers = {"Content-Type": content_type} if content_type else {}
        return self.fetch(path, method="POST", body=body, headers=headers, raise_error=False, **kwargs)

    def assert_error(self, response, status: int, words: str = "") -> dict:
        assert response.code == status, response.body[:300]
        assert response.headers["Content-Type"].startswith("application/json")
        error = json.loads(response.body)["error"]
        assert error["status"] == status and words in error["message"], error
        return error

    # --- the answers -------------------------------------------------------------------------

    def test_glass_no_glass_answers_as_the_core_does(self):
        for photo in self.photos:
            response = self.post("/glass_no_glass/", {"image": (photo.name, photo.read_bytes())})
            assert response.code == 200
            assert json.loads(response.body) == {"answer": self.classifier.predict(photo).answer}

    def test_route_without_trailing_slash(self):
        photo = self.photos[0]
        assert self.post("/glass_no_glass", {"image": ("a.jpg", photo.read_bytes())}).code == 200

    def test_field_without_filename_is_accepted(self):
        assert self.post("/glass_no_glass/", {"image": (None, self.photos[1].read_bytes())}).code == 200

    def test_predict_gives_the_details(self):
        photo = self.photos[0]
        response = self.post("/api/v1/predict", {"image": (photo.name, photo.read_bytes())})
        assert response.code == 200
        body = json.loads(response.body)
        expected = self.classifier.predict(photo).to_dict()
        assert {k: body[k] for k in expected} == expected
        assert body["model_version"] == self.classifier.version and body["model_id"] == self.classifier.model_id
        assert body["image_size"] == list(Image.open(photo).size)
        assert 0 < body["inference_ms"] <= body["time_ms"]
        assert body["face_found"] and len(body["faces"][0]["box"]) == 4

    def test_a_photo_without_a_face_answers_no_face_unless_a_guess_is_asked_for(self):
        """Issue 29: a photo without a face got a firm answer (the fallback crop's) and the
        fallback crop was listed as a face. Now /api/v1/predict says no_face, with the guess
        kept apart (?fallback=1 makes it the answer); /glass_no_glass/ keeps its two answers
        and gives the guess."""
        rng = np.random.default_rng(0)
        noise = Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
        buf = io.BytesIO()
        noise.save(buf, "PNG")
        upload = {"image": ("noise.png", buf.getvalue())}
        guess = self.classifier.predict(buf.getvalue()).fallback
        body = json.loads(self.post("/api/v1/predict", upload).body)
        assert (body["answer"], body["probability"], body["face_found"], body["faces"]) == ("no_face", None, False, [])
        assert body["fallback"] == guess.to_dict() and body["image_size"] == [160, 120]
        assert json.loads(self.post("/api/v1/predict?fallback=0", upload).body)["answer"] == "no_face"
        for flag in ("1", "true"):
            guessed = json.loads(self.post(f"/api/v1/predict?fallback={flag}", upload).body)
            assert (guessed["answer"], guessed["probability"]) == (guess.answer, round(guess.probability, 6))
            assert guessed["face_found"] is False and guessed["faces"] == [] and guessed["fallback"] == body["fallback"]
        assert json.loads(self.post("/glass_no_glass/", upload).body) == {"answer": guess.answer}
        self.assert_error(self.post("/api/v1/predict?fallback=maybe", upload), 400, "fallback must be given once")
        self.assert_error(self.post("/api/v1/predict?fallback=1&fallback=0", upload), 400, "fallback")
        self.assert_error(self.post("/glass_no_glass/?fallback=1", upload), 400, "unknown query parameter")

    def test_without_threads_photos_are_classified_on_the_event_loop_and_large_ones_off_it(self):
        # make_serving without an executor: server.py --threads 0, the default
        self.post("/glass_no_glass/", {"image": ("a.jpg", self.photos[0].read_bytes())})
        assert self.recorder.threads == [threading.main_thread()]
        large = io.BytesIO()
        Image.new("RGB", (2100, 2000), (128, 128, 128)).save(large, "PNG")  # 4.2 MP: the large-image lane
        assert self.post("/glass_no_glass/", {"image": ("large.png", large.getvalue())}).code == 200
        assert len(self.recorder.threads) == 2 and self.recorder.threads[1] is not threading.main_thread()

    def test_with_threads_inference_runs_off_the_event_loop(self):
        pool = ThreadPoolExecutor(1)
        self._app = make_app(make_serving(self.recorder, max_body_bytes=LIMIT, executor=pool))
        self.http_server.request_callback = self._app
        try:
            self.post("/glass_no_glass/", {"image": ("a.jpg", self.photos[0].read_bytes())})
        finally:
            pool.shutdown()
        assert len(self.recorder.threads) == 1 and self.recorder.threads[0] is not threading.main_thread()

    def test_health(self):
        response = self.fetch("/health")
        assert response.code == 200
        assert json.loads(response.body) == {"status": "ok", "model_version": self.classifier.version,
                                             "model_id": self.classifier.model_id}
        assert self.fetch("/health", method="HEAD").code == 200

    def test_page_works_offline(self):
        page = self.fetch("/")
        assert page.code == 200 and page.headers["Content-Type"].startswith("text/html")
        html = page.body.decode()
        assert 'type="file"' in html and "/static/app.js" in html
        for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert not re.match(r"(https?:)?//", asset), f"{asset}: the page must not load from the network"
            if asset.startswith("/static/"):
                assert self.fetch(asset).code == 200, asset
        script = self.fetch("/static/app.js").body.decode()
        assert "/api/v1/predict" in script and "http" not in script.replace("HTTP ", "")

    def test_one_log_line_a_request_with_its_request_id(self):
        with self.assertLogs(level="INFO") as logs:
            first = self.post("/glass_no_glass/", {"image": ("a.jpg", self.photos[0].read_bytes())})
            second = self.post("/glass_no_glass/", {"image": ("a.txt", b"not an image")})
        assert len(logs.records) == 2, logs.output
        first_id, second_id = first.headers["X-Request-Id"], second.headers["X-Request-Id"]
        assert re.fullmatch(r"[0-9a-f]{32}", first_id) and first_id != second_id
        assert re.search(rf"200 POST /glass_no_glass/ \(127.0.0.1\) [\d.]+ms id={first_id} (no_)?glass",
                         logs.output[0])
        assert "400 POST" in logs.output[1] and "a.txt" in logs.output[1] and f"id={second_id}" in logs.output[1]

    def test_a_plain_client_request_id_is_kept_and_others_replaced(self):
        kept = self.fetch("/health", headers={"X-Request-Id": "client-42.a"})
        assert kept.headers["X-Request-Id"] == "client-42.a"
        for given in ("x" * 65, "bad id", "<script>"):
            replaced = self.fetch("/health", headers={"X-Request-Id": given}).headers["X-Request-Id"]
            assert re.fullmatch(r"[0-9a-f]{32}", replaced), given
        error = self.fetch("/nothing", headers={"X-Request-Id": "e-1"})
        assert error.code == 404 and error.headers["X-Request-Id"] == "e-1"

    # --- the errors --------------------------------------------------------------------------

    def test_400_without_image_field(self):
        self.assert_error(self.post("/glass_no_glass/", {"photo": ("a.jpg", self.photos[0].read_bytes())}),
                          400, "no 'image' field")

    def test_400_not_an_image(self):
        for data in (b"hello", b"\xff\xd8\xff\xe0" + b"\0" * 100, self.photos[0].read_bytes()[:2000]):
            error = self.assert_error(self.post("/api/v1/predict", {"image": ("x.jpg", data)}), 400)
            assert "x.jpg" in error["message"]

    def test_400_empty_image(self):
        self.assert_error(self.post("/glass_no_glass/", {"image": ("x.jpg", b"")}), 400, "empty")

    def test_400_wrong_content_type(self):
        raw = self.photos[0].read_bytes()
        for content_type in ("image/jpeg", "application/json", None):
            self.assert_error(self.post("/glass_no_glass/", content_type=content_type, body=raw), 400,
                              "multipart/form-data")

    def test_400_empty_body(self):
        self.assert_error(self.post("/glass_no_glass/", body=b""), 400)
        self.assert_error(self.post("/glass_no_glass/", content_type="multipart/form-data; boundary=x",
                                    body=b""), 400)

    def test_400_malformed_multipart(self):
        content_type, body = multipart({"image": ("a.jpg", self.photos[0].read_bytes())})
        self.assert_error(self.post("/glass_no_glass/", content_type=content_type, body=body[:-10]), 400,
                          "multipart")

    def test_413_body_over_the_limit(self):
        big = np.random.default_rng(0).bytes(LIMIT + 1)
        self.assert_error(self.post("/glass_no_glass/", {"image": ("big.jpg", big)}), 413, "limit")
        self.assert_error(self.post("/api/v1/predict", {"image": ("big.jpg", big)}), 413)
        # the connection still serves what comes next
        assert self.fetch("/health").code == 200

    def test_405_wrong_method(self):
        error = self.assert_error(self.fetch("/glass_no_glass/"), 405, "GET")
        assert self.fetch("/glass_no_glass/").headers["Allow"] == "POST"
        self.assert_error(self.fetch("/api/v1/predict", method="PUT", body=b"x"), 405)
        self.assert_error(self.fetch("/health", method="POST", body=b""), 405)
        self.assert_error(self.fetch("/", method="DELETE"), 405)
        assert "POST" in error["message"]

    def test_404_unknown_path(self):
        self.assert_error(self.fetch("/nothing/here"), 404, "/nothing/here")
        self.assert_error(self.fetch("/static/missing.js"), 404)
        self.assert_error(self.post("/api/v2/predict", {"image": ("a.jpg", b"x")}), 404)


# --- the real process, in the light environment -------------------------------------------------

def test_deploy_imports_no_tensorflow():
    code = ("import sys, deploy.run_on_folder, deploy.rest_server.server; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _slow_upload(url: str, photo: bytes) -> tuple[socket.socket, bytes]:
    """Open a request and send only its headers and the first 1000 bytes of its body."""
    content_type, body = multipart({"image": ("a.jpg", photo)})
    host, port = url.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)), timeout=20)
    conn.sendall(f"POST /glass_no_glass/ HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:1000])
    return conn, body[1000:]


def test_sigterm_finishes_the_requests_in_flight(data_dir):
    photo = (data_dir / "mtfl" / MTFL_GLASSES[0]).read_bytes()
    with running_server(SHIPPED_MODEL) as server:
        conn, rest = _slow_upload(server.url, photo)
        time.sleep(0.3)  # the request has started
        server.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while not any("stopping" in line for line in server.lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        host, port = server.url.removeprefix("http://").split(":")
        with pytest.raises(ConnectionRefusedError):  # no new connections once stopping
            socket.create_connection((host, int(port)), timeout=2)
        conn.sendall(rest)
        response = conn.recv(65536).decode()
        assert response.startswith("HTTP/1.1 200") and '"answer"' in response
        assert server.proc.wait(20) == 0
    assert any("200 POST /glass_no_glass/" in line for line in server.lines)


def test_processes_share_the_port(data_dir):
    from urllib.request import Request, urlopen
    content_type, body = multipart({"image": ("a.jpg", (data_dir / "mtfl" / MTFL_NO_GLASSES[0]).read_bytes())})
    with running_server(SHIPPED_MODEL, "--processes", "2") as server:
        for _ in range(4):
            request = Request(server.url + "/glass_no_glass/", data=body, headers={"Content-Type": content_type})
            with urlopen(request, timeout=20) as response:
                assert json.loads(response.read())["answer"] in ("glass", "no_glass")
    assert server.proc.returncode == 0
    assert sum("listening on" in line for line in server.lines) == 2


def test_a_missing_model_is_a_clear_error(tmp_path):
    from serving import SERVER, deploy_python
    out = subprocess.run([deploy_python(), str(SERVER), "--model", str(tmp_path / "none.json"), "--port", "0"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "none.json" in out.stderr


def test_help_says_what_a_model_file_needs_and_where_it_listens(capsys, tmp_path):
    """Issue 29: --help said a .tflite needs its .json beside it (its metadata inside it is
    enough), and did not say that the default --host is every interface."""
    import shutil
    from urllib.request import urlopen

    from deploy.rest_server.server import parse_args
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert ".tflite (its metadata inside it, or in a .json beside it)" in text
    assert "default 0.0.0.0: every interface; 127.0.0.1: this machine only" in text
    bare = tmp_path / "glasses_int8.tflite"
    shutil.copy(SHIPPED_MODEL.parent / "glasses_int8.tflite", bare)  # no .json beside it
    with running_server(bare) as server:
        with urlopen(server.url + "/ready", timeout=20) as response:
            assert json.loads(response.read())["status"] == "ready"


@pytest.fixture(scope="class")
def kind_classifier(request, data_dir, tiny_kind_model_json):
    request.cls.classifier = GlassesClassifier(tiny_kind_model_json, threshold=0.0)  # every face "wears glasses"
    request.cls.photo = data_dir / "mtfl" / MTFL_GLASSES[0]


@pytest.mark.usefixtures("kind_classifier")
class KindServerTest(AsyncHTTPTestCase):
    """A model that says which glasses: each face's kind and P(dark), the photo's kind, in
    /api/v1/predict and batch; /glass_no_glass/ answers exactly as before."""

    def get_app(self):
        return make_app(make_serving(self.classifier, max_body_bytes=LIMIT))

    def post(self, path: str):
        content_type, body = multipart({"image": ("face.jpg", self.photo.read_bytes())})
        return self.fetch(path, method="POST", body=body, headers={"Content-Type": content_type}, raise_error=False)

    def test_the_kind_is_in_every_answer_but_the_plain_one(self):
        expected = self.classifier.predict(self.photo)
        single = json.loads(self.post("/api/v1/predict").body)
        assert single["kind"] == expected.kind in ("clear", "dark")
        assert [(f["kind"], f["dark_probability"]) for f in single["faces"]] == \
            [(f.kind, round(f.dark_probability, 6)) for f in expected.faces]
        batch = json.loads(self.post("/api/v1/predict/batch").body)["results"]
        assert batch[0]["kind"] == expected.kind
        assert json.loads(self.post("/glass_no_glass/").body) == {"answer": "glass"}
