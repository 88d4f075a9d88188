"""Domain interaction features (a ratio, product or difference of two numeric inputs), declared in
params/features.yaml and computed inside the model pipeline.

Inside the pipeline rather than in the feature table, so that the API's callers send the inputs
they always sent and the served model derives the rest, exactly as training did (the compiled
scorer applies `combine`, the same arithmetic, to a single record).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

KINDS = ("ratio", "product", "difference")


def combine(kind: str, a: float | None, b: float | None) -> float:
    """One record's interaction; missing inputs, and a ratio over zero, give NaN (imputed later)."""
    if a is None or b is None or math.isnan(a) or math.isnan(b) or (kind == "ratio" and b == 0):
        return math.nan
    return a / b if kind == "ratio" else a * b if kind == "product" else a - b


def resolve(declared: dict[str, dict], numeric: set[str], taken: set[str]) -> tuple[dict[str, dict], dict[str, str]]:
    """(the interactions this source can build, {name: why not} for the others). A name that is
    already a column is an error: the interaction would silently shadow it."""
    usable, skipped = {}, {}
    for name, spec in declared.items():
        if name in taken:
            raise ValueError(f"params/features.yaml interactions.{name}: {name!r} is already a column of the source; "
                             "give the interaction another name")
        missing = [spec[k] for k in ("a", "b") if spec[k] not in numeric]
        if missing:
            skipped[name] = f"interaction not built: {', '.join(missing)} not a numeric input of this source"
        else:
            usable[name] = {"kind": spec["kind"], "a": spec["a"], "b": spec["b"]}
    return usable, skipped


class Interactions(TransformerMixin, BaseEstimator):
    """Adds one column per declared interaction (stateless: nothing is learnt in `fit`)."""

    def __init__(self, specs: dict[str, dict] | None = None):
        self.specs = specs

    def fit(self, X: pd.DataFrame, y=None):
        self.names_ = list(self.specs or {})
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X.copy()
        for name, s in (self.specs or {}).items():
            a = pd.to_numeric(X[s["a"]], errors="coerce").astype(float).to_numpy()
            b = pd.to_numeric(X[s["b"]], errors="coerce").astype(float).to_numpy()
            if s["kind"] == "ratio":
                with np.errstate(divide="ignore", invalid="ignore"):
                    v = np.where(b == 0, np.nan, a / np.where(b == 0, 1.0, b))
            else:
                v = a * b if s["kind"] == "product" else a - b
            X[name] = v
        return X

    def get_feature_names_out(self, input_features=None):
        given = self.feature_names_in_ if input_features is None else input_features
        return np.asarray([*given, *self.names_], dtype=object)
