"""The request handlers: uploads in, JSON out; every error is JSON too."""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import uuid
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from tornado.ioloop import IOLoop
from tornado.web import HTTPError, RequestHandler, StaticFileHandler, stream_request_body

from glasses_core import GlassesClassifier, GlassesError, open_photo
from glasses_core.errors import ImageTooLargeError

from .decode import LARGE_PIXELS, BudgetBusy, PixelBudget, predict
from .form import FormError, FormReader
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import Metrics
from .openapi import openapi_spec

MB = 1024 * 1024
# An over-limit body up to this size is read and thrown away so that the client, still sending,
# gets the 413 instead of a reset connection; beyond it the connection is closed after the 413.
DRAIN_LIMIT = 100 * MB
RETRY_AFTER_S = 5  # told to clients that get a 503
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # a client's X-Request-Id is kept when it looks like this
FLAG_VALUES = {"1": True, "true": True, "0": False, "false": False}  # what ?fallback= may say

access_log = logging.getLogger("glasses.access")
log = logging.getLogger("glasses.server")


def http_error(status: int, message: str) -> HTTPError:
    """An HTTPError whose message reaches the client; passed as an argument so '%' is safe."""
    return HTTPError(status, "%s", message)


@dataclass(frozen=True)
class Limits:
    """What one request may cost; the defaults live in server.py's argument parser."""
    max_body_bytes: int
    max_pixels: int  # per image, and per request for a batch
    max_batch: int  # images in one batch request


