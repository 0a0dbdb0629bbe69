"""Issue 15, finding 11: --processes N children are supervised, and shutdown refuses new
connections cleanly. Real server processes on loopback."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
from urllib.request import Request, urlopen

import pytest

from serving import MTFL_NO_GLASSES, SHIPPED_MODEL, multipart, running_server


def child_pids(server) -> list[int]:
    return [int(m.group(1)) for line in list(server.lines) if (m := re.search(r"listening on \S+ \(pid (\d+)", line))]


def ask(url: str, body: bytes, content_type: str) -> str:
    request = Request(url + "/glass_no_glass/", data=body, headers={"Content-Type": content_type})
    with urlopen(request, timeout=20) as response:
        return json.loads(response.read())["answer"]


def test_a_killed_child_is_logged_and_replaced(data_dir):
    content_type, body = multipart({"image": ("a.jpg", (data_dir / "mtfl" / MTFL_NO_GLASSES[0]).read_bytes())})
    with running_server(SHIPPED_MODEL, "--processes", "2") as server:
        victim = child_pids(server)[0]
        os.kill(victim, signal.SIGKILL)
        assert server.wait_for("listening on", times=3), "".join(server.lines)
        assert server.wait_for("ready: model", times=3), "".join(server.lines)
        assert any(f"server process {victim} killed by SIGKILL; starting another" in line for line in server.lines)
        assert len(set(child_pids(server))) == 3
        for _ in range(6):  # both processes serve again
            assert ask(server.url, body, content_type) in ("glass", "no_glass")
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0, "".join(server.lines)


def test_new_connections_are_refused_once_stopping(data_dir):
    with running_server(SHIPPED_MODEL, "--processes", "2") as server:
        host, port = server.url.removeprefix("http://").split(":")
        server.proc.send_signal(signal.SIGTERM)
        assert server.wait_for("stopped", times=2), "".join(server.lines)
        with pytest.raises(ConnectionRefusedError):  # refused, not left unanswered in a backlog
            socket.create_connection((host, int(port)), timeout=2)
        assert server.proc.wait(30) == 0
