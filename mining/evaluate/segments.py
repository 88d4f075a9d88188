"""Evaluating segments on held-out rows: separation, stability, composition, what sets them apart."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import silhouette_score

from mining.stats import segment_drift


def holdout_silhouette(model, X: pd.DataFrame, sample: int, seed: int) -> float:
    Z = np.asarray(model[:-1].transform(X), dtype=float)
    labels = model[-1].predict(Z)
    s = np.random.default_rng(seed).choice(len(Z), size=min(sample, len(Z)), replace=False)
    return float(silhouette_score(Z[s], labels[s])) if len(np.unique(labels[s])) > 1 else float("nan")


def share_stability(train_labels: np.ndarray, test_labels: np.ndarray, k: int) -> dict:
    """Segment shares on training vs held-out rows; PSI near 0 means the segments generalise."""
    d = segment_drift(train_labels, test_labels, k)
    return {"psi": d["psi"], "train_shares": d["reference_shares"], "holdout_shares": d["current_shares"]}


def composition(labels: np.ndarray, groups: pd.Series) -> tuple[pd.DataFrame, float]:
    """P(segment | group) per group, and the largest gap between groups for any segment
    (the demographic-parity difference of being placed in that segment)."""
    g = groups.astype(str).where(groups.notna(), "missing")
    table = pd.crosstab(g, labels, normalize="index")
    table.columns = [f"segment_{c}" for c in table.columns]
    gap = float((table.max() - table.min()).max()) if len(table) > 1 else 0.0
    return table.reset_index(names="group"), gap


def separation(frame: pd.DataFrame, labels: np.ndarray, definitions: dict) -> pd.DataFrame:
    """Share of each numeric input's variance explained by the segments (eta squared): what drives them."""
    numeric = [f["name"] for f in definitions["features"] if f["kind"] == "numeric"]
    rows = []
    for col in numeric:
        x = frame[col].astype(float)
        ok = x.notna().to_numpy()
        total = x[ok].var(ddof=0) * ok.sum()
        means = x[ok].groupby(labels[ok]).transform("mean")
        between = ((means - x[ok].mean()) ** 2).sum()
        rows.append({"feature": col, "importance": float(between / total) if total > 0 else 0.0})
    return pd.DataFrame(rows).sort_values("importance", ascending=False).reset_index(drop=True)
