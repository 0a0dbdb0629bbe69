"""The REST server: post a photo, hear whether someone in it wears glasses.

    python3 deploy/rest_server/server.py [--port 8888] [--host 0.0.0.0] [--model FILE]
                                         [--max-body-mb 10] [--processes 1] [--threads N]

    POST /glass_no_glass/  multipart field "image"  -> {"answer": "glass"} or {"answer": "no_glass"}
    POST /api/v1/predict   the same input            -> answer, probability, each face's box and
                                                        probability, model version, time taken
    GET  /health                                     -> {"status": "ok", "model_version": ...}
    GET  /                                           a web page: choose or drop a photo, see the
                                                        answer and the face boxes drawn on it

Every error is JSON, {"error": {"status": 400, "message": "..."}}: 400 for a body without an
image or an image that cannot be read, 413 for a body over --max-body-mb, 404, 405.
Inference runs in a thread pool so the event loop never blocks; SIGTERM stops accepting
connections, lets the requests in flight finish, then exits. One log line a request.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
import traceback
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path

from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPInputError, parse_body_arguments
from tornado.ioloop import IOLoop
from tornado.netutil import bind_sockets
from tornado.web import Application, HTTPError, RequestHandler, StaticFileHandler, stream_request_body

from glasses_core import GlassesClassifier, GlassesError, load_image

DEFAULT_PORT = 8888
DEFAULT_MAX_BODY_MB = 10.0  # uploads larger than this are answered with 413
MB = 1024 * 1024
# An over-limit body up to this size is read and thrown away so that the client, still sending,
# gets the 413 instead of a reset connection; beyond it the connection is closed.
DRAIN_LIMIT = 100 * MB
SHUTDOWN_GRACE_S = 30.0  # after SIGTERM, how long the requests in flight may take to finish
CLIENT_TIMEOUT_S = 60.0  # idle keep-alive connections and slow uploads are dropped after this
STATIC = Path(__file__).resolve().parent / "static"

log = logging.getLogger("glasses.server")
access_log = logging.getLogger("glasses.access")


def http_error(status: int, message: str) -> HTTPError:
    """An HTTPError whose message reaches the client; passed as an argument so '%' is safe."""
    return HTTPError(status, "%s", message)


class InFlight:
    """Counts the uploads being served, so that SIGTERM can wait for them."""

    def __init__(self):
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def started(self) -> None:
        self.count += 1
        self._idle.clear()

    def ended(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def idle(self) -> None:
        await self._idle.wait()


class JsonErrors:
    """Mixed into every handler: errors are JSON, and an HTTPError we raise is logged once,
    by the access log line, instead of once more with a traceback."""

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
        self.log_note = message
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish({"error": {"status": status_code, "message": message}})

    def log_exception(self, typ, value, tb) -> None:
        if not isinstance(value, HTTPError):
            super().log_exception(typ, value, tb)


def allowed_methods(handler: RequestHandler) -> list[str]:
    return [m for m in handler.SUPPORTED_METHODS
            if getattr(type(handler), m.lower(), None) not in (None, RequestHandler._unimplemented_method)]


@stream_request_body
class UploadHandler(JsonErrors, RequestHandler):
    """Receives a multipart upload with an "image" field, within the size limit, and
    classifies it in the executor. Subclasses shape the answer."""
    SUPPORTED_METHODS = ("POST",)

    def initialize(self, classifier: GlassesClassifier, executor: Executor | None, in_flight: InFlight,
                   max_body_bytes: int):
        self.classifier, self.executor, self.in_flight = classifier, executor, in_flight
        self.max_body_bytes = max_body_bytes
        self._chunks, self._size, self._too_large, self._counted = [], 0, False, False

    def prepare(self) -> None:
        # Called once the headers are in, before any of the body is read (stream_request_body).
        self.in_flight.started()
        self._counted = True
        self.request.connection.set_max_body_size(DRAIN_LIMIT)
        declared = self.request.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            if int(declared) > DRAIN_LIMIT or self.request.headers.get("Expect", "").lower() == "100-continue":
                raise self._over_limit()  # the body is not read: the connection closes after this answer
            self._too_large = True

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self.max_body_bytes:
            self._too_large, self._chunks = True, []
        elif not self._too_large:
            self._chunks.append(chunk)

    async def classify(self):
        """(PhotoResult, (height, width), milliseconds) for the uploaded image."""
        if self._too_large:
            raise self._over_limit()
        data, name = self._image_field()
        try:
            return await IOLoop.current().run_in_executor(self.executor, predict, self.classifier, data, name)
        except GlassesError as err:
            raise http_error(400, str(err))

    def _image_field(self) -> tuple[bytes, str]:
        content_type = self.request.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            raise http_error(400, f"expected a multipart/form-data body with an 'image' field, "
                                  f"got Content-Type {content_type[:100]!r}")
        arguments, files = {}, {}
        try:
            parse_body_arguments(content_type, b"".join(self._chunks), arguments, files, self.request.headers)
        except HTTPInputError as err:
            raise http_error(400, str(err)[:300])
        if files.get("image"):
            upload = files["image"][0]
            return upload.body, f"upload {upload.filename[:100]!r}"
        if arguments.get("image"):
            return arguments["image"][0], "upload 'image'"
        raise http_error(400, f"no 'image' field in the form (fields: {sorted({*arguments, *files})[:10]})")

    def _over_limit(self) -> HTTPError:
        return http_error(413, f"body over the {self.max_body_bytes / MB:g} MB limit")

    def on_finish(self) -> None:
        self._uncount()

    def on_connection_close(self) -> None:
        super().on_connection_close()  # fails the pending body read, which ends this request
        self._uncount()

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            self.in_flight.ended()


def predict(classifier: GlassesClassifier, data: bytes, name: str):
    """Decode and classify in a worker thread; (result, (height, width), milliseconds)."""
    start = time.perf_counter()
    image = load_image(data, name)
    result = classifier.predict(image)
    return result, image.shape[:2], (time.perf_counter() - start) * 1000.0


class AnswerHandler(UploadHandler):
    async def post(self) -> None:
        result, _, _ = await self.classify()
        self.log_note = result.answer
        self.write({"answer": result.answer})


class PredictHandler(UploadHandler):
    async def post(self) -> None:
        result, (height, width), inference_ms = await self.classify()
        self.log_note = result.answer
        self.write({**result.to_dict(), "image_size": [width, height],
                    "model_version": self.classifier.version, "threshold": self.classifier.threshold,
                    "inference_ms": round(inference_ms, 2),
                    "time_ms": round(1000.0 * self.request.request_time(), 2)})


class HealthHandler(JsonErrors, RequestHandler):
    SUPPORTED_METHODS = ("GET", "HEAD")

    def initialize(self, classifier: GlassesClassifier):
        self.classifier = classifier

    def get(self) -> None:
        self.write({"status": "ok", "model_version": self.classifier.version})

    head = get


class PageHandler(JsonErrors, StaticFileHandler):
    """The web page and its script and style, all served from static/ (no CDN: works offline)."""


class NotFoundHandler(JsonErrors, RequestHandler):
    def prepare(self) -> None:
        raise http_error(404, f"no such resource: {self.request.path[:200]}")


def log_request(handler: RequestHandler) -> None:
    """The one log line of a request: status, method, path, client, milliseconds, answer or error."""
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    note = getattr(handler, "log_note", "")
    access_log.log(level, "%d %s %s (%s) %.1fms%s", status, handler.request.method,
                   handler.request.uri[:200], handler.request.remote_ip,
                   1000.0 * handler.request.request_time(), f" {note}" if note else "")


def make_app(classifier: GlassesClassifier, max_body_bytes: int = int(DEFAULT_MAX_BODY_MB * MB),
             executor: Executor | None = None, in_flight: InFlight | None = None) -> Application:
    """The routes. ``executor`` runs inference (None: the event loop's default thread pool)."""
    uploads = dict(classifier=classifier, executor=executor, in_flight=in_flight or InFlight(),
                   max_body_bytes=max_body_bytes)
    return Application([
        (r"/glass_no_glass/?", AnswerHandler, uploads),
        (r"/api/v1/predict/?", PredictHandler, uploads),
        (r"/health", HealthHandler, dict(classifier=classifier)),
        (r"/()", PageHandler, dict(path=STATIC, default_filename="index.html")),
        (r"/static/(.+)", PageHandler, dict(path=STATIC)),
    ], default_handler_class=NotFoundHandler, log_function=log_request)


def server_options(max_body_bytes: int) -> dict:
    """HTTPServer settings. Bodies are capped at the upload limit (the upload handlers raise
    their own connection's cap to DRAIN_LIMIT, see UploadHandler.prepare); slow clients are dropped."""
    return dict(max_body_size=max_body_bytes, idle_connection_timeout=CLIENT_TIMEOUT_S,
                body_timeout=CLIENT_TIMEOUT_S)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"(default {DEFAULT_PORT}; 0: any free port)")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all)")
    parser.add_argument("--model", type=Path, default=None,
                        help="model .json (or .tflite with its .json beside it); default: the shipped model")
    parser.add_argument("--max-body-mb", type=float, default=DEFAULT_MAX_BODY_MB,
                        help=f"largest upload in MB (default {DEFAULT_MAX_BODY_MB:g})")
    parser.add_argument("--processes", type=int, default=1,
                        help="server processes sharing the port (default 1; 0: one per core)")
    parser.add_argument("--threads", type=int, default=0,
                        help="inference threads per process (default 0: cores / processes)")
    args = parser.parse_args(argv)
    if not 0 < args.max_body_mb <= DRAIN_LIMIT / MB:
        parser.error(f"--max-body-mb must be above 0 and at most {DRAIN_LIMIT // MB}")
    if args.processes < 0 or args.threads < 0 or not 0 <= args.port < 65536:
        parser.error("--processes and --threads must be 0 or more, --port between 0 and 65535")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    args.processes = args.processes or cores
    args.threads = args.threads or max(1, cores // args.processes)
    return args


async def serve(args: argparse.Namespace, sockets, classifier: GlassesClassifier) -> None:
    """Serve on ``sockets`` until SIGTERM or SIGINT, then finish the requests in flight."""
    max_body = int(args.max_body_mb * MB)
    executor = ThreadPoolExecutor(args.threads, thread_name_prefix="predict")
    in_flight = InFlight()
    server = HTTPServer(make_app(classifier, max_body, executor, in_flight), **server_options(max_body))
    server.add_sockets(sockets)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    host, port = sockets[0].getsockname()[:2]
    log.info("listening on http://%s:%d (pid %d, model %s, %d inference threads)",
             host, port, os.getpid(), classifier.version, args.threads)
    await stop.wait()
    log.info("stopping: finishing %d request(s) in flight", in_flight.count)
    server.stop()
    try:
        await asyncio.wait_for(in_flight.idle(), SHUTDOWN_GRACE_S)
    except TimeoutError:
        log.warning("%d request(s) still running after %gs; closing", in_flight.count, SHUTDOWN_GRACE_S)
    await server.close_all_connections()
    executor.shutdown(wait=True, cancel_futures=True)
    log.info("stopped")


def serve_forked(args: argparse.Namespace, sockets) -> int:
    """Fork one server process per --processes; SIGTERM and SIGINT are passed on to them."""
    children: list[int] = []

    def forward(signum, frame):
        for pid in children:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:  # that child has already exited
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for _ in range(args.processes):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os._exit(run_child(args, sockets))
        children.append(pid)
    failed = 0
    for pid in children:
        _, status = os.waitpid(pid, 0)
        failed += os.waitstatus_to_exitcode(status) != 0
    return 1 if failed else 0


def run_child(args: argparse.Namespace, sockets) -> int:
    # A forked child must end in os._exit, never unwind into the parent's code: report anything.
    try:
        asyncio.run(serve(args, sockets, GlassesClassifier(args.model)))
        return 0
    except BaseException:  # noqa: B036 -- logged with its traceback, then the child exits 1
        traceback.print_exc()
        return 1


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(message)s")
    try:
        classifier = GlassesClassifier(args.model)  # fail here, not in every process
    except GlassesError as err:
        log.error("cannot load the model: %s", err)
        return 1
    sockets = bind_sockets(args.port, args.host)
    if args.processes == 1:
        asyncio.run(serve(args, sockets, classifier))
        return 0
    del classifier  # each process loads its own
    return serve_forked(args, sockets)


if __name__ == "__main__":
    sys.exit(main())
