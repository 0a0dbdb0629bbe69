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


def test_connections_are_spread_over_the_processes(data_dir):
    """16 keep-alive clients at once: both processes serve (each child listens with SO_REUSEPORT;
    on one shared socket, one child used to accept them all). 2 / 2**16 odds of a false failure."""
    import asyncio
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from bench_server import upload_request
    request = upload_request("127.0.0.1", "a.jpg", (data_dir / "mtfl" / MTFL_NO_GLASSES[0]).read_bytes())

    async def client(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        writer.close()
        return head

    async def clients(port: int) -> list[bytes]:
        return await asyncio.gather(*[client(port) for _ in range(16)])

    with running_server(SHIPPED_MODEL, "--processes", "2") as server:
        port = int(server.url.rsplit(":", 1)[1])
        heads = asyncio.run(clients(port))
        assert all(h.startswith(b"HTTP/1.1 200") for h in heads)
        assert server.wait_for("POST /glass_no_glass/", times=16), "".join(server.lines)
        serving = {int(m.group(1)) for line in list(server.lines)
                   if "POST /glass_no_glass/" in line and (m := re.search(r" (\d+) INFO ", line))}
        assert serving <= set(child_pids(server)) and len(serving) == 2, "".join(server.lines[-20:])
