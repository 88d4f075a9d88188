"""Robustness: how the holdout score degrades when the inputs get worse than training saw.

Three perturbations, each at increasing strength: Gaussian noise on every numeric input (a
fraction of its standard deviation), category flips (a share of each categorical's values
replaced by another level drawn from the column's own distribution) and injected missing values
(a share of every input's cells). For each: ROC AUC, its drop from the clean holdout, and the
flip rate (rows whose flagged / not-flagged decision changes).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

KINDS = ("noise", "category_flip", "missing")


def perturb(frame: pd.DataFrame, definitions: dict, kind: str, level: float, rng: np.random.Generator) -> pd.DataFrame:
    """A copy of `frame` with one perturbation of strength `level` applied to the model inputs."""
    out = frame.copy()
    for f in definitions["features"]:
        col = f["name"]
        numeric = f["kind"] == "numeric"
        if kind == "noise" and numeric:
            x = pd.to_numeric(out[col], errors="coerce").astype(float)
            out[col] = x + rng.normal(0.0, level * (x.std() or 0.0), len(x))
        elif kind == "category_flip" and not numeric:
            hit = rng.random(len(out)) < level
            pool = out[col].dropna().to_numpy()
            if hit.any() and len(pool):
                out[col] = out[col].astype(object)
                out.loc[hit, col] = rng.choice(pool, size=int(hit.sum()))
        elif kind == "missing":
            hit = rng.random(len(out)) < level
            if hit.any():
                out[col] = out[col].astype(float if numeric else object)
                out.loc[hit, col] = np.nan if numeric else None
        elif kind not in KINDS:
            raise ValueError(f"perturbation {kind!r}: expected one of {', '.join(KINDS)}")
    return out


def robustness_curves(score: Callable[[pd.DataFrame], np.ndarray], frame: pd.DataFrame, definitions: dict,
                      y: np.ndarray, threshold: float, levels: list[float], seed: int) -> pd.DataFrame:
    """One row per (kind, level): roc_auc, auc_drop, flip_rate, mean |score change|; level 0 is the
    clean holdout."""
    clean = score(frame)
    base = roc_auc_score(y, clean)
    rows = [{"kind": k, "level": 0.0, "roc_auc": base, "auc_drop": 0.0, "flip_rate": 0.0, "mean_abs_change": 0.0}
            for k in KINDS]
    rng = np.random.default_rng(seed)
    for kind in KINDS:
        for level in levels:
            s = score(perturb(frame, definitions, kind, level, rng))
            auc = roc_auc_score(y, s)
            rows.append({"kind": kind, "level": float(level), "roc_auc": auc, "auc_drop": base - auc,
                         "flip_rate": float(((s >= threshold) != (clean >= threshold)).mean()),
                         "mean_abs_change": float(np.abs(s - clean).mean())})
    return pd.DataFrame(rows).sort_values(["kind", "level"]).reset_index(drop=True)


def auc_by_noise(curves: pd.DataFrame) -> dict[str, float]:
    """ROC AUC by Gaussian-noise level, keyed by the level ("0.1": 0.84): metrics/evaluate.json's `robustness`."""
    noise = curves[curves["kind"] == "noise"]
    return {f"{lv:g}": float(a) for lv, a in zip(noise["level"], noise["roc_auc"])}


def drop_at(curves: pd.DataFrame, kind: str, level: float) -> float:
    row = curves[(curves["kind"] == kind) & np.isclose(curves["level"], level)]
    if row.empty:
        raise KeyError(f"robustness has no {kind} at level {level}: add it to params evaluate.robustness.levels")
    return float(row["auc_drop"].iloc[0])


def summary(curves: pd.DataFrame, level: float) -> dict:
    """What the card and the gate read: AUC by noise level, and the AUC drop and decision flip rate
    under Gaussian noise of `level`."""
    at = curves[(curves["kind"] == "noise") & np.isclose(curves["level"], level)]
    return {"auc_by_noise": auc_by_noise(curves), "curves": curves.to_dict("records"), "gate_level": level,
            "noise_drop_at": drop_at(curves, "noise", level), "flip_rate_at": float(at["flip_rate"].iloc[0])}
