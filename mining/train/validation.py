"""Validation splits that respect time and entity identity, and scale with the data.

Five folds on a few thousand rows spend a budget well; on tens of thousands they buy a handful of
trials. `plan` picks the folds from the number of training rows (params `train.validation`):
fewer folds as the rows grow, one holdout slice above the largest limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, TimeSeriesSplit, train_test_split


@dataclass(frozen=True)
class Plan:
    """How the search validates: `folds` folds, or one holdout slice of `holdout_fraction` (folds None)."""
    folds: int | None
    holdout_fraction: float
    why: str


def plan(n_rows: int, folds_below_rows: dict[int, int], holdout_fraction: float) -> Plan:
    """The first limit (smallest first) the training rows are under gives the folds; at or above the
    largest, a single stratified holdout slice."""
    for limit, folds in sorted(folds_below_rows.items()):
        if n_rows < limit:
            return Plan(folds, holdout_fraction, f"{n_rows:,} training rows < {limit:,}: {folds} folds")
    top = max(folds_below_rows)
    return Plan(None, holdout_fraction, f"{n_rows:,} training rows >= {top:,}: one holdout slice of "
                                        f"{holdout_fraction:.0%} (train.validation)")


def cv_splits(frame: pd.DataFrame, y: np.ndarray, *, folds: int | None, seed: int, time_column: str | None = None,
              id_column: str | None = None, gap: int = 0,
              holdout_fraction: float = 0.2) -> tuple[str, list[tuple[np.ndarray, np.ndarray]]]:
    """(scheme name, [(train_idx, valid_idx)]) with positional indices into `frame`.

    With a time column: expanding windows over time-sorted rows, each validation window strictly
    later than its training rows, `gap` rows apart. With repeated ids: stratified group folds.
    Otherwise stratified K-fold. `folds=None`: one split of the same kind, `holdout_fraction` of the
    rows validating (the latest rows for a time split).
    """
    grouped = bool(id_column) and frame[id_column].duplicated().any()
    if folds is None:
        return _holdout(frame, y, seed, time_column, id_column if grouped else None, gap, holdout_fraction)
    if time_column:
        order = np.argsort(pd.to_datetime(frame[time_column]).to_numpy(), kind="stable")
        splits = [(order[tr], order[va]) for tr, va in TimeSeriesSplit(n_splits=folds, gap=gap).split(order)]
        return f"expanding-window time split ({folds} folds, gap {gap} rows)", splits
    if grouped:
        cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        return f"stratified group {folds}-fold by {id_column}", list(cv.split(frame, y, groups=frame[id_column]))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return f"stratified {folds}-fold", list(cv.split(frame, y))


def _holdout(frame, y, seed, time_column, id_column, gap, fraction) -> tuple[str, list]:
    n = len(frame)
    if time_column:
        order = np.argsort(pd.to_datetime(frame[time_column]).to_numpy(), kind="stable")
        cut = int(round(n * (1 - fraction)))
        return (f"time holdout (latest {fraction:.0%} of rows, gap {gap} rows)",
                [(order[: max(cut - gap, 1)], order[cut:])])
    if id_column:
        cv = StratifiedGroupKFold(n_splits=max(2, int(round(1 / fraction))), shuffle=True, random_state=seed)
        tr, va = next(cv.split(frame, y, groups=frame[id_column]))
        return f"stratified group holdout by {id_column} ({len(va) / n:.0%} of rows)", [(tr, va)]
    tr, va = train_test_split(np.arange(n), test_size=fraction, random_state=seed, stratify=y)
    return f"stratified holdout ({fraction:.0%} of rows)", [(np.sort(tr), np.sort(va))]
