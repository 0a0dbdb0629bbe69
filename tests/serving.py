"""Helpers for the deploy tests: run the real scripts in the light environment, build uploads."""
from __future__ import annotations

import re
import subprocess
import sys
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "deploy" / "rest_server" / "server.py"
RUN_ON_FOLDER = ROOT / "deploy" / "run_on_folder.py"
LIGHT_PYTHON = ROOT / ".venv-deploy" / "bin" / "python"
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
    """deploy/rest_server/server.py on a free loopback port; its log lines are collected."""

    def __init__(self, model: Path, *args: str):
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
                self._ready.set()
        self._ready.set()

    def wait_ready(self, timeout: float = 60.0) -> str:
        if not self._ready.wait(timeout) or not self.url:
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
