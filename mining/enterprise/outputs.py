"""The charter's output for downstream systems: a score per customer, or a segment per customer."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from mining.charter import CLASSIFICATION, SEGMENTATION, task_of
from mining.deploy.bundle import model_output
from mining.features.store import inputs


def charter_output(model, frame: pd.DataFrame, defs: dict, bundle: dict, version: str, scored_at: datetime,
                   segment_names: dict[int, str] | None = None) -> pd.DataFrame:
    """Every entity of the feature table scored (or segmented) by the serving model."""
    id_col = defs["roles"]["id"]
    out = pd.DataFrame({"id": frame[id_col].astype(str) if id_col else frame.index.astype(str)})
    X = frame[inputs(defs)]
    if task_of(bundle) == SEGMENTATION:
        out["segment"] = model_output(model, SEGMENTATION, X)
        out["segment_name"] = out["segment"].map(segment_names or {})
    else:
        out["score"] = model_output(model, CLASSIFICATION, X)
        out["flagged"] = out["score"] >= bundle["threshold"]
    out["model_version"], out["scored_at"] = version, scored_at
    return out


def headline(task: str, metrics: dict, output: pd.DataFrame, sla_ms: float) -> list[dict]:
    """The four figures at the top of the executive page."""
    latency = {"label": "p95 latency", "value": f"{metrics['deploy']['p95_ms']:.1f} ms", "note": f"SLA {sla_ms} ms"}
    ev = metrics["evaluate"]
    if task == SEGMENTATION:
        biggest = output["segment"].value_counts(normalize=True)
        return [{"label": "segments", "value": str(ev["k"]), "note": metrics["train"]["chosen"]},
                {"label": "silhouette (holdout)", "value": f"{ev['silhouette']:.3f}", "note": f"share PSI {ev['share_psi']:.4f}"},
                {"label": "largest segment", "value": f"{biggest.iloc[0]:.0%}", "note": f"of {len(output):,} customers"},
                latency]
    return [{"label": "holdout ROC AUC", "value": f"{ev['roc_auc']:.3f}", "note": f"PR AUC {ev['pr_auc']:.3f}"},
            {"label": "precision at threshold", "value": f"{ev['precision']:.2f}", "note": f"recall {ev['recall']:.2f}"},
            {"label": "customers flagged", "value": f"{int(output['flagged'].sum()):,}", "note": f"of {len(output):,} scored"},
            latency]
