"""Backtest over unseen time windows: the model refitted on everything before each window and
scored on the window, so a reviewer sees how the figures move over time rather than one number."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def time_windows(times: pd.Series, windows: int) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """`windows` + 1 consecutive spans holding equal numbers of rows; the first only trains."""
    t = pd.to_datetime(times)
    edges = t.quantile(np.linspace(0, 1, windows + 2)).to_list()
    return list(zip(edges[:-1], edges[1:]))


def backtest(model, X: pd.DataFrame, y: np.ndarray, times: pd.Series, windows: int) -> pd.DataFrame:
    """One row per window: its span, rows trained on and scored, positive rate, ROC AUC, PR AUC,
    Brier score. A window with one class only is reported without rank metrics."""
    t = pd.to_datetime(times).reset_index(drop=True)
    X, y = X.reset_index(drop=True), np.asarray(y)
    spans = time_windows(t, windows)
    rows = []
    for i, (start, end) in enumerate(spans[1:], start=1):
        fit = (t < start).to_numpy()
        score = ((t >= start) & ((t < end) if i < len(spans) - 1 else (t <= end))).to_numpy()
        if fit.sum() == 0 or score.sum() == 0 or len(np.unique(y[fit])) < 2:
            continue
        s = clone(model).fit(X[fit], y[fit]).predict_proba(X[score])[:, 1]
        both = len(np.unique(y[score])) == 2
        rows.append({"window": i, "start": start, "end": end, "train_rows": int(fit.sum()),
                     "scored_rows": int(score.sum()), "positive_rate": float(y[score].mean()),
                     "roc_auc": float(roc_auc_score(y[score], s)) if both else np.nan,
                     "pr_auc": float(average_precision_score(y[score], s)) if both else np.nan,
                     "brier": float(brier_score_loss(y[score], s))})
    return pd.DataFrame(rows)
