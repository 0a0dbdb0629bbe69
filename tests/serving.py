"""Helpers for the deploy tests: run the real scripts in the light environment, build uploads."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "deploy" / "rest_server" / "server.py"
RUN_ON_FOLDER = ROOT / "deploy" / "run_on_folder.py"
LIGHT_PYTHON = ROOT / ".venv-deploy" / "bin" / "python"
SHIPPED_MODEL = ROOT / "models" / "glasses.json"  # the server tests need a model, not a freshly trained one
# Real photos from ../shared/data/mtfl/testing.txt: glasses (label 1) and no glasses (label 2).
MTFL_GLASSES = ("AFLW/0017-image27176.jpg", "AFLW/0020-image32413.jpg", "AFLW/0027-image37580.jpg")
MTFL_NO_GLASSES = ("AFLW/0001-image20056.jpg", "AFLW/0004-image64929.jpg", "AFLW/0007-image60542.jpg")


def deploy_python() -> str:
    """The light environment's Python (no TensorFlow) when it is built, else this one."""
    return str(LIGHT_PYTHON) if LIGHT_PYTHON.exists() else sys.executable


def multipart(fields: dict[str, tuple[str | None, bytes]], boundary: str | None = None) -> tuple[str, bytes]:
    """(Content-Type, body) of a multipart/form-data upload; fields: name -> (filename or None, data)."""
    boundary = boundary or uuid.uuid4().hex
    body = b""
    for name, (filename, data) in fields.items():
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += (f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
                 f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    return f"multipart/form-data; boundary={boundary}", body + f"--{boundary}--\r\n".encode()


class ServerProcess:
    """deploy/rest_server/server.py on a free loopback port (one process unless --processes is
    given); its log lines are collected."""

    def __init__(self, model: Path, *args: str):
        if "--processes" not in args:
            args = (*args, "--processes", "1")
        self.processes = int(args[args.index("--processes") + 1]) or len(os.sched_getaffinity(0))  # 0: one per core
        self.proc = subprocess.Popen(
            [deploy_python(), str(SERVER), "--host", "127.0.0.1", "--port", "0", "--model", str(model), *args],
            cwd=ROOT, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.url = ""
        self._ready = threading.Event()
        threading.Thread(target=self._read_log, daemon=True).start()  # also keeps the pipe from filling

    def _read_log(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            match = re.search(r"listening on (http://[\d.]+:\d+)", line)
            if match and not self.url:
                self.url = match.group(1)
            if self.count("ready: model") >= self.processes:
                self._ready.set()
        self._ready.set()

    def count(self, words: str) -> int:
        return sum(words in line for line in list(self.lines))

    def wait_for(self, words: str, times: int = 1, timeout: float = 30.0) -> bool:
        """Wait until ``times`` log lines hold ``words``; whether they came in time."""
        deadline = time.monotonic() + timeout
        while self.count(words) < times and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.count(words) >= times

    def wait_ready(self, timeout: float = 60.0) -> str:
        """The URL, once every process has loaded the model."""
        if not self._ready.wait(timeout) or not self.url or self.count("ready: model") < self.processes:
            raise RuntimeError("the server did not start:\n" + "".join(self.lines))
        return self.url

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


@contextmanager
def running_server(model: Path, *args: str):
    server = ServerProcess(model, *args)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


async def raw_exchange(port: int, data: bytes, timeout: float = 3.0) -> bytes:
    """Send bytes to 127.0.0.1:port on a fresh connection (asking to close it after the answer);
    what comes back before the server closes it or ``timeout`` seconds of silence."""
    import asyncio

    from tornado.iostream import StreamClosedError
    from tornado.tcpclient import TCPClient
    data = data.replace(b" HTTP/1.1\r\n", b" HTTP/1.1\r\nConnection: close\r\n", 1)
    stream = await TCPClient().connect("127.0.0.1", port)
    received = bytearray()
    try:
        await stream.write(data)
        while True:
            received += await asyncio.wait_for(stream.read_bytes(65536, partial=True), timeout)
    except (StreamClosedError, ConnectionError, TimeoutError):
        return bytes(received)  # closed by the server (the answer, if any, is in), or still waiting
    finally:
        stream.close()


def parse_answer(answer: bytes) -> tuple[int, dict, bytes]:
    """(status, headers with lower-case names, body) of a raw HTTP answer."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ", 2)[1]), headers, body


def json_error(answer: bytes) -> tuple[int, dict, dict]:
    """(status, headers, JSON body) of a raw HTTP answer."""
    import json
    status, headers, body = parse_answer(answer)
    return status, headers, json.loads(body)


def blank_png(width: int, height: int) -> bytes:
    """A real, decodable PNG of width x height black pixels: tiny on the wire, huge once decoded."""
    import io

    from PIL import Image
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, "PNG", optimize=False, compress_level=9)
    return buffer.getvalue()


def post_in_process(serving, uploads: list[tuple[str, bytes]], path: str = "/api/v1/predict") -> list:
    """Serve ``make_app(serving)`` in this process on a free loopback port (tornado.testing's
    bind_unused_port), post every upload (file name, bytes) as the ``image`` field all at once,
    and return the responses in the uploads' order."""
    import asyncio

    from tornado.httpclient import AsyncHTTPClient
    from tornado.httpserver import HTTPServer
    from tornado.testing import bind_unused_port

    from deploy.rest_server.server import make_app, server_options

    async def exchange():
        sock, port = bind_unused_port()
        server = HTTPServer(make_app(serving), **server_options(serving.limits.max_body_bytes))
        server.add_sockets([sock])
        client = AsyncHTTPClient(force_instance=True, max_clients=max(1, len(uploads)))
        try:
            requests = []
            for name, data in uploads:
                content_type, body = multipart({"image": (name, data)})
                requests.append(client.fetch(f"http://127.0.0.1:{port}{path}", method="POST", body=body,
                                             headers={"Content-Type": content_type}, raise_error=False,
                                             request_timeout=120))
            return await asyncio.gather(*requests)
        finally:
            client.close()
            server.stop()
            await server.close_all_connections()

    return asyncio.run(exchange())


class FedInputs:
    """Every input tensor the classifier's LiteRT interpreters are given, from any thread:
    while in use (``with FedInputs() as fed:``), ``glasses_core.runtime.make_interpreter``
    makes interpreters that note each ``set_tensor`` on their input before passing it on."""

    def __init__(self):
        self.tensors: list = []

    def __enter__(self) -> "FedInputs":
        import pytest

        from glasses_core import runtime
        self._patch = pytest.MonkeyPatch()
        real = runtime.make_interpreter
        self._patch.setattr(runtime, "make_interpreter", lambda *a, **k: _Noting(real(*a, **k), self.tensors))
        return self

    def __exit__(self, *exc) -> None:
        self._patch.undo()


class _Noting:
    def __init__(self, interpreter, tensors: list):
        self._interpreter, self._tensors = interpreter, tensors

    def __getattr__(self, name):
        return getattr(self._interpreter, name)

    def set_tensor(self, index, value) -> None:
        if index == self._interpreter.get_input_details()[0]["index"]:
            self._tensors.append(value.copy())
        self._interpreter.set_tensor(index, value)
