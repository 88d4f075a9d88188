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
    """The fences of a column (read from the written files); None when it has no spread or no values."""
    x = (values if isinstance(values, pl.Series) else pl.from_arrow(values)).cast(pl.Float64).drop_nulls()
    return fences_sorted(np.sort(x.to_numpy()), method, k) if len(x) else None


def fences_sorted(a: np.ndarray, method: str, k: float) -> tuple[float, float] | None:
    """The fences of a sorted array without missing values (numpy sorts 10 M floats in 0.1 s, less
    than three selections; the caller then counts outliers by binary search)."""
    if method == "iqr":
        return fences(method, k, np.nan, quantile_sorted(a, 0.25), quantile_sorted(a, 0.75))
    median = quantile_sorted(a, 0.5)
    mad = quantile_sorted(np.sort(np.abs(a - median)), 0.5)
    return fences(method, k, median, mad, mad)


def quantile_sorted(a: np.ndarray, q: float) -> float:
    """The q-quantile of a sorted, non-empty array, interpolated linearly as pandas, polars' "linear"
    and DuckDB's quantile_cont do."""
    at = q * (len(a) - 1)
    low = int(at)
    high = min(low + 1, len(a) - 1)
    return float(a[low] + (a[high] - a[low]) * (at - low))
