"""CatBoost as a scikit-learn classifier over the pipeline's integer category codes.

CatBoost encodes categories itself (ordered target statistics), which is why it is a candidate; it
wants them as integers or strings, while a scikit-learn pipeline hands it floats. This wrapper
casts the first `n_categorical` columns (where `build_preprocessor(native=True)` puts the codes),
stops on a held-out slice like the other boosters (`EarlyStopped`) and can refit on every row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier, Pool
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split

from mining.train.deadline import CatBoostStop


class CatBoostNative(ClassifierMixin, BaseEstimator):
    """CatBoost with native categorical handling, early stopping and an optional refit."""

    def __init__(self, n_categorical: int = 0, params: dict | None = None, rounds: int = 50,
                 validation_fraction: float = 0.15, refit: bool = False, random_state: int = 0):
        self.n_categorical = n_categorical
        self.params = params
        self.rounds = rounds
        self.validation_fraction = validation_fraction
        self.refit = refit
        self.random_state = random_state

    def _frame(self, X) -> pd.DataFrame:
        frame = pd.DataFrame(np.asarray(X, dtype=float))
        for c in range(self.n_categorical):
            frame[c] = frame[c].astype(np.int64)
        return frame

    def _pool(self, X, y=None, weight=None) -> Pool:
        return Pool(self._frame(X), label=y, weight=weight, cat_features=list(range(self.n_categorical)))

    def _model(self, **extra) -> CatBoostClassifier:
        return CatBoostClassifier(**{"verbose": 0, "allow_writing_files": False, "random_seed": self.random_state,
                                     **(self.params or {}), **extra})

    def fit(self, X, y, sample_weight=None):
        y = np.asarray(y)
        w = None if sample_weight is None else np.asarray(sample_weight)
        tr, va = train_test_split(np.arange(len(y)), test_size=self.validation_fraction,
                                  random_state=self.random_state, stratify=y)
        X = np.asarray(X, dtype=float)
        model = self._model(early_stopping_rounds=self.rounds)
        model.fit(self._pool(X[tr], y[tr], None if w is None else w[tr]), eval_set=self._pool(X[va], y[va]),
                  use_best_model=True, callbacks=[CatBoostStop()])
        self.best_iteration_ = int(model.get_best_iteration() or 0) + 1
        if self.refit:
            model = self._model(iterations=self.best_iteration_)
            model.fit(self._pool(X, y, w))
        self.model_ = model
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(self._pool(X), thread_count=getattr(self, "threads_", -1))

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def shap_values(self, X) -> tuple[np.ndarray, float]:
        """Tree SHAP values (log-odds) of each row and input, and the expected value (CatBoost's own)."""
        out = self.model_.get_feature_importance(self._pool(X), type="ShapValues")
        return out[:, :-1], float(out[0, -1])
