"""Robust outlier rules per numeric column: Tukey's IQR fences or the median absolute deviation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
from pandas.api import types as ptypes

MAD_SCALE = 1.4826  # the MAD scaled to the standard deviation under normality


def fences(method: str, k: float, centre: float, lower: float, upper: float) -> tuple[float, float] | None:
    """(lo, hi) from the quartiles (iqr: lower=q1, upper=q3) or the median and MAD (mad: lower=upper=MAD);
    None for a constant column, where nothing is an outlier."""
    if method == "iqr":
        lo, hi = lower - k * (upper - lower), upper + k * (upper - lower)
    elif method == "mad":
        lo, hi = centre - k * MAD_SCALE * lower, centre + k * MAD_SCALE * upper
    else:
        raise ValueError(f"ingest.outliers.method={method!r}: expected iqr or mad")
    return (lo, hi) if np.isfinite(lo) and hi > lo else None


def outlier_mask(s: pd.Series, method: str = "iqr", k: float = 3.0) -> pd.Series:
    """True where a value lies beyond k IQRs outside the quartiles (iqr) or k scaled MADs from the median (mad)."""
    x = pd.to_numeric(s, errors="coerce").astype(float)
    if method == "mad":
        med = x.median()
        mad = (x - med).abs().median()
        limits = fences(method, k, med, mad, mad)
    else:
        limits = fences(method, k, x.median(), x.quantile(0.25), x.quantile(0.75))
    if limits is None:
        return pd.Series(False, index=s.index)
    return ((x < limits[0]) | (x > limits[1])).fillna(False)


def fences_of(values: pa.ChunkedArray | pl.Series, method: str, k: float) -> tuple[float, float] | None:
    """The same fences for a column read from the written files (quantiles interpolated linearly,
    as pandas does)."""
    x = (values if isinstance(values, pl.Series) else pl.from_arrow(values)).cast(pl.Float64).drop_nulls()
    if x.is_empty():
        return None
    med = x.median()
    if method == "mad":
        mad = (x - med).abs().median()
        return fences(method, k, med, mad, mad)
    return fences(method, k, med, x.quantile(0.25, "linear"), x.quantile(0.75, "linear"))


def numeric_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if ptypes.is_numeric_dtype(df[c]) and not ptypes.is_bool_dtype(df[c])
            and not c.startswith("_")]
