"""Fairness gates: each group's error rates against everyone's, and the charter's limits per
sensitive feature. Governance audits the holdout before deploy, monitoring the live decisions after
it: both with these functions, each naming its own report in the gates (`where`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

from mining.gates import failed, gate
from mining.stats import group_labels, group_metrics

FOUR_FIFTHS = (0.8, 1.25)  # a group's selection rate over the reference group's, the US EEOC's rule of thumb


def coverage_gate(col: str, judgeable: int, report_only: list[str], where: str) -> dict:
    """Fail closed: a declared sensitive feature must be in the predictions with at least two groups
    large enough to judge, or no fairness gate could hold it. A feature listed in
    `govern.report_only` is reported instead (the gate records that choice)."""
    threshold = None if col in report_only else 2
    return gate(f"groups large enough to judge by {col}", judgeable, ">=", threshold,
                "params/govern.yaml report_only" if col in report_only else where)


def audit(pred: pd.DataFrame, sensitive: list[str], kpis: dict, report_only: list[str] = (), *,
          where: str) -> tuple[pd.DataFrame, list[dict]]:
    """(per-group table with pass/fail, gates per feature) from decisions (`target`, `flagged`).

    A group passes when its false-positive and false-negative rates are each within
    `max_equalized_odds_difference` of the overall rates. Groups with fewer than `min_group_size`
    rows or `min_group_positives` positives (too few to estimate a false-negative rate) are
    reported as 'too small to judge' and left out of the feature-level gate; a feature with fewer
    than two judgeable groups (or absent) fails its coverage gate (`coverage_gate`); the difference
    gates carry their `feature` and `figure` (equalized_odds, demographic_parity). Each judgeable
    group's selection-rate ratio to the largest is shown against the four-fifths rule (0.8-1.25).
    """
    y, p = pred["target"].to_numpy(), pred["flagged"].to_numpy()
    fpr_all = float(p[y == 0].mean()) if (y == 0).any() else np.nan
    fnr_all = float(1 - p[y == 1].mean()) if (y == 1).any() else np.nan
    limit, min_n, min_pos = (kpis["max_equalized_odds_difference"], int(kpis["min_group_size"]),
                             int(kpis["min_group_positives"]))
    tables, gates = [], []
    for col in sensitive:
        if col not in pred.columns:
            gates.append(coverage_gate(col, 0, list(report_only), where))
            continue
        t, _ = group_metrics(y, p, pred[col])
        t.insert(0, "feature", col)
        t["gap"] = np.maximum((t["false_positive_rate"] - fpr_all).abs(), (t["false_negative_rate"] - fnr_all).abs())
        big = (t["count"] >= min_n) & (t["positives"] >= min_pos)
        t["selection_ratio"] = selection_ratio(t, big)
        t["four_fifths"] = np.where(~big, "not judged",
                                    np.where(t["selection_ratio"].between(*FOUR_FIFTHS), "within", "outside"))
        t["status"] = np.where(~big, "too small to judge",
                               np.where(limit is None or t["gap"] <= (limit if limit is not None else np.inf),
                                        "pass", "fail"))
        tables.append(t)
        groups = group_labels(pred[col])
        judged = groups.isin(t.loc[big, "group"]).to_numpy()
        gates.append(coverage_gate(col, int(t.loc[big, "group"].nunique()), list(report_only), where))
        if judged.any() and t.loc[big, "group"].nunique() > 1:
            gates.append(gate(f"equalized-odds difference by {col}",
                              equalized_odds_difference(y[judged], p[judged], sensitive_features=groups[judged]),
                              "<=", limit, where) | {"feature": col, "figure": "equalized_odds"})
            gates.append(gate(f"demographic-parity difference by {col}",
                              demographic_parity_difference(y[judged], p[judged], sensitive_features=groups[judged]),
                              "<=", kpis.get("max_demographic_parity_difference"), where)
                         | {"feature": col, "figure": "demographic_parity"})
    return (pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()), gates


def selection_ratio(t: pd.DataFrame, judged: pd.Series) -> pd.Series:
    """Each group's selection rate over that of the largest judgeable group (the four-fifths rule's
    reference); NaN when no group can be judged or the reference selects nobody."""
    if not judged.any():
        return pd.Series(np.nan, index=t.index)
    reference = float(t.loc[t.loc[judged, "count"].idxmax(), "selection_rate"])
    return t["selection_rate"] / reference if reference > 0 else pd.Series(np.nan, index=t.index)


def audit_segments(pred: pd.DataFrame, sensitive: list[str], kpis: dict, report_only: list[str] = (), *,
                   where: str) -> tuple[pd.DataFrame, list[dict]]:
    """Segmentation: share of each group placed in each segment, and per segment the gap between
    groups (the demographic-parity difference of being put there), gated by the charter's
    `max_demographic_parity_difference` on groups of at least `min_group_size` customers."""
    min_n, tables, gates = int(kpis["min_group_size"]), [], []
    for col in sensitive:
        if col not in pred.columns:
            gates.append(coverage_gate(col, 0, list(report_only), where))
            continue
        groups = group_labels(pred[col])
        sizes = groups.value_counts()
        gates.append(coverage_gate(col, int((sizes >= min_n).sum()), list(report_only), where))
        shares = pd.crosstab(groups, pred["segment"], normalize="index")
        judged = shares.loc[sizes[sizes >= min_n].index]
        gap = (judged.max() - judged.min()) if len(judged) > 1 else pd.Series(0.0, index=shares.columns)
        t = shares.stack().rename("share").reset_index().rename(columns={col: "group"})
        t.insert(0, "feature", col)
        t["count"] = t["group"].map(sizes).astype(int)
        t["segment_gap"] = t["segment"].map(gap)
        limit = kpis.get("max_demographic_parity_difference")
        t["status"] = np.where(t["count"] < min_n, "too small to judge",
                               np.where((limit is None) | (t["segment_gap"] <= (limit if limit is not None else np.inf)),
                                        "pass", "fail"))
        tables.append(t)
        gates.append(gate(f"largest segment-share gap by {col}", float(gap.max()), "<=", limit, where))
    return (pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()), gates


def remedy_row(name: str, flagged: np.ndarray, y: np.ndarray, gates: list[dict]) -> dict:
    """One row of a before / after table: the fairness gates failed and what the decisions cost."""
    broken = failed(gates)
    return {"decisions": name, "fairness_gates_failed": len(broken), "failed": ", ".join(broken) or "none",
            "accuracy": float((flagged == y).mean()), "flagged_rate": float(flagged.mean()),
            "recall": float(flagged[y == 1].mean()) if (y == 1).any() else float("nan")}
