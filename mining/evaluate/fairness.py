"""Fairness at the operating threshold: group rates with bootstrap intervals, disparity ratios
against a reference group (the four-fifths rule), intersections of two sensitive features.

Group rates come from fairlearn's MetricFrame, their intervals from row resamples of the whole
holdout as MetricFrame's own bootstrap draws them, counted with numpy (`rate_intervals`:
MetricFrame rebuilds its frames on every draw, 4.7 s per 100 draws of 375 rows); the differences a
charter gates (demographic parity, equalized odds, as fairlearn defines them) are computed over the
groups large enough to judge, with intervals from the same row resampling as every other figure of
the stage (`mining.stats.bootstrap_ci`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, count, false_negative_rate, false_positive_rate, selection_rate

from mining.fairness_gates import FOUR_FIFTHS
from mining.stats import bootstrap_ci

RATES = {"selection_rate": selection_rate, "false_positive_rate": false_positive_rate,
         "false_negative_rate": false_negative_rate}


def _groups(frame: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """One label per row: the group (or, for several features, 'a=x & b=y'); missing is a group."""
    parts = [frame[c].astype("string").fillna("missing") for c in cols]
    if len(cols) == 1:
        return parts[0].to_numpy(dtype=object)
    return pd.concat([c + "" for c in parts], axis=1).apply(
        lambda r: " & ".join(f"{c}={v}" for c, v in zip(cols, r)), axis=1).to_numpy(dtype=object)


def group_table(y: np.ndarray, pred: np.ndarray, groups: np.ndarray, *, n_boot: int, seed: int,
                min_group_size: int, min_group_positives: int = 0) -> pd.DataFrame:
    """Per group: count, positives, each rate with its 95 % interval, and the selection-rate ratio to
    the reference group (the largest), judged against the four-fifths rule when the group is large
    enough (`min_group_size` rows and `min_group_positives` positives: a false-negative rate needs them)."""
    y, pred = np.asarray(y), np.asarray(pred)
    mf = MetricFrame(metrics={"count": count, **RATES}, y_true=y, y_pred=pred, sensitive_features=groups)
    t = mf.by_group.reset_index()
    t = t.rename(columns={t.columns[0]: "group"})
    t["count"] = t["count"].astype(int)
    t["positives"] = pd.Series(y).groupby(groups).sum().reindex(t["group"]).to_numpy().astype(int)
    codes = pd.Index(t["group"]).get_indexer(groups)
    for name, (lo, hi) in rate_intervals(y, pred, codes, len(t), n_boot=n_boot, seed=seed).items():
        t[f"{name}_ci"] = [[float(a), float(b)] for a, b in zip(lo, hi)]
    ref = t.loc[t["count"].idxmax()]
    t["reference"] = t["group"] == ref["group"]
    rr = ref["selection_rate"]
    t["selection_ratio"] = t["selection_rate"] / rr if rr > 0 else np.nan
    t["judged"] = (t["count"] >= min_group_size) & (t["positives"] >= min_group_positives)
    t["four_fifths_ok"] = t["selection_ratio"].between(*FOUR_FIFTHS) | ~t["judged"]
    return t


def group_rates(y: np.ndarray, pred: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Selection, false-positive and false-negative rate of each group code (rows of the result). As
    fairlearn defines them, a group with no negatives has a false-positive rate of 0 (no positives:
    false-negative rate 0); a group with no rows has none (NaN)."""
    def per_group(weights: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=weights, minlength=n_groups)

    def rate(hits: np.ndarray, of: np.ndarray) -> np.ndarray:
        return np.divide(hits, of, out=np.where(rows > 0, 0.0, np.nan), where=of > 0)
    y, pred = y.astype(float), pred.astype(float)
    rows, negatives, positives = per_group(np.ones_like(y)), per_group(1 - y), per_group(y)
    missed = positives - per_group(pred * y)
    return np.stack([rate(per_group(pred), rows), rate(per_group(pred * (1 - y)), negatives), rate(missed, positives)])


