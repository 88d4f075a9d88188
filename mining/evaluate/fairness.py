"""Group metrics by sensitive feature with fairlearn's MetricFrame."""

from __future__ import annotations

import numpy as np
import pandas as pd
from fairlearn.metrics import (MetricFrame, count, demographic_parity_difference, equalized_odds_difference,
                               false_negative_rate, false_positive_rate, selection_rate)


def group_metrics(y: np.ndarray, pred: np.ndarray, groups: pd.Series) -> tuple[pd.DataFrame, dict]:
    """(per-group table, summary) for one sensitive feature; missing group values form their own group."""
    g = groups.astype(str).where(groups.notna(), "missing").to_numpy()
    mf = MetricFrame(metrics={"count": count, "selection_rate": selection_rate,
                              "false_positive_rate": false_positive_rate,
                              "false_negative_rate": false_negative_rate},
                     y_true=y, y_pred=pred, sensitive_features=g)
    table = mf.by_group.reset_index().rename(columns={"sensitive_feature_0": "group"})
    table["count"] = table["count"].astype(int)
    table["positives"] = pd.Series(y).groupby(g).sum().reindex(table["group"]).to_numpy()
    summary = {
        "demographic_parity_difference": float(demographic_parity_difference(y, pred, sensitive_features=g)),
        "equalized_odds_difference": float(equalized_odds_difference(y, pred, sensitive_features=g)),
    }
    return table, summary


def fairness_report(y: np.ndarray, pred: np.ndarray, frame: pd.DataFrame, sensitive: list[str]) -> tuple[dict, dict]:
    """({feature: table}, {feature: summary}) over every sensitive feature present in `frame`."""
    tables, summaries = {}, {}
    for col in sensitive:
        if col in frame.columns:
            tables[col], summaries[col] = group_metrics(np.asarray(y), np.asarray(pred), frame[col])
    return tables, summaries
