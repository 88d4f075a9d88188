"""Tables for BI tools (Power BI, Tableau, Superset read Parquet and CSV): KPIs, scores, audits."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mining import atomic
from mining.charter import SEGMENTATION


def kpi_table(metrics: dict[str, dict], gates: list[dict], task: str, output: pd.DataFrame,
              compute: pd.DataFrame) -> pd.DataFrame:
    """One row per headline figure (what the dashboard follows across runs) and per gate, with its
    threshold and status."""
    ev, mon = metrics["evaluate"], metrics["monitor"]
    keys = ("silhouette", "share_psi", "k") if task == SEGMENTATION else ("roc_auc", "pr_auc", "precision", "recall", "brier")
    figures = [("evaluate", k, ev[k]) for k in keys]
    if task != SEGMENTATION:
        realised = [v for v in (mon.get("realised_roc_auc") or {}).values() if v is not None]
        odds = [f["equalized_odds_difference"] for f in (ev.get("fairness") or {}).values()
                if f["equalized_odds_difference"] is not None]  # None: no two groups large enough to judge
        figures += [("evaluate", "max_equalized_odds_difference", max(odds) if odds else None),
                    ("evaluate", "value_at_threshold", ev.get("value_at_threshold")),
                    ("evaluate", "ab_lift", ev.get("ab_lift")),
                    ("monitor", "realised_roc_auc_latest", realised[-1] if realised else None),
                    ("output", "flagged", int(output["flagged"].sum()))]
    figures += [("deploy", "p95_latency_ms", metrics["deploy"]["p95_ms"]),
                ("monitor", "prediction_psi", mon["prediction_psi"]),
                ("monitor", "drifted_features", mon["drifted_features"]),
                ("output", "scored", len(output)),
                ("compute", "wall_s", float(compute["wall_s"].sum())),
                ("compute", "cpu_s", float(compute["cpu_s"].sum())),
                ("compute", "cost", float(compute["cost"].sum()))]
    drift = "retrain" if mon["retrain"] else "stable"
    rows = [{"stage": stage, "kpi": k, "value": None if v is None else float(v), "threshold": None,
             "status": drift if k == "prediction_psi" else "info"} for stage, k, v in figures]
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
