"""Holdout metrics and the operating threshold chosen from the charter's precision floor."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import (average_precision_score, brier_score_loss, precision_recall_curve,
                             precision_score, recall_score, roc_auc_score)

from mining.stats import bootstrap_ci


def choose_threshold(y: np.ndarray, scores: np.ndarray, min_precision: float, min_flagged_share: float = 0.0) -> dict:
    """Highest-recall threshold whose precision reaches `min_precision` on out-of-fold scores,
    among those that flag at least `min_flagged_share` of the rows, with a go / no-go verdict.

    Chosen on training out-of-fold scores, not on the holdout, so the holdout figures stay honest.
    A threshold that reaches the floor by flagging a handful of rows is no operating point: when
    none with enough support reaches the floor, the verdict is no-go and the reason says the best
    precision reachable, at what recall and how many rows it flags.
    """
    keep = ~np.isnan(scores)
    y, scores = np.asarray(y)[keep], np.asarray(scores)[keep]
    prec, rec, thr = precision_recall_curve(y, scores)
    prec, rec = prec[:-1], rec[:-1]
    flagged = len(scores) - np.searchsorted(np.sort(scores), thr, side="left")
    support = flagged >= max(1, int(np.ceil(min_flagged_share * len(scores))))
    ok = support & (prec >= min_precision)
    if ok.any():
        i = np.flatnonzero(ok)[np.argmax(rec[ok])]
    else:
        pool = np.flatnonzero(support) if support.any() else np.arange(len(thr))
        i = pool[np.argmax(prec[pool])]
    out = {"threshold": float(thr[i]), "oof_precision": float(prec[i]), "oof_recall": float(rec[i]),
           "oof_flagged": int(flagged[i]), "oof_flagged_share": float(flagged[i] / len(scores)),
           "meets_floor": bool(ok.any()), "min_flagged_share": float(min_flagged_share)}
    if ok.any():
        return out | {"verdict": "go", "reason": (
            f"precision {prec[i]:.3f} >= {min_precision} at recall {rec[i]:.3f}, flagging {flagged[i]:,} of "
            f"{len(scores):,} out-of-fold rows ({flagged[i] / len(scores):.1%})")}
    return out | {"verdict": "no-go", "reason": (
        f"no threshold that flags at least {min_flagged_share:.1%} of rows reaches the precision floor "
        f"{min_precision}: the best reachable is precision {prec[i]:.3f} at recall {rec[i]:.3f}, flagging "
        f"{flagged[i]:,} of {len(scores):,} out-of-fold rows ({flagged[i] / len(scores):.1%})")}


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


def holdout_intervals(y: np.ndarray, scores: np.ndarray, threshold: float, n_boot: int, seed: int) -> dict:
    """Bootstrap intervals (95 %, resampled within each class) of the headline holdout figures."""
    y, scores = np.asarray(y), np.asarray(scores)
    flag = lambda s: (s >= threshold).astype(int)  # noqa: E731
    figures = {"roc_auc": roc_auc_score, "pr_auc": average_precision_score,
               "precision": lambda t, s: precision_score(t, flag(s), zero_division=0),
               "recall": lambda t, s: recall_score(t, flag(s), zero_division=0),
               "brier": brier_score_loss}
    return {f"{k}_ci": bootstrap_ci(f, y, scores, n_boot=n_boot, seed=seed, strata=y) for k, f in figures.items()}


def calibration_table(y: np.ndarray, scores: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Observed positive rate against mean predicted score per quantile bin."""
    observed, predicted = calibration_curve(y, scores, n_bins=bins, strategy="quantile")
    return pd.DataFrame({"mean_predicted": predicted, "observed_rate": observed})
