"""Prometheus metrics of the whole server, with the standard prometheus-client library.

One process (--processes 1, and the apps the tests build, many in one process): each app
has its own registry. Several processes (the default, one per core): a scrape of /metrics
reaches any one of them, so each would report only its own counts, and Prometheus would see
counters jump back and forth between processes. So server.py makes them share: before it
starts them it calls ``share_between_processes(folder)`` (prometheus-client's multiprocess
mode), every process then counts into its own files in that folder, and whichever process is
scraped reads them all: counters and latencies summed over every process that ever served
(a process that died and was replaced keeps its counts), gauges summed over the live ones.
"""
from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess, values

SHARED_FOLDER = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's setting of multiprocess mode
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus' text exposition format
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})  # others count as "other"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
REFRESH_S = 1.0  # with shared metrics, how often a process writes its decode gauge (and at each scrape)


def share_between_processes(folder: str) -> None:
    """Count into files in ``folder`` from now on, in this process and those it forks. Call it
    before any metric is made: prometheus-client chooses how to keep values when it is first
    imported (from PROMETHEUS_MULTIPROC_DIR), so it is asked to choose again here."""
    os.environ[SHARED_FOLDER] = folder
    values.ValueClass = values.get_value_class()


def process_ended(pid: int) -> None:
    """A server process is gone: its gauges leave the sums (its counts stay)."""
    if SHARED_FOLDER in os.environ:
        multiprocess.mark_process_dead(pid)


class Metrics:
    """Requests by endpoint and status, latency, requests in flight, decode budget, model version,
    server processes."""

    def __init__(self, in_flight, budget):
        self.in_flight, self.budget = in_flight, budget
        self.shared = SHARED_FOLDER in os.environ
        self.registry = registry = CollectorRegistry()
        self.requests = Counter("glasses_http_requests", "HTTP requests answered",
                                ["endpoint", "method", "status"], registry=registry)
        self.latency = Histogram("glasses_http_request_duration_seconds", "Time to answer a request",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=registry)
        self.serving = Gauge("glasses_http_requests_in_flight", "Requests being served", registry=registry,
                             multiprocess_mode="livesum")
        self.decoding = Gauge("glasses_decode_megapixels_in_use", "Megapixels being decoded now",
                              registry=registry, multiprocess_mode="livesum")
        self.model = Gauge("glasses_model_info", "The model being served", ["version", "model_id", "threshold"],
                           registry=registry, multiprocess_mode="livemax")
        Gauge("glasses_server_processes", "Server processes serving", registry=registry,
              multiprocess_mode="livesum").set(1)
        in_flight.changed = self.serving.set  # as it happens: another process may be scraped next

    def model_loaded(self, version: str, model_id: str, threshold: float) -> None:
        self.model.labels(version, model_id, f"{threshold:g}").set(1)

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, method if method in METHODS else "other", str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def refresh(self) -> None:
        """Write this process's decode gauge as it is now (the in-flight one follows each change)."""
        self.decoding.set(self.budget.used / 1e6)

    def exposition(self) -> bytes:
        self.refresh()
        if not self.shared:
            return generate_latest(self.registry)
        everyone = CollectorRegistry()
        multiprocess.MultiProcessCollector(everyone)
        return generate_latest(everyone)
