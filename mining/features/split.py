"""Which rows are the holdout: fixed by a column, the latest time window, or a seeded stratified draw."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, train_test_split


def assign_split(df: pd.DataFrame, y: pd.Series | None, *, fraction: float, seed: int,
                 split_column: str | None = None, time_column: str | None = None,
                 id_column: str | None = None) -> pd.Series:
    """'train'/'test' per row. A time column makes the holdout the latest `fraction` of time."""
    if split_column:
        return df[split_column].astype(str)
    if time_column:
        t = pd.to_datetime(df[time_column])
        edge = t.quantile(1 - fraction)
        return pd.Series(np.where(t >= edge, "test", "train"), index=df.index)
    idx = np.arange(len(df))
    if id_column and df[id_column].duplicated().any():
        _, test = next(GroupShuffleSplit(1, test_size=fraction, random_state=seed).split(idx, groups=df[id_column]))
    else:
        _, test = train_test_split(idx, test_size=fraction, random_state=seed,
                                   stratify=y if y is not None else None)
    split = np.full(len(df), "train", dtype=object)
    split[test] = "test"
    return pd.Series(split, index=df.index)
