"""What a stage run costs: wall time, CPU seconds and peak memory of its notebook's kernel, and
their price at `enterprise.cpu_hour_price`.

The kernel is a child process of `mining run`; once papermill has shut it down and reaped it, the
operating system's accounting of finished children (getrusage RUSAGE_CHILDREN) holds its CPU time
and peak resident memory, worker processes it waited for included. One `mining run` runs one
stage, so the children's peak is that stage's.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from mining.reports import read_json, write_json


def _cpu_s(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


@contextmanager
def metered() -> Iterator[dict]:
    """Fills the yielded dict, on exit, with wall_s, cpu_s and peak_rss_mb of the children run inside."""
    figures: dict = {}
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    try:
        yield figures
    finally:
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        kib = 1 if sys.platform != "darwin" else 1024  # ru_maxrss: KiB on Linux, bytes on macOS
        figures.update(wall_s=round(time.perf_counter() - start, 2), cpu_s=round(_cpu_s(after) - _cpu_s(before), 2),
                       peak_rss_mb=round(after.ru_maxrss / kib / 1024, 1))


def record(metrics_file: Path, figures: dict) -> None:
    """Add `compute` to the stage's metrics file (written by its notebook, so it exists once the
    stage succeeded); a stage that wrote none is left alone."""
    if not metrics_file.exists():
        return
    write_json(metrics_file, {**read_json(metrics_file), "compute": figures})


def compute_table(metrics: dict[str, dict], cpu_hour_price: float) -> pd.DataFrame:
    """One row per stage that recorded its compute: wall time, CPU seconds, peak memory and cost."""
    rows = [{"stage": stage, **m["compute"]} for stage, m in metrics.items() if m and "compute" in m]
    table = pd.DataFrame(rows, columns=["stage", "wall_s", "cpu_s", "peak_rss_mb"])
    return table.assign(cost=table["cpu_s"] / 3600 * cpu_hour_price)
