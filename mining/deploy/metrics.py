"""Prometheus metrics of the API: requests, latency, errors, records per model version, cache hits.

Each app gets its own registry (several apps live in one test process). Under several uvicorn
workers `make serve` sets PROMETHEUS_MULTIPROC_DIR, and `/metrics` then adds up every worker's
files, so a scrape sees the whole server, not the one worker that answered it.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

BUCKETS = (.0005, .001, .002, .003, .005, .0075, .01, .025, .05, .1, .25, .5, 1.0, 2.5)


class ApiMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("mining_api_requests", "HTTP requests by path and status", ["path", "status"], registry=r)
        self.latency = Histogram("mining_api_request_seconds", "request latency by path", ["path"], buckets=BUCKETS,
                                 registry=r)
        self.records = Counter("mining_api_records_scored", "records scored by model version and route",
                               ["model_version", "route"], registry=r)
        self.cache = Counter("mining_api_cache", "prediction cache lookups by result", ["result"], registry=r)
        self.log_failed = Gauge("mining_api_log_rows_failed", "inference-log rows this worker could not write",
                                registry=r, multiprocess_mode="sum")

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            merged = CollectorRegistry()
            MultiProcessCollector(merged)
            return generate_latest(merged)
        return generate_latest(self.registry)
