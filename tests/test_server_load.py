"""Issue 15, finding 10 under load: 8 clients on loopback for a bounded time while two more send
blank 6,300 x 6,300 PNGs (39 KB each, 119 MB once decoded). Every request is answered 200, and
the server's memory stays flat: the giant images are decoded one at a time in their own lane.
No speed is asserted here (benchmarks/bench_server.py measures speed)."""
from __future__ import annotations

import asyncio
import sys
import time

from serving import ROOT, SHIPPED_MODEL, blank_png, running_server

sys.path.insert(0, str(ROOT / "benchmarks"))
from photos import photo_640x480  # noqa: E402
from bench_server import client, upload_request  # noqa: E402

SECONDS = 8.0  # bounded: every client stops sending after this
NORMAL_CLIENTS, GIANT_CLIENTS = 8, 2
MAX_GROWTH_MB = 600  # over the idle server's memory: one giant decode (119 MB image, its RGB copy, work)
FLAT_MARGIN_MB = 100  # the last third of the run may not peak higher than the first third by more


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


async def sample_rss(pid: int, until: float, samples: list) -> None:
    while time.perf_counter() < until:
        samples.append(rss_mb(pid))
        await asyncio.sleep(0.1)


async def load_with_giants(url: str, pid: int) -> tuple[list, list, list, list]:
    host, port = url.removeprefix("http://").split(":")
    normal, giant = upload_request(host, "photo.jpg", photo_640x480()), upload_request(
        host, "blank.png", blank_png(6300, 6300))
    until = time.perf_counter() + SECONDS
    latencies, errors, giant_latencies, samples = [], [], [], []
    outcomes = await asyncio.gather(
        *[client(host, int(port), normal, until, latencies, errors) for _ in range(NORMAL_CLIENTS)],
        *[client(host, int(port), giant, until, giant_latencies, errors) for _ in range(GIANT_CLIENTS)],
        sample_rss(pid, until, samples), return_exceptions=True)
    errors += [repr(o) for o in outcomes if isinstance(o, BaseException)]
    return latencies, giant_latencies, errors, samples


def test_giant_pngs_under_load_cause_no_errors_and_flat_memory():
    with running_server(SHIPPED_MODEL, "--processes", "1") as server:
        baseline = rss_mb(server.proc.pid)
        latencies, giant_latencies, errors, samples = asyncio.run(load_with_giants(server.url, server.proc.pid))
    third = len(samples) // 3
    report = (f"{len(latencies)} photos, {len(giant_latencies)} giants, errors {errors[:3]}, RSS baseline "
              f"{baseline:.0f} MB, peak {max(samples):.0f} MB, thirds {max(samples[:third]):.0f} / "
              f"{max(samples[third:2 * third]):.0f} / {max(samples[2 * third:]):.0f} MB")
    print(report)
    assert not errors, report
    assert latencies and giant_latencies, report
    assert max(samples) - baseline < MAX_GROWTH_MB, report
    assert max(samples[2 * third:]) <= max(samples[:third]) + FLAT_MARGIN_MB, report


def minor_faults(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[7])  # minflt, the 10th field


def test_requests_reuse_freed_memory_instead_of_faulting_in_fresh_pages():
    """server.py keeps glibc's malloc from handing freed memory back after each request: before,
    a 640x480 photo cost about 680 page faults a request (and 9 % of the CPU in the kernel)."""
    with running_server(SHIPPED_MODEL, "--processes", "1") as server:
        host, port = server.url.removeprefix("http://").split(":")
        request = upload_request(host, "photo.jpg", photo_640x480())

        def serve(seconds: float) -> list:
            latencies, errors = [], []
            asyncio.run(client(host, int(port), request, time.perf_counter() + seconds, latencies, errors))
            assert not errors, errors
            return latencies

        serve(1.0)  # warm-up: interpreters, caches
        before = minor_faults(server.proc.pid)
        answered = len(serve(2.0))
        per_request = (minor_faults(server.proc.pid) - before) / answered
    print(f"{answered} requests, {per_request:.1f} page faults a request")
    assert answered >= 10 and per_request < 60
