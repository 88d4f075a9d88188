"""The evaluate stage's gates: the charter's thresholds held against the holdout figures."""

from __future__ import annotations

from mining.catalog import report
from mining.gates import gate


def classifier_gates(metrics: dict, kpis: dict) -> list[dict]:
    """Holdout ROC AUC against `min_roc_auc`; holdout precision at the threshold against
    `min_precision` less `precision_tolerance` (the threshold was chosen on out-of-fold scores,
    so the holdout's precision may miss the floor by sampling noise alone)."""
    floor = kpis["min_precision"]
    return [gate("holdout ROC AUC", metrics["roc_auc"], ">=", kpis["min_roc_auc"], f"{report('evaluate')}#performance-on-the-holdout"),
            gate("holdout precision at threshold", metrics["precision"], ">=",
                 None if floor is None else floor - kpis["precision_tolerance"],
                 "params/project.yaml kpis.min_precision")]


def segmenter_gates(share_psi: float, max_psi: float | None) -> list[dict]:
    """Segment shares on held-out customers against training's: the segments must generalise."""
    return [gate("segment-share PSI train vs holdout", share_psi, "<=", max_psi,
                 "params/evaluate.yaml max_segment_share_psi")]
