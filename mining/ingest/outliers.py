"""Robust outlier rules per numeric column: Tukey's IQR fences or the median absolute deviation."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api import types as ptypes


def outlier_mask(s: pd.Series, method: str = "iqr", k: float = 3.0) -> pd.Series:
    """True where a value lies beyond k IQRs outside the quartiles (iqr) or k scaled MADs from the median (mad)."""
    x = pd.to_numeric(s, errors="coerce").astype(float)
    if method == "iqr":
        q1, q3 = x.quantile(0.25), x.quantile(0.75)
        lo, hi = q1 - k * (q3 - q1), q3 + k * (q3 - q1)
    elif method == "mad":
        med = x.median()
        mad = 1.4826 * (x - med).abs().median()  # scaled to the standard deviation under normality
        lo, hi = med - k * mad, med + k * mad
    else:
        raise ValueError(f"ingest.outliers.method={method!r}: expected iqr or mad")
    if not np.isfinite(lo) or hi <= lo:  # constant column: nothing is an outlier
        return pd.Series(False, index=s.index)
    return ((x < lo) | (x > hi)).fillna(False)


def numeric_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if ptypes.is_numeric_dtype(df[c]) and not ptypes.is_bool_dtype(df[c])
            and not c.startswith("_")]
