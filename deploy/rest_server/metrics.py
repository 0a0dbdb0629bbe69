"""Prometheus metrics of one server process, with the standard prometheus-client library.

Each app has its own registry (tests build many apps in one process). With --processes N each
process keeps its own counts: a scrape of /metrics reaches one of them, named by the ``pid``
of ``glasses_process_info``.
"""
from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus' text exposition format
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})  # others count as "other"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Requests by endpoint and status, latency, requests in flight, decode budget, model version."""

    def __init__(self, in_flight, budget):
        self.registry = registry = CollectorRegistry()
        self.requests = Counter("glasses_http_requests", "HTTP requests answered",
                                ["endpoint", "method", "status"], registry=registry)
        self.latency = Histogram("glasses_http_request_duration_seconds", "Time to answer a request",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=registry)
        Gauge("glasses_http_requests_in_flight", "Requests being served",
              registry=registry).set_function(lambda: in_flight.count)
        Gauge("glasses_decode_megapixels_in_use", "Megapixels being decoded now",
              registry=registry).set_function(lambda: budget.used / 1e6)
        self.model = Info("glasses_model", "The model being served", registry=registry)
        Info("glasses_process", "This server process", registry=registry).info({"pid": str(os.getpid())})

    def model_loaded(self, version: str, model_id: str, threshold: float) -> None:
        self.model.info({"version": version, "model_id": model_id, "threshold": f"{threshold:g}"})

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, method if method in METHODS else "other", str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
