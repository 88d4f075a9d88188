"""A per-column profile of a validated table: what a reviewer checks before trusting the data."""

from __future__ import annotations

import pandas as pd
from pandas.api import types as ptypes

from mining.ingest.outliers import outlier_mask


def profile(df: pd.DataFrame, method: str = "iqr", k: float = 3.0) -> pd.DataFrame:
    """Type, missing share, distinct count, range and outlier count (robust rule) per column."""
    rows = []
    for col in df.columns:
        s = df[col]
        row = {"column": col, "dtype": str(s.dtype), "missing_share": float(s.isna().mean()),
               "n_unique": int(s.nunique(dropna=True))}
        if ptypes.is_numeric_dtype(s) and not ptypes.is_bool_dtype(s):
            x = s.dropna().astype(float)
            row.update(min=float(x.min()) if len(x) else None, median=float(x.median()) if len(x) else None,
                       max=float(x.max()) if len(x) else None, outliers=int(outlier_mask(s, method, k).sum()))
        elif ptypes.is_datetime64_any_dtype(s):
            row.update(min=str(s.min()), max=str(s.max()))
        rows.append(row)
    return pd.DataFrame(rows)
