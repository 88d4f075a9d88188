"""Tables for BI tools (Power BI, Tableau, Superset read Parquet and CSV): KPIs, scores, audits."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mining import atomic
from mining.charter import CLASSIFICATION, SEGMENTATION


def kpi_table(metrics: dict[str, dict], gates: list[dict], task: str = CLASSIFICATION) -> pd.DataFrame:
    """One row per headline figure and per gate, with its threshold and status."""
    keys = ("silhouette", "share_psi", "k") if task == SEGMENTATION else ("roc_auc", "pr_auc", "precision", "recall", "brier")
    rows = [{"stage": "evaluate", "kpi": k, "value": metrics["evaluate"][k], "threshold": None, "status": "info"}
            for k in keys]
    rows += [{"stage": "deploy", "kpi": "p95_latency_ms", "value": metrics["deploy"]["p95_ms"], "threshold": None,
              "status": "info"},
             {"stage": "monitor", "kpi": "prediction_psi", "value": metrics["monitor"]["prediction_psi"],
              "threshold": None, "status": "retrain" if metrics["monitor"]["retrain"] else "stable"}]
    rows += [{"stage": "gate", "kpi": g["gate"], "value": g["measured"], "threshold": g["threshold"],
              "status": "pass" if g["passed"] else "fail"} for g in gates]
    return pd.DataFrame(rows)


def write_tables(out: Path, tables: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Each table as Parquet (typed) and CSV (for spreadsheet users); returns row counts."""
    out.mkdir(parents=True, exist_ok=True)
    for name, t in tables.items():
        atomic.save(out / f"{name}.parquet", lambda p, t=t: t.to_parquet(p, index=False))
        atomic.save(out / f"{name}.csv", lambda p, t=t: t.to_csv(p, index=False))
    return {name: len(t) for name, t in tables.items()}
