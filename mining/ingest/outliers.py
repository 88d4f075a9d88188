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
    return robust_summary(x.to_numpy().copy(), method, k)[1] if len(x) else None


def robust_summary(a: np.ndarray, method: str, k: float) -> tuple[float, tuple[float, float] | None]:
    """(median, fences) of a non-empty array without missing values, which is reordered in place: the
    quantiles are selections (numpy's introselect), not a sort (a third of the time on 10 M floats)."""
    if method == "iqr":
        q1, median, q3 = quantiles(a, (0.25, 0.5, 0.75))
        return median, fences(method, k, np.nan, q1, q3)
    (median,) = quantiles(a, (0.5,))
    (mad,) = quantiles(np.abs(a - median), (0.5,))
    return median, fences(method, k, median, mad, mad)


def quantiles(a: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """The qs-quantiles of a non-empty array, interpolated linearly as pandas, polars' "linear" and
    DuckDB's quantile_cont do; `a` is partitioned in place around the order statistics they need."""
    at = [q * (len(a) - 1) for q in qs]
    a.partition(sorted({i for x in at for i in (int(x), min(int(x) + 1, len(a) - 1))}))
    return [float(a[int(x)] + (a[min(int(x) + 1, len(a) - 1)] - a[int(x)]) * (x - int(x))) for x in at]
