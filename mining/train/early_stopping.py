"""Early stopping for gradient-boosted trees inside a scikit-learn pipeline.

A pipeline cannot hand an eval set to its last step, so this wrapper holds out a stratified slice of
whatever it is fitted on, lets the booster stop when that slice stops improving, and (optionally)
refits on everything with the number of rounds found. Trials of the search then cost what the data
need instead of the maximum `n_estimators`.
"""

from __future__ import annotations

import numpy as np
from lightgbm import LGBMClassifier, early_stopping
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import train_test_split
from xgboost import XGBClassifier

from mining.train.deadline import XGBoostStop, lightgbm_stop


class EarlyStopped(ClassifierMixin, BaseEstimator):
    """Fit `estimator` (LightGBM or XGBoost) with early stopping on a held-out slice; LightGBM
    splits the first `n_categorical` columns as categories (their integer codes)."""

    def __init__(self, estimator=None, validation_fraction: float = 0.15, rounds: int = 50,
                 refit: bool = False, random_state: int = 0, n_categorical: int = 0):
        self.estimator = estimator
        self.validation_fraction = validation_fraction
        self.rounds = rounds
        self.refit = refit
        self.random_state = random_state
        self.n_categorical = n_categorical

    def fit(self, X, y, sample_weight=None):
        y = np.asarray(y)
        idx = np.arange(len(y))
        tr, va = train_test_split(idx, test_size=self.validation_fraction, random_state=self.random_state,
                                  stratify=y)
        sw = None if sample_weight is None else np.asarray(sample_weight)
        est = clone(self.estimator)
        Xtr, Xva = _rows(X, tr), _rows(X, va)
        w_tr = None if sw is None else sw[tr]
        cats = {"categorical_feature": list(range(self.n_categorical))} if self.n_categorical else {}
        if isinstance(est, LGBMClassifier):
            est.fit(Xtr, y[tr], sample_weight=w_tr, eval_X=(Xva,), eval_y=(y[va],),
                    callbacks=[early_stopping(self.rounds, verbose=False), lightgbm_stop], **cats)
            best = est.best_iteration_ or est.n_estimators
        elif isinstance(est, XGBClassifier):
            est.set_params(early_stopping_rounds=self.rounds, callbacks=[XGBoostStop()])
            est.fit(Xtr, y[tr], sample_weight=w_tr, eval_set=[(Xva, y[va])], verbose=False)
            # stopped by the deadline before early stopping recorded a best round: every round so far
            best = int(est.best_iteration) + 1 if "best_iteration" in est.get_booster().attributes() \
                else est.get_booster().num_boosted_rounds()
        else:
            raise TypeError(f"EarlyStopped supports LightGBM and XGBoost, not {type(est).__name__}")
        self.best_iteration_ = int(best)
        if self.refit:
            est = clone(self.estimator).set_params(n_estimators=self.best_iteration_)
            est.fit(X, y, sample_weight=sw, **(cats if isinstance(est, LGBMClassifier) else {}))
        self.estimator_ = est
        self.classes_ = est.classes_
        return self

    def predict_proba(self, X):
        return self.estimator_.predict_proba(X)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _rows(X, idx):
    return X.iloc[idx] if hasattr(X, "iloc") else X[idx]


def unwrap(estimator):
    """The fitted booster inside an EarlyStopped (for SHAP and serving settings)."""
    return estimator.estimator_ if isinstance(estimator, EarlyStopped) else estimator
