"""Cross-validation splits that respect time and entity identity."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, TimeSeriesSplit


def cv_splits(frame: pd.DataFrame, y: np.ndarray, *, folds: int, seed: int, time_column: str | None = None,
              id_column: str | None = None, gap: int = 0) -> tuple[str, list[tuple[np.ndarray, np.ndarray]]]:
    """(scheme name, [(train_idx, valid_idx)]) with positional indices into `frame`.

    With a time column: expanding windows over time-sorted rows, each validation window strictly
    later than its training rows, `gap` rows apart. With repeated ids: stratified group folds.
    Otherwise stratified K-fold.
    """
    if time_column:
        order = np.argsort(pd.to_datetime(frame[time_column]).to_numpy(), kind="stable")
        splits = [(order[tr], order[va]) for tr, va in TimeSeriesSplit(n_splits=folds, gap=gap).split(order)]
        return f"expanding-window time split ({folds} folds, gap {gap} rows)", splits
    if id_column and frame[id_column].duplicated().any():
        cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        return f"stratified group {folds}-fold by {id_column}", list(cv.split(frame, y, groups=frame[id_column]))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return f"stratified {folds}-fold", list(cv.split(frame, y))

