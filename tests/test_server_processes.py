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


def post_at_once(url: str, jpeg: bytes, clients: int) -> list[bytes]:
    """The response heads of ``clients`` connections that each post ``jpeg`` to /glass_no_glass/ at once."""
    import asyncio
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from bench_server import upload_request
    request = upload_request("127.0.0.1", "a.jpg", jpeg)
    port = int(url.rsplit(":", 1)[1])

    async def client() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        writer.close()
        return head

    async def all_of_them() -> list[bytes]:
        return await asyncio.gather(*[client() for _ in range(clients)])

    return asyncio.run(all_of_them())


def test_connections_are_spread_over_the_processes(data_dir):
    """16 keep-alive clients at once: both processes serve (each child listens with SO_REUSEPORT;
    on one shared socket, one child used to accept them all). 2 / 2**16 odds of a false failure."""
    with running_server(SHIPPED_MODEL, "--processes", "2") as server:
        heads = post_at_once(server.url, (data_dir / "mtfl" / MTFL_NO_GLASSES[0]).read_bytes(), 16)
        assert all(h.startswith(b"HTTP/1.1 200") for h in heads)
        assert server.wait_for("POST /glass_no_glass/", times=16), "".join(server.lines)
        serving = {int(m.group(1)) for line in list(server.lines)
                   if "POST /glass_no_glass/" in line and (m := re.search(r" (\d+) INFO ", line))}
        assert serving <= set(child_pids(server)) and len(serving) == 2, "".join(server.lines[-20:])


def scrape(url: str) -> dict:
    """/metrics on a fresh connection (which lands on any of the processes), as samples."""
    from prometheus_client.parser import text_string_to_metric_families
    with urlopen(url + "/metrics", timeout=20) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


ANSWERED = ("glasses_http_requests_total", (("endpoint", "/glass_no_glass/"), ("method", "POST"), ("status", "200")))


def test_one_scrape_of_metrics_reports_every_process(data_dir):
    """Issue 29: /metrics was per process while one process per core serves, so successive scrapes
    of one port alternated between processes and Prometheus saw counters go back. Now every
    scrape, whichever process answers it, reports the whole server; a process that dies and is
    replaced keeps its counts in the sum, and leaves the live gauges."""
    import time
    with running_server(SHIPPED_MODEL, "--processes", "2") as server:
        photo = (data_dir / "mtfl" / MTFL_NO_GLASSES[0]).read_bytes()
        assert all(h.startswith(b"HTTP/1.1 200") for h in post_at_once(server.url, photo, 16))
        assert server.wait_for("POST /glass_no_glass/", times=16), "".join(server.lines)
        serving = {int(m.group(1)) for line in list(server.lines)
                   if "POST /glass_no_glass/" in line and (m := re.search(r" (\d+) INFO ", line))}
        assert len(serving) == 2, "".join(server.lines[-20:])  # both processes answered some
        time.sleep(1.5)  # every process has written its decode gauge since its last request
        for _ in range(8):
            time.sleep(0.1)  # the previous scrape has ended in its process (its log line comes first)
            samples = scrape(server.url)
            assert samples[ANSWERED] == 16
            assert samples[("glasses_server_processes", ())] == 2
            assert samples[("glasses_http_requests_in_flight", ())] == 1  # the scrape itself
            assert samples[("glasses_decode_megapixels_in_use", ())] == 0
            model = [k for k in samples if k[0] == "glasses_model_info"]
            assert len(model) == 1 and samples[model[0]] == 1
        os.kill(child_pids(server)[0], signal.SIGKILL)
        assert server.wait_for("ready: model", times=3), "".join(server.lines)
        samples = scrape(server.url)
        assert samples[ANSWERED] == 16 and samples[("glasses_server_processes", ())] == 2
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0, "".join(server.lines)
    assert server.count("SIGTERM received: stopping 2 server process(es)") == 1
    assert server.count("SIGTERM received: stopping: finishing") == 2  # each process, as its signal came
    assert server.count("every server process stopped; exit status 0") == 1


def test_sigterm_is_logged_by_name():
    with running_server(SHIPPED_MODEL) as server:  # one process
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0
    assert server.count("SIGTERM received: stopping: finishing 0 request(s) in flight") == 1
    assert server.count("stopped") >= 1
