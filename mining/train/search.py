"""Compare candidates by cross-validation within a wall-clock budget, then refit the best."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import Pipeline

from mining.train.candidates import INTERPRETABILITY, build_candidate

METRICS = {"roc_auc": roc_auc_score, "pr_auc": average_precision_score}


@dataclass
class SearchResult:
    leaderboard: pd.DataFrame
    best_name: str
    model: Pipeline  # refit on all training rows
    oof: np.ndarray  # out-of-fold scores of the best candidate (for the operating threshold)
    scheme: str


def evaluate_candidate(model: Pipeline, X: pd.DataFrame, y: np.ndarray, splits) -> dict:
    """Per-fold ROC AUC / PR AUC, out-of-fold scores and mean fit time."""
    oof = np.full(len(y), np.nan)
    scores = {m: [] for m in METRICS}
    fit_s = []
    for tr, va in splits:
        m = clone(model)
        t0 = time.perf_counter()
        m.fit(X.iloc[tr], y[tr])
        fit_s.append(time.perf_counter() - t0)
        p = m.predict_proba(X.iloc[va])[:, 1]
        oof[va] = p
        for name, fn in METRICS.items():
            scores[name].append(fn(y[va], p))
    return {"scores": scores, "oof": oof, "fit_s": float(np.mean(fit_s))}


def single_row_latency_ms(model: Pipeline, X: pd.DataFrame, n: int = 50) -> float:
    """Median wall time of predict_proba on one row (what an API call pays for the model)."""
    rows = [X.iloc[[i % len(X)]] for i in range(n)]
    model.predict_proba(rows[0])
    times = []
    for r in rows:
        t0 = time.perf_counter()
        model.predict_proba(r)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000)


def model_size_kb(model: Pipeline) -> float:
    buf = io.BytesIO()
    joblib.dump(model, buf)
    return buf.tell() / 1024


def search(X: pd.DataFrame, y: np.ndarray, splits, scheme: str, definitions: dict, train_params: dict,
           seed: int) -> SearchResult:
    """Evaluate each candidate in params order until the time budget is spent (at least one)."""
    budget = float(train_params["time_budget_s"])
    primary = train_params["primary_metric"]
    start = time.perf_counter()
    rows, oofs, models = [], {}, {}
    for name, settings in train_params["candidates"].items():
        if rows and time.perf_counter() - start > budget:
            rows.append({"candidate": name, "status": f"skipped: time budget {budget:.0f}s spent"})
            continue
        model = build_candidate(name, settings, definitions, seed=seed, n_jobs=int(train_params["n_jobs"]),
                                class_weight=train_params.get("class_weight"))
        res = evaluate_candidate(model, X, y, splits)
        oofs[name], models[name] = res["oof"], model
        row = {"candidate": name, "status": "evaluated"}
        for m, vals in res["scores"].items():
            row[f"cv_{m}_mean"], row[f"cv_{m}_std"] = float(np.mean(vals)), float(np.std(vals))
        row.update(fit_s=res["fit_s"], interpretability=INTERPRETABILITY[name])
        rows.append(row)
    board = pd.DataFrame(rows)
    done = board[board["status"] == "evaluated"].sort_values(f"cv_{primary}_mean", ascending=False)
    best = done["candidate"].iloc[0]
    final = clone(models[best]).fit(X, y)
    board.loc[board["candidate"] == best, "single_row_ms"] = single_row_latency_ms(final, X)
    board.loc[board["candidate"] == best, "size_kb"] = model_size_kb(final)
    board["chosen"] = board["candidate"] == best
    board = board.sort_values(f"cv_{primary}_mean", ascending=False, na_position="last").reset_index(drop=True)
    return SearchResult(board, best, final, oofs[best], scheme)
