"""Statistics that more than one stage uses: distribution baselines, PSI and KS drift, segment
shares, and metrics by group.

Evaluate and monitor put bootstrap intervals on their figures (`bootstrap_ci`).
Features write the drift baseline, evaluate and monitor compare distributions, evaluate and
govern compute group metrics: the formulas live here, below every stage, so no stage imports a
later one for them. PSI is a ten-line formula; the libraries that ship it (evidently, nannyml)
bring large dependency trees for it, so it is written here. KS tests come from scipy, group
metrics from fairlearn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from fairlearn.metrics import (MetricFrame, count, demographic_parity_difference, equalized_odds_difference,
                               false_negative_rate, false_positive_rate, selection_rate)
from scipy import stats

from mining.charter import SEGMENTATION

EPS = 1e-4


def baseline(df: pd.DataFrame, definitions: dict, bins: int = 10, top: int = 20) -> dict:
    """Per feature: quantile bin edges and shares (numeric) or level shares (categorical)."""
    out = {}
    for f in definitions["features"]:
        s = df[f["name"]]
        if f["kind"] == "numeric":
            x = s.dropna().astype(float)
            edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1))) if len(x) else np.array([0.0])
            out[f["name"]] = {"kind": "numeric", "edges": edges.tolist(),
                              "shares": _numeric_shares(s, edges).tolist(),
                              "missing_share": float(s.isna().mean()), "mean": float(x.mean()) if len(x) else None,
                              "sample": x.sample(min(len(x), 2000), random_state=0).round(6).tolist()}
        else:
            shares = s.astype(str).where(s.notna(), "missing").value_counts(normalize=True)
            levels = shares.index[:top].tolist()
            out[f["name"]] = {"kind": "categorical", "levels": levels,
                              "shares": _cat_shares(s, levels).tolist(),
                              "missing_share": float(s.isna().mean())}
    return out


def _numeric_shares(s: pd.Series, edges) -> np.ndarray:
    """Shares in the bins (-inf, e1], (e1, e2], ..., (e_k-1, inf) plus a last bin for missing."""
    x = s.astype(float).to_numpy()
    inner = np.asarray(edges)[1:-1]
    idx = np.where(np.isnan(x), len(inner) + 1, np.searchsorted(inner, x, side="right"))
    return np.bincount(idx, minlength=len(inner) + 2) / max(len(x), 1)


def _cat_shares(s: pd.Series, levels: list[str]) -> np.ndarray:
    """Shares of the baseline's levels, then one 'other' bin (new or rare levels)."""
    t = s.astype(str).where(s.notna(), "missing")
    counts = t.value_counts()
    known = np.array([counts.get(lv, 0) for lv in levels], dtype=float)
    return np.append(known, len(t) - known.sum()) / max(len(t), 1)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index: sum((a - e) * ln(a / e)); < 0.1 stable, > 0.2 shifted."""
    e = np.clip(np.asarray(expected, float), EPS, None)
    a = np.clip(np.asarray(actual, float), EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def feature_drift(base: dict, df: pd.DataFrame, psi_threshold: float) -> pd.DataFrame:
    """One row per feature: PSI, KS statistic and p-value (numeric), mean shift, drifted flag."""
    rows = []
    for name, b in base.items():
        s = df[name]
        if b["kind"] == "numeric":
            value = psi(b["shares"], _numeric_shares(s, b["edges"]))
            x = s.dropna().astype(float)
            ks = stats.ks_2samp(b["sample"], x) if len(x) and b["sample"] else None
            rows.append({"feature": name, "kind": "numeric", "psi": value,
                         "ks_stat": ks.statistic if ks else np.nan, "ks_pvalue": ks.pvalue if ks else np.nan,
                         "baseline_mean": b["mean"], "current_mean": float(x.mean()) if len(x) else np.nan})
        else:
            value = psi(b["shares"], _cat_shares(s, b["levels"]))
            rows.append({"feature": name, "kind": "categorical", "psi": value})
        rows[-1]["missing_share_change"] = float(s.isna().mean() - b["missing_share"])
    out = pd.DataFrame(rows)
    out["drifted"] = out["psi"] > psi_threshold
    return out.sort_values("psi", ascending=False).reset_index(drop=True)


def score_drift(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> dict:
    """Prediction drift: PSI of the score distribution (reference deciles) and the mean shift."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    ref = _numeric_shares(pd.Series(reference), edges)
    cur = _numeric_shares(pd.Series(current), edges)
    return {"psi": psi(ref, cur), "reference_mean": float(np.mean(reference)),
            "current_mean": float(np.mean(current)),
            "mean_shift": float(np.mean(current) - np.mean(reference)),
            "ks_pvalue": float(stats.ks_2samp(reference, current).pvalue)}


