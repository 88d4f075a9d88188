"""Recency, frequency and monetary features from an event history, as of a cut-off.

Only events strictly before the cut-off are read; anything later is the future the label is
about. Windows are trailing: `n_events_30d` counts events in [cutoff - 30 days, cutoff).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def history_features(events: pd.DataFrame, ids: pd.Series, *, id_col: str, time_col: str,
                     cutoff: pd.Timestamp, windows_days: list[int], amount_col: str | None = None,
                     category_col: str | None = None) -> pd.DataFrame:
    """One row per id in `ids` (same order); ids without history get zero counts and NaN recency."""
    cutoff = pd.Timestamp(cutoff)
    past = events.loc[events[time_col] < cutoff, [c for c in (id_col, time_col, amount_col, category_col) if c]]
    # A fixed row order: float sums depend on it, and a parallel Parquet scan does not fix one
    past = past[past[id_col].isin(ids)].sort_values([c for c in (id_col, time_col, amount_col) if c], kind="stable")
    out = pd.DataFrame(index=pd.Index(ids.astype(str), name=id_col))
    age = (cutoff - past[time_col]).dt.total_seconds() / 86_400
    out["days_since_last_event"] = age.groupby(past[id_col], observed=True).min()
    out["days_since_first_event"] = age.groupby(past[id_col], observed=True).max()
    for w in sorted(windows_days):
        recent = past[age <= w]
        gw = recent.groupby(id_col, observed=True)
        out[f"n_events_{w}d"] = gw.size()
        if amount_col:
            out[f"amount_sum_{w}d"] = gw[amount_col].sum()
            out[f"amount_mean_{w}d"] = gw[amount_col].mean()
    counts = [c for c in out.columns if c.startswith(("n_events_", "amount_sum_"))]
    out[counts] = out[counts].fillna(0.0)
    short, long = min(windows_days), max(windows_days)
    # Activity trend: recent rate relative to the long-run rate (1 = steady, < 1 = fading)
    out["activity_trend"] = (out[f"n_events_{short}d"] / short) / (out[f"n_events_{long}d"] / long).replace(0, np.nan)
    if category_col:
        shares = pd.crosstab(past[id_col], past[category_col], normalize="index")
        shares.columns = [f"share_{c}" for c in shares.columns]
        out = out.join(shares)
    return out.reset_index(drop=True)


def describe(windows_days: list[int], amount_col: str | None, categories: list[str]) -> dict[str, str]:
    """Human definitions of the columns `history_features` makes (for feature_definitions.json)."""
    d = {"days_since_last_event": "days from the last event before the cut-off to the cut-off (recency)",
         "days_since_first_event": "days from the first event in the history to the cut-off"}
    for w in sorted(windows_days):
        d[f"n_events_{w}d"] = f"events in the {w} days before the cut-off (frequency)"
        if amount_col:
            d[f"amount_sum_{w}d"] = f"sum of {amount_col} in the {w} days before the cut-off (monetary)"
            d[f"amount_mean_{w}d"] = f"mean {amount_col} per event in the {w} days before the cut-off"
    short, long = min(windows_days), max(windows_days)
    d["activity_trend"] = f"event rate in the last {short} days over the rate in the last {long} days"
    for c in categories:
        d[f"share_{c}"] = f"share of events of type {c!r} before the cut-off"
    return d


def history_of(events, ids: pd.Series, **kw) -> pd.DataFrame:
    """`history_features` of a pandas event table, or of one held on a cluster (`ClusterEvents`,
    which computes them per partition of ids)."""
    return history_features(events, ids, **kw) if isinstance(events, pd.DataFrame) else events.history(ids, **kw)


def categories_of(events, column: str) -> list[str]:
    if isinstance(events, pd.DataFrame):
        return sorted(events[column].dropna().astype(str).unique())
    return events.categories(column)


def latest_of(events, column: str) -> pd.Timestamp:
    return events[column].max() if isinstance(events, pd.DataFrame) else events.latest(column)
