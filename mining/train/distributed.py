"""The chosen booster's final fit on a Dask cluster (`compute.backend: dask`): `xgboost.dask` or
`lightgbm.dask` grow the trees over row partitions held by the workers.

The search stays in the stage's process (on at most `compute.search_rows` training rows), and so
do the preprocessing's fit and the number of rounds, found by early stopping on the search's rows
as the local refit finds them. The workers then transform their partitions and grow that many
rounds on every training row. The result is the same pipeline as a local fit, with a plain
(local) booster inside, so that serving, the compiled scorer and SHAP see nothing new.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.base import clone
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

from mining.train.early_stopping import EarlyStopped

ON_CLUSTER = (XGBClassifier, LGBMClassifier)


def search_rows(X: pd.DataFrame, y: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """Indices of the rows the search runs on: all of them, or a stratified sample of `limit`."""
    if limit is None or len(y) <= limit:
        return np.arange(len(y))
    rows, _ = train_test_split(np.arange(len(y)), train_size=limit, stratify=y, random_state=seed)
    return np.sort(rows)


def grows_on_cluster(model) -> bool:
    """A fitted pipeline whose last step is an early-stopped XGBoost or LightGBM."""
    est = model.steps[-1][1] if isinstance(model, Pipeline) else None
    return isinstance(est, EarlyStopped) and isinstance(est.estimator_, ON_CLUSTER)


def fit_on_cluster(client, model: Pipeline, X: pd.DataFrame, y: np.ndarray) -> Pipeline:
    """`model` (fitted here on the search's rows) refitted on all of `X`, `y`: the preprocessing as
    fitted, the booster's settings and rounds as found, the trees grown by the workers."""
    import dask.array as da
    import dask.dataframe as dd

    prep, est = model[:-1], model.steps[-1][1]
    booster = est.estimator_
    workers = max(len(client.scheduler_info(n_workers=-1)["workers"]), 1)
    parts = dd.from_pandas(X.reset_index(drop=True), npartitions=max(2 * workers, 1))
    names = list(prep.get_feature_names_out())
    encoded = parts.map_partitions(lambda d: pd.DataFrame(np.asarray(prep.transform(d), dtype="float32"),
                                                          columns=names, index=d.index),
                                   meta=pd.DataFrame({n: np.float32() for n in names}, index=pd.RangeIndex(0)))
    Z = encoded.to_dask_array(lengths=True)
    labels = da.from_array(np.asarray(y), chunks=(Z.chunks[0],))
    settings = {**booster.get_params(), "n_estimators": int(est.best_iteration_)}
    if isinstance(booster, XGBClassifier):
        local = _xgboost(client, settings, Z, labels)
    else:
        local = _lightgbm(client, settings, Z, labels, est.n_categorical)
    refit = copy.copy(est)
    refit.estimator_, refit.classes_ = local, local.classes_
    return Pipeline([*model.steps[:-1], (model.steps[-1][0], refit)])


def _xgboost(client, settings: dict, Z, labels) -> XGBClassifier:
    from xgboost import dask as dxgb

    settings = {k: v for k, v in settings.items() if k not in ("callbacks", "early_stopping_rounds")}
    model = dxgb.DaskXGBClassifier(**{k: v for k, v in settings.items() if k != "n_jobs"})  # a thread per worker
    model.client = client
    model.fit(Z, labels)
    with tempfile.TemporaryDirectory() as tmp:  # the trees and their settings, as a plain classifier
        path = Path(tmp) / "model.json"
        model.save_model(path)
        local = XGBClassifier(**settings)
        local.load_model(path)
    return local


def _lightgbm(client, settings: dict, Z, labels, n_categorical: int) -> LGBMClassifier:
    from lightgbm import dask as dlgb

    settings = {k: v for k, v in settings.items() if k not in ("n_jobs",)}
    model = dlgb.DaskLGBMClassifier(client=client, **settings)
    cats = {"categorical_feature": list(range(n_categorical))} if n_categorical else {}
    model.fit(Z, labels, **cats)
    return model.to_local()


def final_fit(client, result, X: pd.DataFrame, y: np.ndarray, X_test: pd.DataFrame, y_test: np.ndarray,
              searched_rows: int) -> str:
    """The chosen model refitted on every training row: a booster on the cluster, any other model
    (logistic regression, a blend, a stack, CatBoost) here when the search saw only a sample. The
    chosen leaderboard row's holdout scores become the final model's. Returns what was done."""
    if grows_on_cluster(result.model):
        result.model = fit_on_cluster(client, result.model, X, y)
        done = (f"{result.best_name} refitted on all {len(y):,} training rows on the Dask cluster "
                f"({type(result.model.steps[-1][1].estimator_).__name__} over row partitions)")
    elif searched_rows < len(y):
        result.model = clone(result.model).fit(X, y)
        done = (f"{result.best_name} refitted on all {len(y):,} training rows in the stage's process "
                "(only XGBoost and LightGBM grow on the cluster)")
    else:
        return f"{result.best_name} fitted on all {len(y):,} training rows in the stage's process (no booster to grow)"
    board, p = result.leaderboard, result.model.predict_proba(X_test)[:, 1]
    if len(np.unique(y_test)) == 2:
        chosen = board["chosen"].astype(bool)
        board.loc[chosen, "holdout_roc_auc"] = roc_auc_score(y_test, p)
        board.loc[chosen, "holdout_pr_auc"] = average_precision_score(y_test, p)
    return done + (f"; the search ran on a stratified sample of {searched_rows:,} of them (compute.search_rows)"
                   if searched_rows < len(y) else "")