def segment_shares(labels: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(np.asarray(labels, dtype=int), minlength=k) / max(len(labels), 1)


def segment_drift(reference: np.ndarray, current: np.ndarray, k: int | None = None) -> dict:
    """Prediction drift of a segmenter: PSI of the segment shares and the largest share change."""
    k = k or int(max(np.max(reference), np.max(current))) + 1
    ref, cur = segment_shares(reference, k), segment_shares(current, k)
    return {"psi": psi(ref, cur), "reference_shares": ref.tolist(), "current_shares": cur.tolist(),
            "mean_shift": float(np.max(np.abs(cur - ref)))}


def prediction_drift(task: str, reference: np.ndarray, current: np.ndarray) -> dict:
    """Drift of what the model outputs: segment shares for a segmenter, the score distribution otherwise."""
    return segment_drift(reference, current) if task == SEGMENTATION else score_drift(reference, current)


def group_labels(values: pd.Series) -> pd.Series:
    """A sensitive feature's values as group labels: text, a missing value its own group ("missing")."""
    return values.astype(str).where(values.notna(), "missing")


def group_metrics(y: np.ndarray, pred: np.ndarray, groups: pd.Series) -> tuple[pd.DataFrame, dict]:
    """(per-group table, summary) for one sensitive feature; missing group values form their own group."""
    g = group_labels(groups).to_numpy()
    mf = MetricFrame(metrics={"count": count, "selection_rate": selection_rate,
                              "false_positive_rate": false_positive_rate,
                              "false_negative_rate": false_negative_rate},
                     y_true=y, y_pred=pred, sensitive_features=g)
    table = mf.by_group.reset_index().rename(columns={"sensitive_feature_0": "group"})
    table["count"] = table["count"].astype(int)
    table["positives"] = pd.Series(y).groupby(g).sum().reindex(table["group"]).to_numpy()
    summary = {
        "demographic_parity_difference": float(demographic_parity_difference(y, pred, sensitive_features=g)),
        "equalized_odds_difference": float(equalized_odds_difference(y, pred, sensitive_features=g)),
    }
    return table, summary


def bootstrap_ci(metric, *arrays: np.ndarray, n_boot: int = 1000, level: float = 0.95, seed: int = 0,
                 strata: np.ndarray | None = None) -> list[float]:
    """Percentile interval [low, high] of `metric(*arrays)` over row resamples.

    Resampling within `strata` (the labels, say) keeps each draw's class balance, so a rank
    metric stays defined on a small or rare-positive holdout; draws where the metric fails
    (a group with no positives) are left out rather than counted as zero.
    """
    arrays = tuple(np.asarray(a) for a in arrays)
    rng = np.random.default_rng(seed)
    pools = [np.arange(len(arrays[0]))] if strata is None else \
        [np.flatnonzero(np.asarray(strata) == v) for v in np.unique(strata)]
    values = []
    for _ in range(n_boot):
        idx = np.concatenate([rng.choice(p, size=len(p), replace=True) for p in pools])
        try:
            v = float(metric(*(a[idx] for a in arrays)))
        except ValueError:
            continue
        if np.isfinite(v):
            values.append(v)
    if not values:
        return [float("nan"), float("nan")]
    tail = (1 - level) / 2 * 100
    return [float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))]
