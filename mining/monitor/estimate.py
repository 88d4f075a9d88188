"""Performance before the labels arrive: confidence-based performance estimation (CBPE).

The idea of NannyML's CBPE: if the scores are calibrated, a record with probability p counts as
p of a true positive when flagged and p of a false negative when not, so the expected confusion
matrix, and with it ROC AUC, precision and recall, follows from the scores alone. The scores are
calibrated on the holdout (isotonic, where the labels are known); the estimate holds while the
relation between inputs and outcome does not change (concept drift breaks it, and the realised
figure, once the labels arrive, shows that). NannyML itself pins an older pandas, so the formulas
(a dozen lines) are written here.
"""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression


def calibrator(scores: np.ndarray, targets: np.ndarray) -> IsotonicRegression:
    """score -> probability of the positive class, fitted where the outcome is known."""
    return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, targets)


def estimated_roc_auc(scores: np.ndarray, probability: np.ndarray) -> float | None:
    """The ROC AUC expected if each record is positive with `probability`, ranked by `scores`."""
    p = np.asarray(probability, float)
    if len(p) < 2 or p.sum() <= 0 or (1 - p).sum() <= 0:
        return None
    order = np.argsort(-np.asarray(scores, float), kind="stable")
    tp, fp = np.cumsum(p[order]), np.cumsum(1 - p[order])
    tpr = np.concatenate([[0.0], tp / tp[-1]])
    fpr = np.concatenate([[0.0], fp / fp[-1]])
    return float(np.trapezoid(tpr, fpr))


def estimated_precision_recall(flagged: np.ndarray, probability: np.ndarray) -> tuple[float | None, float | None]:
    """Expected precision and recall at the operating point (`flagged`: score >= threshold)."""
    p, f = np.asarray(probability, float), np.asarray(flagged, bool)
    tp = p[f].sum()
    precision = float(tp / f.sum()) if f.any() else None
    recall = float(tp / p.sum()) if p.sum() > 0 else None
    return precision, recall


def realised_precision_recall(flagged: np.ndarray, target: np.ndarray) -> tuple[float | None, float | None]:
    """Precision and recall at the operating point once the outcomes are in (what the estimate is checked against)."""
    f, y = np.asarray(flagged, bool), np.asarray(target, float)
    precision = float(y[f].mean()) if f.any() else None
    recall = float(y[f].sum() / y.sum()) if y.sum() > 0 else None
    return precision, recall
