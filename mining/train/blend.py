"""A weighted average of candidate pipelines, chosen greedily on out-of-fold scores."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone


class Blend(ClassifierMixin, BaseEstimator):
    """Soft vote of `members` [(name, pipeline)] with `weights`; each member refits on `fit`."""

    def __init__(self, members=None, weights=None):
        self.members = members
        self.weights = weights

    def fit(self, X, y, sample_weight=None):
        kw = {} if sample_weight is None else {"model__sample_weight": sample_weight}
        self.members_ = [(name, clone(m).fit(X, y, **kw)) for name, m in self.members]
        self.classes_ = self.members_[0][1].classes_
        return self

    @classmethod
    def from_fitted(cls, members, weights) -> "Blend":
        """A blend of pipelines already fitted on the same rows (no refit)."""
        blend = cls(members=members, weights=weights)
        blend.members_ = list(members)
        blend.classes_ = members[0][1].classes_
        return blend

    def predict_proba(self, X):
        w = np.asarray(self.weights, dtype=float)
        probs = [m.predict_proba(X) for _, m in self.members_]
        return np.tensordot(w / w.sum(), np.stack(probs), axes=1)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def greedy_weights(oof: dict[str, np.ndarray], y: np.ndarray, score, rounds: int = 25) -> tuple[dict[str, int], float]:
    """Ensemble selection with replacement (Caruana et al. 2004) on out-of-fold scores.

    Returns member -> count (the weights) and the blend's out-of-fold score. Rows without an
    out-of-fold score (the first window of a time split) are left out.
    """
    names = list(oof)
    keep = ~np.any(np.isnan(np.stack([oof[n] for n in names])), axis=0)
    counts = dict.fromkeys(names, 0)
    total = np.zeros(keep.sum())
    best_score = -np.inf
    for r in range(1, rounds + 1):
        trials = {n: score(y[keep], (total + oof[n][keep]) / r) for n in names}
        pick = max(trials, key=trials.get)
        if trials[pick] <= best_score and r > 1:
            break
        best_score = trials[pick]
        counts[pick] += 1
        total += oof[pick][keep]
    return {n: c for n, c in counts.items() if c}, float(best_score)
