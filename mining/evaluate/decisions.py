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


def operating_gate(operating: dict, min_precision: float) -> dict:
    """The operating point must reach the precision floor on out-of-fold scores while flagging at
    least `min_flagged_share` of customers: `choose_threshold`'s go / no-go verdict as a gate."""
    return gate(f"operating point: out-of-fold precision while flagging >= {operating['min_flagged_share']:.1%}",
                operating["oof_precision"], ">=", min_precision, "params/evaluate.yaml min_flagged_share")


def robustness_gate(drop: float, level: float, max_drop: float | None) -> dict:
    """Holdout ROC AUC lost when every numeric input gets Gaussian noise of `level` x its spread."""
    return gate(f"ROC AUC drop under {level:.0%} input noise", drop, "<=", max_drop,
                "params/evaluate.yaml robustness.max_auc_drop")


def segmenter_gates(share_psi: float, max_psi: float | None) -> list[dict]:
    """Segment shares on held-out customers against training's: the segments must generalise."""
    return [gate("segment-share PSI train vs holdout", share_psi, "<=", max_psi,
                 "params/evaluate.yaml max_segment_share_psi")]