class InFlight:
    """Counts the requests being served, so that SIGTERM can wait for them; ``changed(count)``
    hears every change (the metrics' gauge)."""

    def __init__(self):
        self.count = 0
        self.changed = lambda count: None
        self._idle = asyncio.Event()
        self._idle.set()

    def started(self) -> None:
        self.count += 1
        self._idle.clear()
        self.changed(self.count)

    def ended(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()
        self.changed(self.count)

    async def idle(self) -> None:
        await self._idle.wait()


class Serving:
    """What every handler shares: the model (None while it loads), the decode lanes and budget,
    the counts and metrics, and whether the server is stopping.

    ``executor``: the threads that decode and classify ordinary photos; None: the event loop's
    own thread does, between its other work (``--threads 0``). ``large_executor``: the lane of
    images over LARGE_PIXELS; None: the event loop's default thread pool."""

    def __init__(self, limits: Limits, executor: Executor | None, large_executor: Executor | None,
                 decode_pixels: int):
        self.limits, self.executor, self.large_executor = limits, executor, large_executor
        self.classifier: GlassesClassifier | None = None
        self.stopping = False
        self.in_flight = InFlight()
        self.budget = PixelBudget(decode_pixels)
        self.metrics = Metrics(self.in_flight, self.budget)

    def model_loaded(self, classifier: GlassesClassifier) -> None:
        self.classifier = classifier
        self.metrics.model_loaded(classifier.version, classifier.model_id, classifier.threshold)

    @property
    def not_ready(self) -> str:
        """Why the server cannot take predictions now ('' when it can)."""
        if self.stopping:
            return "the server is shutting down"
        return "" if self.classifier is not None else "the model is still loading"


class JsonHandler(RequestHandler):
    """Base of every handler: JSON errors, a request id, CORS when switched on, the in-flight count.
    An HTTPError we raise is logged once, by the access log line, not again with a traceback."""
    endpoint = "other"  # the metrics label of this route

    def set_default_headers(self) -> None:
        self.set_header("X-Request-Id", request_id(self.request))
        origin = self.settings.get("cors_origin")
        if origin:
            self.set_header("Access-Control-Allow-Origin", origin)
            self.set_header("Access-Control-Expose-Headers", "X-Request-Id")
            if origin != "*":
                self.set_header("Vary", "Origin")

    def prepare(self) -> None:
        self.serving.in_flight.started()
        self._counted = True

    def options(self, *args) -> None:
        """CORS preflight, when --cors is given; otherwise OPTIONS is not allowed."""
        if not self.settings.get("cors_origin"):
            raise http_error(405, "")
        self.set_header("Access-Control-Allow-Methods", ", ".join(allowed_methods(self)))
        self.set_header("Access-Control-Allow-Headers", "Content-Type, X-Request-Id")
        self.set_header("Access-Control-Max-Age", "600")
        self.set_status(204)

    def write_error(self, status_code: int, **kwargs) -> None:
        error = kwargs.get("exc_info", (None, None))[1]
        if isinstance(error, HTTPError) and error.log_message:
            message = error.log_message % error.args
        else:
            message = self._reason  # unexpected exceptions: no internals leak to the client
        if status_code == 405:
            allowed = ", ".join(allowed_methods(self))
            self.set_header("Allow", allowed)
            message = f"{self.request.method[:20]} is not allowed here; use {allowed}"
        if status_code == 503:
            self.set_header("Retry-After", str(RETRY_AFTER_S))
        self.log_note = message
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish({"error": {"status": status_code, "message": message}})

    def log_exception(self, typ, value, tb) -> None:
        if not isinstance(value, HTTPError):
            super().log_exception(typ, value, tb)

    def on_finish(self) -> None:
        self._uncount()

    def on_connection_close(self) -> None:
        super().on_connection_close()  # fails a pending body read, which ends the request
        self._uncount()

    def _uncount(self) -> None:
        if getattr(self, "_counted", False):
            self._counted = False
            self.serving.in_flight.ended()


def request_id(request) -> str:
    """The client's X-Request-Id when it is short and plain, else a new one; fixed per request."""
    if not hasattr(request, "request_id"):
        given = request.headers.get("X-Request-Id", "")
        request.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    return request.request_id


def allowed_methods(handler: RequestHandler) -> list[str]:
    cors = bool(handler.settings.get("cors_origin"))
    return [m for m in handler.SUPPORTED_METHODS if (m != "OPTIONS" or cors)
            and getattr(type(handler), m.lower(), None) not in (None, RequestHandler._unimplemented_method)]


def image_name(filename: str | None) -> str:
    return "upload 'image'" if filename is None else f"upload {filename[:100]!r}"


@stream_request_body
class UploadHandler(JsonHandler):
    """Reads a multipart upload with 'image' fields as it arrives, within the size limit; each
    image is checked by its header, then decoded and classified (see Serving) under the
    decode budget. Subclasses shape the answer."""
    SUPPORTED_METHODS = ("POST", "OPTIONS")
    max_images = 1
    takes_fallback = True  # ?fallback=1: a photo without a face answers its fallback crop's guess

    def initialize(self, serving: Serving):
        self.serving, self.limits = serving, serving.limits
        self._size, self._too_large, self._form, self._form_error = 0, False, None, None
        self.fallback = False

    def prepare(self) -> None:
        # Called once the headers are in, before any of the body is read (stream_request_body).
        super().prepare()
        if self.request.method != "POST":
            return
        self.fallback = self._fallback_flag()
        if self.serving.not_ready:
            raise http_error(503, self.serving.not_ready)
        self.request.connection.set_max_body_size(2**62)  # data_received enforces the limits
        declared = self.request.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.limits.max_body_bytes:
            if int(declared) > DRAIN_LIMIT or self.request.headers.get("Expect", "").lower() == "100-continue":
                raise self._over_limit()  # the body is not read: the connection closes after this answer
            self._too_large = True
        try:
            self._form = FormReader(self.request.headers.get("Content-Type", ""), keep=frozenset({"image"}))
        except FormError as err:
            self._form_error = err  # answered once the body is in, so that the client hears it

    def _fallback_flag(self) -> bool:
        """``?fallback=`` (1, true, 0 or false) where the endpoint takes it; 400 for any other query."""
        given = dict(self.request.query_arguments)
        values = given.pop("fallback", []) if self.takes_fallback else []
        if given:
            takes = "only fallback" if self.takes_fallback else "none"
            raise http_error(400, f"unknown query parameter(s) {sorted(given)[:10]}: this endpoint takes {takes}")
        if not values:
            return False
        flag = FLAG_VALUES.get(values[-1].decode("latin-1").lower()) if len(values) == 1 else None
        if flag is None:
            raise http_error(400, "fallback must be given once, as 1, true, 0 or false")
        return flag

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > DRAIN_LIMIT and not self._finished:
            self.send_error(413, exc_info=(HTTPError, self._over_limit(), None))  # then the connection closes
        elif self._size > self.limits.max_body_bytes:
            self._too_large, self._form = True, None
        elif self._form is not None and self._form_error is None:
            try:
                self._form.feed(chunk)
            except FormError as err:
                self._form_error, self._form = err, None

    def images(self) -> list[tuple[bytes, str]]:
        """(data, name) of each 'image' field; 400 or 413 for a body that is not one to our liking."""
        if self._too_large:
            raise self._over_limit()
        try:
            if self._form_error:
                raise self._form_error
            parts = self._form.close()
        except FormError as err:
            raise http_error(400, str(err))
        images = [(bytes(p.data), image_name(p.filename)) for p in parts if p.name == "image"]
        others = sorted({p.name[:50] for p in parts} - {"image"})
        if not images:
            raise http_error(400, f"no 'image' field in the form (fields: {others[:10]})")
        if others:
            raise http_error(400, f"unknown form field(s) {others[:10]}: send only 'image'")
        if len(images) > self.max_images:
            raise http_error(400, f"{len(images)} 'image' fields; this endpoint takes at most {self.max_images} "
                                  "(several photos: POST /api/v1/predict/batch)")
        return images

    async def classify(self, data: bytes, name: str, pixel_allowance: int | None = None):
        """(PhotoResult, (height, width), milliseconds) for one image, or an HTTPError."""
        try:
            photo = open_photo(data, name)  # on the event loop: only its header is read, no pixel decoded
        except ImageTooLargeError as err:
            raise http_error(413, str(err))
        except GlassesError as err:
            raise http_error(400, str(err))
        header = photo.header
        allowance = self.limits.max_pixels if pixel_allowance is None else pixel_allowance
        if header.pixels > allowance:
            raise http_error(413, f"{name}: {header.pixels / 1e6:.1f} megapixels, over the "
                                  f"{allowance / 1e6:g} megapixel limit of this request")
        large = header.cost > LARGE_PIXELS
        try:
            async with self.serving.budget.hold(header.cost):
                if not large and self.serving.executor is None:  # --threads 0: on the event loop's thread
                    return predict(self.serving.classifier, photo)
                lane = self.serving.large_executor if large else self.serving.executor
                return await IOLoop.current().run_in_executor(lane, predict, self.serving.classifier, photo)
        except BudgetBusy as err:
            raise http_error(503, str(err))
        except ImageTooLargeError as err:
            raise http_error(413, str(err))
        except GlassesError as err:
            raise http_error(400, str(err))

    def _over_limit(self) -> HTTPError:
        return http_error(413, f"body over the {self.limits.max_body_bytes / MB:g} MB limit")


def details(serving: Serving, result, size: tuple[int, int], inference_ms: float) -> dict:
    """The full answer for one photo: faces, boxes, probabilities, image size, model, time."""
    height, width = size
    return {**result.to_dict(), "image_size": [width, height], "model_version": serving.classifier.version,
            "model_id": serving.classifier.model_id, "threshold": serving.classifier.threshold, "inference_ms": round(inference_ms, 2)}


class OnePhotoHandler(UploadHandler):
    """One 'image' field, one answer, shaped by ``answer``."""

    async def post(self) -> None:
        (data, name), = self.images()
        result, size, inference_ms = await self.classify(data, name)
        result = result.guessed() if self.fallback else result
        self.log_note = result.answer
        self.write(self.answer(result, size, inference_ms))

    def answer(self, result, size: tuple[int, int], inference_ms: float) -> dict:
        raise NotImplementedError


class AnswerHandler(OnePhotoHandler):
    """Exactly "glass" or "no_glass", as this endpoint always said: a photo without a face gets
    its fallback crop's guess (/api/v1/predict tells such a photo apart)."""
    endpoint = "/glass_no_glass/"
    takes_fallback = False

    def answer(self, result, size, inference_ms) -> dict:
        return {"answer": result.guessed().answer}


class PredictHandler(OnePhotoHandler):
    endpoint = "/api/v1/predict"

    def answer(self, result, size, inference_ms) -> dict:
        return {**details(self.serving, result, size, inference_ms),
                "time_ms": round(1000.0 * self.request.request_time(), 2)}


class BatchHandler(UploadHandler):
    """Several 'image' fields, one result each, in order; an image that fails gets its own error."""
    endpoint = "/api/v1/predict/batch"

    def initialize(self, serving: Serving):
        super().initialize(serving)
        self.max_images = serving.limits.max_batch

    async def post(self) -> None:
        results, allowance = [], self.limits.max_pixels  # the request's pixels, all images together
        for index, (data, name) in enumerate(self.images()):
            try:
                result, size, inference_ms = await self.classify(data, name, allowance)
                result = result.guessed() if self.fallback else result
                allowance -= size[0] * size[1]
                results.append({"index": index, **details(self.serving, result, size, inference_ms)})
            except HTTPError as err:
                results.append({"index": index, "error": {"status": err.status_code,
                                                          "message": err.log_message % err.args}})
            except Exception:  # a failure of ours on this image: logged; the other images still answer
                log.exception("%s: unexpected error in a batch", name)
                results.append({"index": index, "error": {"status": 500, "message": f"{name}: internal error"}})
        self.log_note = f"{sum('error' not in r for r in results)}/{len(results)} answered"
        self.write({"results": results, "time_ms": round(1000.0 * self.request.request_time(), 2)})


class HealthHandler(JsonHandler):
    """Liveness: the process answers (the model may still be loading)."""
    SUPPORTED_METHODS = ("GET", "HEAD", "OPTIONS")
    endpoint = "/health"

    def initialize(self, serving: Serving):
        self.serving = serving

    def get(self) -> None:
        classifier = self.serving.classifier
        self.write({"status": "ok", "model_version": classifier.version if classifier else None,
                    "model_id": classifier.model_id if classifier else None})

    head = get


class ReadyHandler(HealthHandler):
    """Readiness: 200 once the model is loaded, 503 while it loads and once shutdown has begun."""
    endpoint = "/ready"

    def get(self) -> None:
        if self.serving.not_ready:
            raise http_error(503, f"not ready: {self.serving.not_ready}")
        self.write({"status": "ready", "model_version": self.serving.classifier.version,
                    "model_id": self.serving.classifier.model_id})

    head = get


class ModelHandler(HealthHandler):
    """What the served model is and expects: version, labels, threshold, input, crop, limits."""
    endpoint = "/api/v1/model"

    def get(self) -> None:
        if self.serving.classifier is None:
            raise http_error(503, "the model is still loading")
        config = self.serving.classifier.config
        size = config.crop.size
        self.write({"version": config.version, "model_id": config.identity, "labels": list(config.labels),
                    "threshold": self.serving.classifier.threshold, "description": config.description,
                    "input": {"shape": [1, size, size, 3], "format": self.serving.classifier.input_format},
                    "crop": dataclasses.asdict(config.crop),
                    "limits": {"max_body_mb": self.serving.limits.max_body_bytes / MB,
                               "max_megapixels": self.serving.limits.max_pixels / 1e6,
                               "max_batch_images": self.serving.limits.max_batch}})

    head = get


class MetricsHandler(HealthHandler):
    """Prometheus' text format."""
    endpoint = "/metrics"

    def get(self) -> None:
        self.set_header("Content-Type", METRICS_CONTENT_TYPE)
        self.write(self.serving.metrics.exposition())

    head = get


class OpenApiHandler(HealthHandler):
    """The OpenAPI description; its version is the served model's, so it waits for the model."""
    endpoint = "/openapi.json"

    def get(self) -> None:
        if self.serving.classifier is None:
            raise http_error(503, "the model is still loading")
        self.write(openapi_spec(self.serving.classifier.version, self.serving.limits.max_batch))

    head = get


class PageHandler(JsonHandler, StaticFileHandler):
    """The web page and its script and style, all served from static/ (no CDN: works offline)."""
    SUPPORTED_METHODS = ("GET", "HEAD", "OPTIONS")
    endpoint = "static"

    def initialize(self, serving: Serving, path: str, default_filename: str | None = None):
        self.serving = serving
        super().initialize(path, default_filename)

    def parse_url_path(self, url_path: str) -> str:
        if "\0" in url_path:  # os.path would raise ValueError (a 500) on it
            raise http_error(404, f"no such resource: {self.request.path[:200]}")
        return super().parse_url_path(url_path)


class VendorHandler(PageHandler):
    """LiteRT.js's module and WebAssembly files, as npm installed them (node_modules/@litertjs)."""

    def get_content_type(self) -> str:
        return "application/wasm" if self.absolute_path.endswith(".wasm") else super().get_content_type()


class OnDeviceHandler(JsonHandler):
    """What the page's on-device mode loads, by fixed names: the served model's config
    (``model.json``), its fixed-batch TFLite file (``classifier.tflite``), BlazeFace short-range
    and the face mesh. Static files: they answer while the model loads, and never run it."""
    SUPPORTED_METHODS = ("GET", "HEAD", "OPTIONS")
    endpoint = "static"

    def initialize(self, serving: Serving, files: dict[str, bytes | Path]):
        self.serving = serving
        self.files = files

    def get(self, name: str) -> None:
        if name not in self.files:
            raise http_error(404, f"no such resource: {self.request.path[:200]}; the on-device files are "
                                  f"{', '.join(sorted(self.files))}")
        found = self.files[name]
        if isinstance(found, Path):
            if not found.is_file():
                raise http_error(404, f"{name}: {found} is missing"
                                      + (" (python3 converters/batch_one.py makes it)" if name == "classifier.tflite" else ""))
            found = found.read_bytes()
        self.set_header("Content-Type", "application/json" if name.endswith(".json") else "application/octet-stream")
        self.set_header("Cache-Control", "no-cache")
        self.finish(found)


class NotFoundHandler(JsonHandler):
    def initialize(self, serving: Serving):
        self.serving = serving

    def prepare(self) -> None:
        super().prepare()
        raise http_error(404, f"no such resource: {self.request.path[:200]}")


def log_request(handler: RequestHandler) -> None:
    """The one log line of a request (status, method, path, client, milliseconds, request id,
    answer or error), and its metrics."""
    status, seconds = handler.get_status(), handler.request.request_time()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    note = getattr(handler, "log_note", "")
    access_log.log(level, "%d %s %s (%s) %.1fms id=%s%s", status, handler.request.method[:20],
                   handler.request.uri[:200], handler.request.remote_ip, 1000.0 * seconds,
                   request_id(handler.request), f" {note}" if note else "")
    serving = getattr(handler, "serving", None)
    if serving is not None:
        serving.metrics.observe(getattr(handler, "endpoint", "other"), handler.request.method, status, seconds)
