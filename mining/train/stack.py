"""A stacked ensemble: a logistic regression over the members' out-of-fold log-odds.

Beside the greedy blend (a fixed weighted average), a level-2 model learns how much each member
is worth and how to recalibrate them together, as AutoGluon's stackers do. It is fitted on the
out-of-fold scores the search already has, so stacking costs no extra member fits; its own score
is cross-validated on those rows, so the level-2 model never scores the rows it learned from.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

EPS = 1e-6


def log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


def level2(seed: int) -> LogisticRegression:
    return LogisticRegression(C=1.0, max_iter=1000, random_state=seed)


def _level2_inputs(oof: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The members' out-of-fold log-odds side by side, and the rows where every member has one."""
    Z = np.column_stack([log_odds(o) for o in oof.values()])
    return Z, ~np.isnan(Z).any(axis=1)


def stack_score(oof: dict[str, np.ndarray], y: np.ndarray, score, seed: int, folds: int = 5) -> tuple[float, np.ndarray]:
    """Cross-validated score of the level-2 model over the members' out-of-fold scores, and its own
    out-of-fold scores (NaN where a member had none: the first window of a time split)."""
    Z, keep = _level2_inputs(oof)
    out = np.full(len(y), np.nan)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    out[keep] = cross_val_predict(level2(seed), Z[keep], y[keep], cv=cv, method="predict_proba")[:, 1]
    return float(score(y[keep], out[keep])), out


class Stack(ClassifierMixin, BaseEstimator):
    """`members` [(name, pipeline)] under a level-2 logistic regression on their log-odds."""

    def __init__(self, members=None, folds: int = 3, random_state: int = 0):
        self.members = members
        self.folds = folds
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        """Members' out-of-fold scores (`folds` folds) train the level-2 model; then each member
        refits on every row (what `clone(stack).fit` does in a backtest)."""
        y = np.asarray(y)
        kw = {} if sample_weight is None else {"model__sample_weight": sample_weight}
        cv = StratifiedKFold(n_splits=self.folds, shuffle=True, random_state=self.random_state)
        Z = np.column_stack([log_odds(cross_val_predict(clone(m), X, y, cv=cv, method="predict_proba",
                                                        params=kw)[:, 1]) for _, m in self.members])
        self.meta_ = level2(self.random_state).fit(Z, y)
        self.members_ = [(name, clone(m).fit(X, y, **kw)) for name, m in self.members]
        self.classes_ = self.members_[0][1].classes_
        return self

    @classmethod
    def from_fitted(cls, members, oof: dict[str, np.ndarray], y: np.ndarray, seed: int) -> "Stack":
        """A stack of pipelines already fitted on every row, its level-2 model fitted on their
        out-of-fold scores `oof` (rows without one left out)."""
        stack = cls(members=members, random_state=seed)
        Z, keep = _level2_inputs(oof)
        stack.meta_ = level2(seed).fit(Z[keep], y[keep])
        stack.members_ = list(members)
        stack.classes_ = members[0][1].classes_
        return stack

    @property
    def weights(self) -> list[float]:
        """Each member's level-2 coefficient (how much its log-odds count)."""
        return [float(c) for c in self.meta_.coef_[0]]

    def predict_proba(self, X):
        Z = np.column_stack([log_odds(m.predict_proba(X)[:, 1]) for _, m in self.members_])
        return self.meta_.predict_proba(Z)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
