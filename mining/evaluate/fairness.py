"""Group metrics by sensitive feature at the operating threshold (the evaluate stage's fairness table)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mining.stats import group_metrics


def fairness_report(y: np.ndarray, pred: np.ndarray, frame: pd.DataFrame, sensitive: list[str]) -> tuple[dict, dict]:
    """({feature: table}, {feature: summary}) over every sensitive feature present in `frame`."""
    tables, summaries = {}, {}
    for col in sensitive:
        if col in frame.columns:
            tables[col], summaries[col] = group_metrics(np.asarray(y), np.asarray(pred), frame[col])
    return tables, summaries
