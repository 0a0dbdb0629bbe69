"""The REST server: post a photo, hear whether someone in it wears glasses.

    python3 deploy/rest_server/server.py [--port 8888] [--host 0.0.0.0] [--model FILE]
        [--max-body-mb 10] [--max-megapixels 40] [--decode-megapixels 48] [--max-batch 16]
        [--processes 0] [--threads 0] [--cors ORIGIN]

    POST /glass_no_glass/        multipart field "image" -> {"answer": "glass"} or {"answer": "no_glass"}
    POST /api/v1/predict         the same input -> answer, probability, each face's box and probability,
                                 image size, model version, threshold, time taken; a photo in which no
                                 face is found answers "no_face" (?fallback=1: the fallback crop's guess)
    POST /api/v1/predict/batch   several "image" fields -> {"results": [...]}, one per image, in order;
                                 an image that fails gets {"index", "error"} and the others still answer
    GET  /api/v1/model           version, labels, threshold, input shape and format (the file's type), crop, limits
    GET  /health                 liveness: {"status": "ok", "model_version": ...} as soon as it listens
    GET  /ready                  readiness: 200 once the model is loaded; 503 while it loads, in shutdown
    GET  /metrics                Prometheus: requests by endpoint and status, latency, in flight, model;
                                 one scrape reports every process of the server
    GET  /openapi.json           the OpenAPI 3.1 description of all of these
    GET  /                       a web page: choose or drop photos, or use the webcam; answered by the server
                                 or on the device (LiteRT.js in the page: the photo never leaves it)
    GET  /ondevice/NAME          the page's on-device files: model.json, classifier.tflite (the model's
                                 fixed-batch copy), face_detection_short_range.tflite, face_landmark.tflite

Every error is JSON, {"error": {"status": 400, "message": "..."}}, malformed HTTP included:
400 malformed request or form, no 'image' field, unknown field or query parameter, more than one
image where one is taken, an image that cannot be read or is not in a photo format (JPEG, PNG, GIF,
WebP, BMP, TIFF, HEIC/HEIF, AVIF); 404; 405 (with Allow); 413 body over --max-body-mb, or an image
over --max-megapixels or another limit of the decoder (a side over 16,384 pixels, a JPEG of over
64 scans, ...: read from its header, before decoding); 431 request
headers over 64 KB (over 1 MB the connection is closed); 503 with Retry-After when not ready, in
shutdown, or when the decode budget (--decode-megapixels, shared by the requests in flight) has
no room within 10 s. Every answer carries X-Request-Id (the client's, when it sends a plain one of
up to 64 characters), which the request's one log line repeats. Images over 4 megapixels are
decoded in a lane of their own, so giant uploads cannot hold the threads ordinary photos use.

Each process classifies ordinary photos on its event loop's own thread (--threads 0, the default:
with one process per core this serves the most requests; other requests wait for at most the photo
being classified), or in N threads with --threads N (the loop then never waits). With --processes N the parent
restarts any child that dies and logs how it died. SIGTERM or SIGINT (logged by name): /ready says
503, new connections are refused, the requests in flight finish (up to 30 s), then the server exits.
It listens on every interface by default (--host 0.0.0.0); --host 127.0.0.1 keeps it to this machine.
Exit status: 0 after a clean stop; 1 when the model cannot be loaded, or a child failed.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import traceback
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path

from tornado.ioloop import IOLoop, PeriodicCallback
from tornado.netutil import bind_sockets
from tornado.web import Application

from deploy.memory import keep_freed_memory
from deploy.rest_server.handlers import (MB, AnswerHandler, BatchHandler, HealthHandler, Limits,
                                         MetricsHandler, ModelHandler, NotFoundHandler, OnDeviceHandler,
                                         OpenApiHandler, PageHandler, PredictHandler, ReadyHandler, Serving,
                                         VendorHandler, log_request)
from deploy.rest_server.http1 import JsonErrorsHTTPServer
from deploy.rest_server.metrics import REFRESH_S, process_ended, share_between_processes
from deploy.rest_server.supervisor import Supervisor
from glasses_core import GlassesClassifier, GlassesError
from glasses_core.face_detect import model_dir
from glasses_core.runtime import resolve_model
from glasses_core.tflite_metadata import batch_one_path

DEFAULT_PORT = 8888
DEFAULT_MAX_BODY_MB = 10.0  # uploads larger than this are answered with 413
DEFAULT_MAX_MEGAPIXELS = 40.0  # images larger than this (read from the header) are answered with 413
DEFAULT_DECODE_MEGAPIXELS = 48.0  # decoded at once per process: one image at the limit, and room for others
DEFAULT_MAX_BATCH = 16  # images in one batch request
# Processes: with one process, 8 clients got 0.49x the runtime's own throughput (the GIL), with two
# 716 req/s (issue 15's measurements). So: one process per core. Threads: handing each photo to an
# inference thread and back costs a thread switch, a wake-up of the loop and the GIL passed back and
# forth; on the loop's own thread the same server answers more (benchmarks/results.md, "--threads").
DEFAULT_THREADS = 0
SHUTDOWN_GRACE_S = 30.0  # after SIGTERM, how long the requests in flight may take to finish
CLIENT_TIMEOUT_S = 60.0  # idle keep-alive connections and slow uploads are dropped after this
STATIC = Path(__file__).resolve().parent / "static"
LITERTJS = Path(__file__).resolve().parent.parent.parent / "node_modules" / "@litertjs"  # `npm ci` (the Makefile)

log = logging.getLogger("glasses.server")


def make_serving(classifier: GlassesClassifier | None = None, max_body_bytes: int = int(DEFAULT_MAX_BODY_MB * MB),
                 max_pixels: int = int(DEFAULT_MAX_MEGAPIXELS * 1e6), max_batch: int = DEFAULT_MAX_BATCH,
                 decode_pixels: int = int(DEFAULT_DECODE_MEGAPIXELS * 1e6), executor: Executor | None = None,
                 large_executor: Executor | None = None) -> Serving:
    """What the handlers share; ``classifier`` None: not ready until ``model_loaded``.
    ``executor`` None: ordinary photos are classified on the event loop's thread (--threads 0);
    ``large_executor`` None: large images go to the event loop's default thread pool."""
    serving = Serving(Limits(max_body_bytes, max_pixels, max_batch), executor, large_executor, decode_pixels)
    if classifier is not None:
        serving.model_loaded(classifier)
    return serving


