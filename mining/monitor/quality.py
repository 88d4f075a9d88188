"""Data-quality alerts on the inputs the API logged, window by window, against what training saw.

Rules (thresholds in params/monitor.yaml `quality`): a column that turned null (critical) or
constant (critical), a missing share well above training's, numbers outside the training range,
categories training never saw, and a volume drop against the previous windows. Each alert names
its kind, the feature where one applies, the window and a severity; a critical alert makes
`mining run monitor` exit non-zero once the report is written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CRITICAL, WARNING = "critical", "warning"


def alert(kind: str, window: str, severity: str, detail: str, feature: str | None = None) -> dict:
    return {"kind": kind, "feature": feature, "window": window, "severity": severity, "detail": detail}


def expected_unseen(reference: pd.Series) -> float:
    """The share of new records whose level training never saw, by the Good-Turing estimate (levels
    seen once / rows) plus three of its standard errors (about sqrt(levels seen once) / rows; the
    estimate runs low on small samples): about 0 for a plan with four levels, several percent for
    ZIP codes in a small training set."""
    counts = reference.dropna().astype(str).value_counts()
    once, n = int((counts == 1).sum()), max(int(counts.sum()), 1)
    return float((once + 3 * np.sqrt(once)) / n)


def quality_alerts(window: str, rows: pd.DataFrame, inputs: dict[str, dict], rules: dict,
                   previous_volumes: list[int]) -> list[dict]:
    """The alerts of one window of logged records (`inputs`: the bundle's schema, with training's
    missing shares, ranges and categories, and optionally `expected_unseen`: new levels are normal
    for a field of many levels, so only unseen values beyond that share are alerted)."""
    out = []
    n = len(rows)
    if previous_volumes and n < rules["min_volume_ratio"] * float(np.median(previous_volumes)):
        out.append(alert("volume_drop", window, WARNING, f"{n:,} records against a median of "
                         f"{np.median(previous_volumes):,.0f} in earlier windows"))
    if not n:
        return out
    for name, spec in inputs.items():
        if name not in rows:
            out.append(alert("missing_column", window, CRITICAL, "the field is absent from every record", name))
            continue
        col = rows[name]
        missing = float(col.isna().mean())
        if missing >= rules["null_column_share"]:
            out.append(alert("null_column", window, CRITICAL, f"{missing:.0%} of values are null", name))
            continue
        if missing > spec.get("missing_share", 0.0) + rules["max_missing_increase"]:
            out.append(alert("missing_values", window, WARNING, f"{missing:.1%} null against {spec.get('missing_share', 0):.1%} "
                             "in training", name))
        values = col.dropna()
        if len(values) >= rules["min_rows"] and values.nunique() == 1 and (spec.get("n_unique") or 2) > 1:
            out.append(alert("constant_column", window, CRITICAL, f"every value is {values.iloc[0]!r}", name))
            continue
        if "range" in spec and len(values):
            lo, hi = spec["range"]
            outside = float(((values < lo) | (values > hi)).mean())
            if outside > rules["max_out_of_range_share"]:
                out.append(alert("out_of_range", window, WARNING, f"{outside:.1%} outside the training range "
                                 f"[{lo:g}, {hi:g}]", name))
        if "categories" in spec and len(values):
            unseen = values[~values.astype(str).isin(spec["categories"])]
            expected, share = spec.get("expected_unseen", 0.0), len(unseen) / len(values)
            # the window's share is a sample too: its lower bound (3 standard errors) must clear the limit
            if share - 3 * np.sqrt(share * (1 - share) / len(values)) > expected + rules["max_unseen_share"]:
                top = unseen.astype(str).value_counts().head(3).index.tolist()
                out.append(alert("unseen_category", window, WARNING, f"{share:.1%} of values were "
                                 f"never seen in training (about {expected:.1%} expected), e.g. {top}", name))
    return out
