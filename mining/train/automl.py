"""The "buy" option on the leaderboard: FLAML's AutoML at the same time budget, as a reference.

It is scored on the same validation rows as the candidates (the same folds, or for a time split
the latest fold as a holdout) and on the holdout, and never shipped: it answers "would an
off-the-shelf AutoML have done better than what we built?". FLAML is an optional extra
(`pip install 'mining[automl]'`); without it the row says so.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import PredefinedSplit

NAME = "automl (FLAML, reference)"
ESTIMATORS = ["lgbm", "rf", "extra_tree", "lrl1"]  # FLAML's XGBoost wrapper wants xgboost < 3
FLAML_METRIC = {"roc_auc": "roc_auc", "pr_auc": "ap"}


def flaml_reference(X: pd.DataFrame, y: np.ndarray, splits, X_test: pd.DataFrame | None, y_test: np.ndarray | None,
                    *, budget_s: float, metric: str, seed: int) -> dict:
    """One leaderboard row: FLAML's best cross-validated score on our folds, its holdout scores."""
    try:
        from flaml import AutoML
    except ImportError:
        return {"candidate": NAME, "status": "skipped: flaml not installed (pip install 'mining[automl]')"}
    fold = np.full(len(y), -1)
    for i, (_, va) in enumerate(splits):
        fold[va] = i
    args = dict(task="classification", metric=FLAML_METRIC[metric], time_budget=budget_s, estimator_list=ESTIMATORS,
                seed=seed, verbose=0, n_jobs=1)
    X = _categories(X)
    start = time.monotonic()
    automl = AutoML()
    if (fold >= 0).all() and all(len(set(va)) == len(va) for _, va in splits):  # the folds partition the rows
        automl.fit(X, y, eval_method="cv", split_type=PredefinedSplit(fold), **args)
    else:  # time-ordered folds: the latest one as the validation set (no future rows in training)
        tr, va = splits[-1]
        automl.fit(X.iloc[tr], y[tr], X_val=X.iloc[va], y_val=y[va], eval_method="holdout", **args)
    row = {"candidate": NAME, "status": "reference: not shipped", "cv_mean": 1 - automl.best_loss,
           "fit_s": time.monotonic() - start, "trials": len(automl.config_history),
           "members": f"best: {automl.best_estimator}", "interpretability": "low: AutoML's own choice, not shipped"}
    if X_test is not None and y_test is not None:
        s = automl.predict_proba(_categories(X_test))[:, 1]
        row |= {"holdout_roc_auc": roc_auc_score(y_test, s), "holdout_pr_auc": average_precision_score(y_test, s)}
    return row


def _categories(X: pd.DataFrame) -> pd.DataFrame:
    """Text columns as pandas categoricals (FLAML's learners take those, not `str` columns)."""
    return X.apply(lambda c: c.astype("category") if not pd.api.types.is_numeric_dtype(c) else c)


def with_reference(leaderboard: pd.DataFrame, row: dict) -> pd.DataFrame:
    """The leaderboard with the reference row in its place by CV score (never the chosen one)."""
    return pd.concat([leaderboard, pd.DataFrame([row | {"chosen": False}])], ignore_index=True) \
        .sort_values("cv_mean", ascending=False, na_position="last", ignore_index=True)