def ondevice_files(model: Path | None) -> dict[str, bytes | Path]:
    """The on-device page's files for the model the server answers with (``--model``)."""
    tflite, config = resolve_model(model)
    detectors = model_dir()
    return {"model.json": config.to_json().encode(), "classifier.tflite": batch_one_path(tflite),
            "face_detection_short_range.tflite": detectors / "face_detection_short_range.tflite",
            "face_landmark.tflite": detectors / "face_landmark.tflite"}


def make_app(serving: Serving, cors_origin: str | None = None, model: Path | None = None) -> Application:
    """The routes; ``cors_origin``: the Access-Control-Allow-Origin to send (None: no CORS);
    ``model``: the model whose files the on-device page loads (default: the shipped one)."""
    shared = dict(serving=serving)
    return Application([
        (r"/glass_no_glass/?", AnswerHandler, shared),
        (r"/api/v1/predict/batch/?", BatchHandler, shared),
        (r"/api/v1/predict/?", PredictHandler, shared),
        (r"/api/v1/model/?", ModelHandler, shared),
        (r"/health", HealthHandler, shared),
        (r"/ready", ReadyHandler, shared),
        (r"/metrics", MetricsHandler, shared),
        (r"/openapi.json", OpenApiHandler, shared),
        (r"/()", PageHandler, dict(serving=serving, path=STATIC, default_filename="index.html")),
        (r"/static/(.+)", PageHandler, dict(serving=serving, path=STATIC)),
        (r"/vendor/litertjs/(.+)", VendorHandler, dict(serving=serving, path=LITERTJS)),
        (r"/ondevice/(.+)", OnDeviceHandler, dict(serving=serving, files=ondevice_files(model))),
    ], default_handler_class=NotFoundHandler, default_handler_args=shared, log_function=log_request,
        cors_origin=cors_origin)


