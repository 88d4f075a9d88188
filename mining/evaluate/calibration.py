"""Probability calibration: measured (reliability, Brier, ECE), chosen on out-of-fold scores, shipped.

The choice between no calibration, a sigmoid on the log-odds (Platt) and isotonic regression is
made on the training out-of-fold scores, cross-fitted so that each method is judged on scores it
was not fitted on; the holdout only measures the result. A calibration is plain data (two
coefficients, or the isotonic step points) so that the serving bundle and the compiled scorer
apply exactly the same mapping as the evaluation did.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss
from sklearn.model_selection import StratifiedKFold

METHODS = ("none", "sigmoid", "isotonic")
CLIP = 1e-6


def _logit(s: np.ndarray) -> np.ndarray:
    s = np.clip(np.asarray(s, dtype=float), CLIP, 1 - CLIP)
    return np.log(s / (1 - s))


@dataclass(frozen=True)
class Calibration:
    """A fitted score -> probability mapping: `method` and its parameters."""

    method: str = "none"
    params: dict = field(default_factory=dict)

    def apply(self, scores: np.ndarray) -> np.ndarray:
        s = np.asarray(scores, dtype=float)
        if self.method == "sigmoid":
            return 1 / (1 + np.exp(-(self.params["a"] * _logit(s) + self.params["b"])))
        if self.method == "isotonic":
            return np.interp(s, self.params["x"], self.params["y"])
        return s

    def to_dict(self) -> dict:
        return {"method": self.method, "params": self.params}

    @classmethod
    def from_dict(cls, d: dict | None) -> "Calibration":
        return cls() if not d else cls(d["method"], d.get("params") or {})


def fit_calibration(method: str, y: np.ndarray, scores: np.ndarray) -> Calibration:
    if method == "none":
        return Calibration()
    if method == "sigmoid":
        lr = LogisticRegression(C=1e6).fit(_logit(scores)[:, None], y)
        return Calibration("sigmoid", {"a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])})
    if method == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, y)
        return Calibration("isotonic", {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()})
    raise ValueError(f"calibration method {method!r}: expected one of {', '.join(METHODS)}")


def ece(y: np.ndarray, scores: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: |observed rate - mean score| per equal-width bin, weighted by
    the bin's share of rows."""
    y, s = np.asarray(y, dtype=float), np.asarray(scores, dtype=float)
    idx = np.minimum((s * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(idx):
        m = idx == b
        total += m.mean() * abs(y[m].mean() - s[m].mean())
    return float(total)


def choose_calibration(y: np.ndarray, scores: np.ndarray, methods: list[str], *, folds: int, seed: int,
                       bins: int, min_brier_gain: float) -> tuple[Calibration, pd.DataFrame, np.ndarray]:
    """(the chosen calibration fitted on all of `scores`, the comparison table, the chosen
    method's cross-fitted scores). Lowest cross-fitted Brier wins; a method must beat no
    calibration by `min_brier_gain` to be used."""
    keep = ~np.isnan(scores)
    y, s = np.asarray(y)[keep], np.asarray(scores)[keep]
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    crossed, rows = {}, []
    for method in dict.fromkeys(["none", *methods]):
        out = np.empty(len(s))
        for fit_idx, val_idx in cv.split(s, y):
            out[val_idx] = fit_calibration(method, y[fit_idx], s[fit_idx]).apply(s[val_idx])
        crossed[method] = out
        rows.append({"method": method, "brier": brier_score_loss(y, out), "ece": ece(y, out, bins),
                     "log_loss": log_loss(y, np.clip(out, CLIP, 1 - CLIP))})
    table = pd.DataFrame(rows)
    base = float(table.loc[table["method"] == "none", "brier"].iloc[0])
    best = table.sort_values("brier").iloc[0]
    method = best["method"] if best["brier"] <= base - min_brier_gain else "none"
    table["chosen"] = table["method"] == method
    full = np.full(len(keep), np.nan)
    full[keep] = crossed[method]
    return fit_calibration(method, y, s), table, full


class Calibrated(ClassifierMixin, BaseEstimator):
    """A fitted classifier whose positive-class score goes through a calibration: what deploy ships."""

    def __init__(self, model, calibration: Calibration):
        self.model = model
        self.calibration = calibration

    @property
    def classes_(self) -> np.ndarray:
        return self.model.classes_

    def predict_proba(self, X) -> np.ndarray:
        p = self.calibration.apply(self.model.predict_proba(X)[:, 1])
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]