def rate_intervals(y: np.ndarray, pred: np.ndarray, codes: np.ndarray, n_groups: int, *, n_boot: int, seed: int,
                   level: float = 0.95) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{rate: (low, high) per group}: percentile intervals over `n_boot` row resamples of the whole
    holdout (a group's size varies between draws, as in fairlearn's MetricFrame bootstrap); draws
    where a group has no rows to measure a rate on are left out of that group's interval."""
    rng = np.random.default_rng(seed)
    draws = np.stack([group_rates(y[idx], pred[idx], codes[idx], n_groups)
                      for idx in (rng.integers(0, len(y), len(y)) for _ in range(n_boot))])
    tail = (1 - level) / 2 * 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a group with no draw to measure: NaN, said in the table
        lo, hi = np.nanpercentile(draws, [tail, 100 - tail], axis=0)
    return {name: (lo[i], hi[i]) for i, name in enumerate(RATES)}


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """The group table for a reviewer: each rate with its interval in one cell, "0.138 (0.090-0.186)"."""
    out = table.drop(columns=[f"{r}_ci" for r in RATES])
    for r in RATES:
        out[r] = [f"{v:.3f} ({lo:.3f}-{hi:.3f})" for v, (lo, hi) in zip(table[r], table[f"{r}_ci"])]
    return out[["group", "count", "positives", *RATES, "selection_ratio", "reference", "judged", "four_fifths_ok"]]


def _spread(hits: np.ndarray, codes: np.ndarray) -> float:
    """max - min over groups of the mean of `hits` (groups with no rows left out)."""
    n = np.bincount(codes)
    rate = np.bincount(codes, weights=hits)[n > 0] / n[n > 0]
    return float(rate.max() - rate.min())


def parity_difference(y: np.ndarray, pred: np.ndarray, codes: np.ndarray) -> float:
    """Demographic-parity difference on integer group codes (fairlearn's figure, fast enough to bootstrap)."""
    return _spread(pred.astype(float), codes)


def odds_difference(y: np.ndarray, pred: np.ndarray, codes: np.ndarray) -> float:
    """Equalized-odds difference: the larger of the TPR and FPR spreads (as fairlearn computes it)."""
    pos, neg = y == 1, y == 0
    return max(_spread(pred[pos].astype(float), codes[pos]), _spread(pred[neg].astype(float), codes[neg]))


def summary(y: np.ndarray, pred: np.ndarray, groups: np.ndarray, table: pd.DataFrame, *, n_boot: int, seed: int) -> dict:
    """The feature's headline figures over the groups large enough to judge (a group of nine with
    no positives has no true-positive rate, and would otherwise decide the difference): parity and
    equalized-odds differences with intervals, and the four-fifths verdict (min and max selection
    ratio). Fewer than two such groups: the differences are not computed (NaN)."""
    judged = table[table["judged"]]
    keep = np.isin(groups, judged["group"].to_numpy())
    y, pred, codes = np.asarray(y)[keep], np.asarray(pred)[keep], pd.factorize(np.asarray(groups)[keep])[0]
    ratios = judged["selection_ratio"].dropna()
    enough = len(judged) >= 2
    nan2 = [float("nan"), float("nan")]
    return {
        "groups_judged": judged["group"].tolist(),
        "demographic_parity_difference": parity_difference(y, pred, codes) if enough else float("nan"),
        "demographic_parity_difference_ci": bootstrap_ci(parity_difference, y, pred, codes, n_boot=n_boot, seed=seed, strata=codes)
        if enough else nan2,
        "equalized_odds_difference": odds_difference(y, pred, codes) if enough else float("nan"),
        "equalized_odds_difference_ci": bootstrap_ci(odds_difference, y, pred, codes, n_boot=n_boot, seed=seed, strata=codes)
        if enough else nan2,
        "reference_group": str(table.loc[table["reference"], "group"].iloc[0]),
        "four_fifths": {"min": float(ratios.min()) if len(ratios) else float("nan"),
                        "max": float(ratios.max()) if len(ratios) else float("nan"),
                        "passed": bool(judged["four_fifths_ok"].all()), "groups_judged": int(len(judged))},
    }


def fairness_report(y: np.ndarray, pred: np.ndarray, frame: pd.DataFrame, sensitive: list[str], *,
                    n_boot: int = 200, seed: int = 0, min_group_size: int = 100,
                    min_group_positives: int = 0) -> tuple[dict, dict]:
    """({name: table}, {name: summary}) for every sensitive feature in `frame` and, when two or more
    are present, the intersection of the first two ("a x b")."""
    present = [c for c in sensitive if c in frame.columns]
    sets = [[c] for c in present] + ([present[:2]] if len(present) >= 2 else [])
    tables, summaries = {}, {}
    for cols in sets:
        name = " x ".join(cols)
        g = _groups(frame, cols)
        tables[name] = group_table(y, pred, g, n_boot=n_boot, seed=seed, min_group_size=min_group_size,
                                   min_group_positives=min_group_positives)
        summaries[name] = summary(y, pred, g, tables[name], n_boot=n_boot, seed=seed)
    return tables, summaries