def server_options(max_body_bytes: int) -> dict:
    """HTTPServer settings. Bodies are capped at the upload limit (the upload handlers lift their
    own connection's cap and count the bytes themselves); slow clients are dropped."""
    return dict(max_body_size=max_body_bytes, idle_connection_timeout=CLIENT_TIMEOUT_S,
                body_timeout=CLIENT_TIMEOUT_S)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"(default {DEFAULT_PORT}; 0: any free port)")
    parser.add_argument("--host", default="0.0.0.0",
                        help="address to listen on (default 0.0.0.0: every interface; 127.0.0.1: this machine only)")
    parser.add_argument("--model", type=Path, default=None,
                        help="model .json, or .tflite (its metadata inside it, or in a .json beside it); "
                             "default: the shipped model")
    parser.add_argument("--max-body-mb", type=float, default=DEFAULT_MAX_BODY_MB,
                        help=f"largest upload in MB (default {DEFAULT_MAX_BODY_MB:g})")
    parser.add_argument("--max-megapixels", type=float, default=DEFAULT_MAX_MEGAPIXELS,
                        help=f"largest image, and largest batch, in megapixels (default {DEFAULT_MAX_MEGAPIXELS:g})")
    parser.add_argument("--decode-megapixels", type=float, default=DEFAULT_DECODE_MEGAPIXELS,
                        help="megapixels decoded at once per process, shared by the requests in flight; an "
                             "image counts its pixels weighed by what decoding it takes (alpha, 16-bit greyscale, "
                             "HEIF, ... count several times: docs/using.md) "
                             f"(default {DEFAULT_DECODE_MEGAPIXELS:g}; at least --max-megapixels)")
    parser.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH,
                        help=f"most images in one batch request (default {DEFAULT_MAX_BATCH})")
    parser.add_argument("--processes", type=int, default=0,
                        help="server processes sharing the port (default 0: one per core)")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help="inference threads per process, besides the large-image lane; 0: the event "
                             f"loop's own thread (default {DEFAULT_THREADS}: fastest with one process per core)")
    parser.add_argument("--cors", metavar="ORIGIN", default=None,
                        help="allow browsers on ORIGIN (or '*') to call the API; default: CORS off")
    return check_args(parser, parser.parse_args(argv))


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    if not 0 < args.max_body_mb <= 100:
        parser.error("--max-body-mb must be above 0 and at most 100")
    if not 0 < args.max_megapixels <= DEFAULT_MAX_MEGAPIXELS:
        parser.error(f"--max-megapixels must be above 0 and at most {DEFAULT_MAX_MEGAPIXELS:g} (the decoder's limit)")
    if args.decode_megapixels < args.max_megapixels:
        parser.error("--decode-megapixels must be at least --max-megapixels")
    if args.processes < 0 or args.threads < 0 or args.max_batch < 1 or not 0 <= args.port < 65536:
        parser.error("--processes and --threads must be 0 or more, --max-batch 1 or more, --port 0 to 65535")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    args.processes = args.processes or cores
    return args


def serving_from_args(args: argparse.Namespace) -> Serving:
    return make_serving(None, int(args.max_body_mb * MB), int(args.max_megapixels * 1e6), args.max_batch,
                        int(args.decode_megapixels * 1e6),
                        ThreadPoolExecutor(args.threads, thread_name_prefix="predict") if args.threads else None,
                        ThreadPoolExecutor(1, thread_name_prefix="predict-large"))


