import numpy as np
import pandas as pd
import pytest

from mining.evaluate.metrics import choose_threshold, holdout_metrics
from mining.train.search import search
from mining.train.validation import cv_splits

DEFS = {"features": [{"name": "x1", "kind": "numeric", "encoding": "none"},
                     {"name": "x2", "kind": "numeric", "encoding": "none"},
                     {"name": "c", "kind": "categorical", "encoding": "onehot"},
                     {"name": "h", "kind": "categorical", "encoding": "target"}],
        "imputation": {}}


def synthetic(n=1200, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n),
                      "c": rng.choice(["a", "b", "c"], n), "h": rng.choice([f"h{i}" for i in range(60)], n),
                      "t": pd.date_range("2024-01-01", periods=n, freq="h")})
    X.loc[rng.random(n) < 0.1, "x2"] = np.nan
    logit = 1.5 * X["x1"] + np.where(X["x2"].fillna(0) > 0.5, 1.5, 0) + (X["c"] == "a") - 2.5
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()
    return X, y


def test_time_aware_folds_never_validate_on_the_past():
    X, y = synthetic()
    X = X.sample(frac=1, random_state=0).reset_index(drop=True)  # rows not in time order
    scheme, splits = cv_splits(X, y, folds=4, seed=0, time_column="t", gap=5)
    assert "expanding-window" in scheme and len(splits) == 4
    for tr, va in splits:
        assert X["t"].iloc[tr].max() < X["t"].iloc[va].min()
        assert len(np.intersect1d(tr, va)) == 0


def test_repeated_ids_never_straddle_folds():
    X, y = synthetic()
    X["id"] = np.arange(len(X)) // 3
    scheme, splits = cv_splits(X, y, folds=3, seed=0, id_column="id")
    assert "group" in scheme
    for tr, va in splits:
        assert not set(X["id"].iloc[tr]) & set(X["id"].iloc[va])


def test_search_ranks_candidates_and_refits_the_best():
    X, y = synthetic()
    _, splits = cv_splits(X, y, folds=3, seed=0)
    params = {"time_budget_s": 60, "primary_metric": "roc_auc", "n_jobs": 1, "class_weight": None,
              "candidates": {"logreg": {"max_iter": 500}, "lightgbm": {"n_estimators": 50},
                             "xgboost": {"n_estimators": 50}}}
    res = search(X[["x1", "x2", "c", "h"]], y, splits, "stratified 3-fold", DEFS, params, seed=0)
    board = res.leaderboard
    assert list(board["candidate"])[0] == res.best_name and board["chosen"].sum() == 1
    assert board["cv_roc_auc_mean"].between(0.7, 1.0).all()
    assert not np.isnan(res.oof).any()
    assert res.model.predict_proba(X.head(2)[["x1", "x2", "c", "h"]]).shape == (2, 2)


def test_budget_stops_the_search_after_the_first_candidate():
    X, y = synthetic(400)
    _, splits = cv_splits(X, y, folds=2, seed=0)
    params = {"time_budget_s": 0, "primary_metric": "roc_auc", "n_jobs": 1, "class_weight": None,
              "candidates": {"logreg": {}, "lightgbm": {"n_estimators": 10}}}
    board = search(X[["x1", "x2", "c", "h"]], y, splits, "s", DEFS, params, seed=0).leaderboard
    assert board.set_index("candidate").loc["lightgbm", "status"].startswith("skipped: time budget")


def test_threshold_meets_the_precision_floor_with_most_recall():
    y = np.array([0, 0, 0, 0, 1, 0, 1, 1, 1, 1])
    s = np.linspace(0, 1, 10)
    t = choose_threshold(y, s, min_precision=0.8)
    assert t["meets_floor"] and t["oof_precision"] >= 0.8
    assert t["threshold"] == pytest.approx(s[4])  # 4 of 5 flagged from here are positive, recall 1.0
    m = holdout_metrics(y, s, t["threshold"])
    assert m["recall"] == 1.0 and m["precision"] == pytest.approx(5 / 6)
    assert not choose_threshold(y, s, min_precision=1.01)["meets_floor"]
