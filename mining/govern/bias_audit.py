"""Bias audit of the holdout before deploy, and the mitigated models' decisions re-audited (the
gates themselves: `mining.fairness_gates`, shared with the audit of live decisions in monitor)."""

from __future__ import annotations

import pandas as pd

from mining.catalog import report
from mining.fairness_gates import audit, remedy_row

REPORT = report("govern")
REMEDIES = {"flagged_threshold_optimizer": "ThresholdOptimizer (per-group thresholds)",
            "flagged_exponentiated_gradient": "ExponentiatedGradient (constrained logistic mixture)"}


def remediation(pred: pd.DataFrame, sensitive: list[str], kpis: dict, report_only: list[str] = ()) -> pd.DataFrame:
    """The audit re-run on the decisions of each mitigated model evaluate trained (columns
    `flagged_<remedy>` of the holdout predictions): per remedy, the fairness gates failed before and
    after, and what it costs (accuracy, share flagged, recall)."""
    y = pred["target"].to_numpy()
    _, before = audit(pred, sensitive, kpis, report_only, where=REPORT)
    rows = [remedy_row("as shipped", pred["flagged"].to_numpy(), y, before)]
    for col, name in REMEDIES.items():
        if col in pred.columns:
            _, gates = audit(pred.assign(flagged=pred[col]), sensitive, kpis, report_only, where=REPORT)
            rows.append(remedy_row(name, pred[col].to_numpy(), y, gates))
    return pd.DataFrame(rows)