async def serve(args: argparse.Namespace, sockets) -> int:
    """Serve on ``sockets``: listen, load the model, serve until SIGTERM or SIGINT, then finish
    the requests in flight. 0 after a clean stop, 1 when the model cannot be loaded."""
    serving = serving_from_args(args)
    server = JsonErrorsHTTPServer(make_app(serving, args.cors, args.model),
                                  **server_options(serving.limits.max_body_bytes))
    server.add_sockets(sockets)
    stop, received = asyncio.Event(), []

    def on_signal(signum: int) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, on_signal, signum)
    if serving.metrics.shared:  # the other processes' scrapes read this one's gauges from its files
        PeriodicCallback(serving.metrics.refresh, REFRESH_S * 1000).start()
    host, port = sockets[0].getsockname()[:2]
    log.info("listening on http://%s:%d (pid %d, %s)", host, port, os.getpid(), inference_lanes(args.threads))
    status = await load_model(serving, args.model)
    if status == 0:
        await stop.wait()
    await shut_down(server, serving, received[0] if received else "")
    return status


def inference_lanes(threads: int) -> str:
    """How a process classifies ordinary photos, as its start-up line says (bench_server.py reads it)."""
    return f"{threads} inference threads" if threads else "inference on the event loop thread"


async def load_model(serving: Serving, model: Path | None) -> int:
    try:
        classifier = await IOLoop.current().run_in_executor(serving.executor, GlassesClassifier, model)
    except GlassesError as err:
        log.error("cannot load the model: %s", err)
        return 1
    serving.model_loaded(classifier)
    log.info("ready: model %s (pid %d)", classifier.model_id, os.getpid())
    return 0


async def shut_down(server: JsonErrorsHTTPServer, serving: Serving, why: str = "") -> None:
    serving.stopping = True
    log.info("%sstopping: finishing %d request(s) in flight", f"{why} received: " if why else "",
             serving.in_flight.count)
    server.stop()
    try:
        await asyncio.wait_for(serving.in_flight.idle(), SHUTDOWN_GRACE_S)
    except TimeoutError:
        log.warning("%d request(s) still running after %gs; closing", serving.in_flight.count, SHUTDOWN_GRACE_S)
    await server.close_all_connections()
    for executor in (serving.executor, serving.large_executor):
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
    log.info("stopped")


def run_child(args: argparse.Namespace, sockets) -> int:
    # A forked child must end in os._exit, never unwind into the parent's code: report anything.
    try:
        return asyncio.run(serve(args, sockets))
    except BaseException:  # noqa: B036 -- logged with its traceback, then the child exits 1
        traceback.print_exc()
        return 1


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(message)s")
    keep_freed_memory()  # before the children are forked: they inherit it (deploy/memory.py)
    try:
        resolve_model(args.model)  # a missing model fails here, once, not in every process
    except GlassesError as err:
        log.error("cannot load the model: %s", err)
        return 1
    if args.processes == 1:
        return asyncio.run(serve(args, bind_sockets(args.port, args.host)))
    held = hold_port(args.port, args.host)
    port = held[0].getsockname()[1]
    metrics = tempfile.mkdtemp(prefix="glasses-metrics-")  # every process counts here: /metrics sums them
    share_between_processes(metrics)
    try:
        return Supervisor(lambda: run_child(args, bind_sockets(port, args.host, reuse_port=True)),
                          args.processes, held, ended=process_ended).run()
    finally:
        shutil.rmtree(metrics, ignore_errors=True)


def hold_port(port: int, host: str) -> list:
    """The port for --processes N, held by the parent without accepting on it.

    Each child then listens on a socket of its own with SO_REUSEPORT, so that the kernel spreads
    new connections over the children. (On one shared listening socket, the child that wakes
    first accepts every connection waiting: 8 keep-alive clients all landed on one process.)
    The parent's sockets stop listening at once (shutdown), but stay bound, keeping the port."""
    sockets = bind_sockets(port, host, reuse_port=True)
    for sock in sockets:
        sock.shutdown(socket.SHUT_RD)
    return sockets


if __name__ == "__main__":
    sys.exit(main())
