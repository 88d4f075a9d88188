"""Domain-informed imputation: fill a value from similar entities (e.g. median income by ZIP code).

scikit-learn's imputers fill from the whole column; this one falls back through a hierarchy of
groups (ZIP, then region, then everyone), which no well-kept library offers as a transformer.
"""

from __future__ import annotations

import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin


class GroupMedianImputer(TransformerMixin, BaseEstimator):
    """Fill each `column` with the median of its first group (in `by` order) that has one."""

    def __init__(self, rules: dict[str, list[str]] | None = None):
        self.rules = rules

    def fit(self, X: pd.DataFrame, y=None):
        self.medians_ = {}
        for col, groups in (self.rules or {}).items():
            if col not in X.columns:
                continue
            x = pd.to_numeric(X[col], errors="coerce")
            levels = [x.groupby(X[g].astype(str)).median().dropna() for g in groups if g in X.columns]
            self.medians_[col] = (levels, [g for g in groups if g in X.columns], float(x.median()))
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X.copy()
        for col, (levels, groups, overall) in self.medians_.items():
            x = pd.to_numeric(X[col], errors="coerce").astype(float)
            for med, g in zip(levels, groups):
                x = x.fillna(X[g].astype(str).map(med))
            X[col] = x.fillna(overall)
        return X

    def get_feature_names_out(self, input_features=None):
        return input_features
