"""Robust outlier rules per numeric column: Tukey's IQR fences or the median absolute deviation."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
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


def fences_of(files: list[Path], column: str, method: str, k: float) -> tuple[float, float] | None:
    """The same fences over a column of Parquet files, computed by DuckDB without loading the table."""
    if not files:
        return None
    src = f"read_parquet({[str(f) for f in files]!r}, union_by_name = true)"
    col = f'CAST("{column}" AS DOUBLE)'
    with duckdb.connect() as con:
        if method == "mad":
            med = con.execute(f"SELECT median({col}) FROM {src}").fetchone()[0]
            if med is None:
                return None
            mad = con.execute(f"SELECT median(abs({col} - ?)) FROM {src}", [med]).fetchone()[0]
            return fences(method, k, med, mad, mad)
        q1, q3, med = con.execute(f"SELECT quantile_cont({col}, 0.25), quantile_cont({col}, 0.75), "
                                  f"median({col}) FROM {src}").fetchone()
    return None if q1 is None else fences(method, k, med, q1, q3)


def numeric_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if ptypes.is_numeric_dtype(df[c]) and not ptypes.is_bool_dtype(df[c])
            and not c.startswith("_")]
