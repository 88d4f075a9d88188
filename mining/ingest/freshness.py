"""Freshness against cost (curriculum 2.6): what this ingest run took, and what keeping the tables
that fresh on a schedule would cost at the measured rate.

Every scheduled run re-reads the whole source, so a schedule costs runs x CPU seconds of a run; the
data is then at most one interval plus one run old. The CPU counted is this process's and that of
the worker processes it started and stopped (a LocalCluster); an external cluster's workers report
their own.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from mining.data.remote import is_remote, is_sql
from mining.data.sources import BUILTIN_DEMO
from mining.params import Params

RUNS_PER_MONTH = {"every 15 minutes": 4 * 24 * 30, "hourly": 24 * 30, "daily": 30, "weekly": 52 / 12}
INTERVAL_H = {"every 15 minutes": 0.25, "hourly": 1.0, "daily": 24.0, "weekly": 168.0}


def _cpu_s() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@contextmanager
def measured() -> Iterator[dict]:
    """Fills the yielded dict, on exit, with the wall and CPU seconds spent inside."""
    figures: dict = {}
    wall, cpu = time.perf_counter(), _cpu_s()
    try:
        yield figures
    finally:
        figures.update(wall_s=time.perf_counter() - wall, cpu_s=_cpu_s() - cpu)


def bytes_read(params: Params) -> int | None:
    """Size of the file and folder sources, the event source included (None when one is a
    database, a remote object or the generated demo: nothing on disk to measure)."""
    data, root, total = params["data"], params.root, 0
    for source in [data["source"], *filter(None, [data["events"].get("source")])]:
        if source == BUILTIN_DEMO or is_sql(source) or is_remote(source):
            return None
        path = Path(source.removeprefix("file://"))
        path = path if path.is_absolute() else root / path
        total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size
    return total


def run_figures(rows: int, wall_s: float, cpu_s: float, nbytes: int | None) -> dict:
    """Per run: rows, wall and CPU seconds, rows per second and bytes read."""
    return {"rows": rows, "wall_s": round(wall_s, 2), "cpu_s": round(cpu_s, 2),
            "rows_per_s": round(rows / wall_s) if wall_s > 0 else None, "bytes_read": nbytes}


def schedule_costs(cpu_s: float, wall_s: float, cpu_hour_price: float, currency: str) -> pd.DataFrame:
    """One row per schedule: runs a month, CPU-hours a month and their price, and how stale the
    tables can be (one interval plus one run)."""
    rows = [{"schedule": name, "runs_per_month": round(runs, 1), "cpu_hours_per_month": cpu_s * runs / 3600,
             f"cost_per_month_{currency}": cpu_s * runs / 3600 * cpu_hour_price,
             "worst_staleness_h": INTERVAL_H[name] + wall_s / 3600}
            for name, runs in RUNS_PER_MONTH.items()]
    return pd.DataFrame(rows)
