"""Single-row latency through the whole HTTP stack (validation, model, serialisation), in process."""

from __future__ import annotations

import time

import numpy as np
from fastapi.testclient import TestClient

from mining.catalog import ARTEFACTS
from mining.gates import gate


def measure(client: TestClient, records: list[dict], n: int) -> dict:
    """Percentiles (ms) over `n` single-record calls cycling through `records` (after one warm-up)."""
    client.post("/v1/predict", json={"records": [records[0]]})
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        r = client.post("/v1/predict", json={"records": [records[i % len(records)]]})
        times.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    t = np.array(times)
    return {"requests": n, "p50_ms": float(np.percentile(t, 50)), "p95_ms": float(np.percentile(t, 95)),
            "p99_ms": float(np.percentile(t, 99)), "max_ms": float(t.max())}


def latency_gates(latency: dict, sla_ms: float | None) -> list[dict]:
    """p95 of single-row calls against the charter's latency SLA."""
    return [gate("p95 single-row latency (ms)", latency["p95_ms"], "<=", sla_ms, ARTEFACTS["latency"].path)]
