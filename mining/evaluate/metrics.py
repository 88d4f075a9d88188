"""Holdout metrics and the operating threshold chosen from the charter's precision floor."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import (average_precision_score, brier_score_loss, precision_recall_curve,
                             precision_score, recall_score, roc_auc_score)


def choose_threshold(y: np.ndarray, scores: np.ndarray, min_precision: float) -> dict:
    """Highest-recall threshold whose precision reaches `min_precision` on out-of-fold scores.

    Chosen on training out-of-fold scores, not on the holdout, so the holdout figures stay honest.
    When no threshold reaches the floor, the one with the best precision is returned, flagged.
    """
    keep = ~np.isnan(scores)
    prec, rec, thr = precision_recall_curve(y[keep], scores[keep])
    prec, rec = prec[:-1], rec[:-1]
    ok = prec >= min_precision
    if ok.any():
        i = np.flatnonzero(ok)[np.argmax(rec[ok])]
        return {"threshold": float(thr[i]), "oof_precision": float(prec[i]), "oof_recall": float(rec[i]),
                "meets_floor": True}
    i = int(np.argmax(prec))
    return {"threshold": float(thr[i]), "oof_precision": float(prec[i]), "oof_recall": float(rec[i]),
            "meets_floor": False}


def holdout_metrics(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    pred = (scores >= threshold).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y, scores)),
        "pr_auc": float(average_precision_score(y, scores)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "brier": float(brier_score_loss(y, scores)),
        "positive_rate": float(y.mean()),
        "flagged_rate": float(pred.mean()),
        "threshold": float(threshold),
        "n": int(len(y)),
    }


def calibration_table(y: np.ndarray, scores: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Observed positive rate against mean predicted score per quantile bin."""
    observed, predicted = calibration_curve(y, scores, n_bins=bins, strategy="quantile")
    return pd.DataFrame({"mean_predicted": predicted, "observed_rate": observed})
