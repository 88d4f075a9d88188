"""Whether the findings call for retraining, and why (each rule names its params key)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def realised_auc(target: pd.Series | None, scores: np.ndarray) -> float | None:
    """ROC AUC on a window whose outcomes are in (both classes present), else None."""
    if target is None or target.nunique() != 2:
        return None
    return float(roc_auc_score(target, scores))


def auc_drop(reference_auc: float | None, current_auc: float | None) -> float | None:
    """How far realised ROC AUC fell from the holdout's (None while outcomes are not in)."""
    if reference_auc is None or current_auc is None:
        return None
    return float(reference_auc - current_auc)


def retrain_decision(drift: pd.DataFrame, scores: dict, auc_drop: float | None, mon: dict) -> dict:
    """Retrain when too many inputs drifted, the predictions moved, or realised performance fell."""
    drifted_share = float(drift["drifted"].mean()) if len(drift) else 0.0
    reasons = []
    if drifted_share > mon["max_drifted_share"]:
        reasons.append(f"{drifted_share:.0%} of features drifted (PSI > {mon['psi_threshold']}), "
                       f"above monitor.max_drifted_share={mon['max_drifted_share']}")
    if scores["psi"] > mon["max_prediction_psi"]:
        reasons.append(f"prediction PSI {scores['psi']:.3f} above monitor.max_prediction_psi={mon['max_prediction_psi']}")
    if auc_drop is not None and auc_drop > mon["max_auc_drop"]:
        reasons.append(f"realised ROC AUC fell by {auc_drop:.3f}, above monitor.max_auc_drop={mon['max_auc_drop']}")
    return {"retrain": bool(reasons), "reasons": reasons, "drifted_share": drifted_share}
