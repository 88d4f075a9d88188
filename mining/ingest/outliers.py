"""Robust outlier rules per numeric column: Tukey's IQR fences or the median absolute deviation."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

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


def fences_of(values: pa.ChunkedArray | pl.Series, method: str, k: float) -> tuple[float, float] | None:
    """The fences of a column (read from the written files): quartiles interpolated linearly, as
    pandas and DuckDB's quantile_cont do; None when the column has no spread or no values."""
    # one contiguous chunk: polars selects a quantile of one chunk, but sorts a column of many (6x slower)
    x = (values if isinstance(values, pl.Series) else pl.from_arrow(values)).cast(pl.Float64).drop_nulls().rechunk()
    if x.is_empty():
        return None
    if method == "iqr":  # the quartiles alone: a median is a third selection over the column
        return fences(method, k, np.nan, x.quantile(0.25, "linear"), x.quantile(0.75, "linear"))
    med = x.median()
    mad = (x - med).abs().median()
    return fences(method, k, med, mad, mad)
