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


def parquet_source(files: list[Path]) -> str:
    return f"read_parquet({[str(f) for f in files]!r}, union_by_name = true, hive_partitioning = false)"


def fences_of(files: list[Path], columns: list[str], method: str, k: float) -> dict[str, tuple[float, float]]:
    """The same fences for columns of Parquet files, computed by DuckDB (two scans at most) without
    loading the table; columns with no fences (constant, empty) are left out."""
    if not files or not columns:
        return {}
    src = parquet_source(files)
    cols = [f'CAST("{c}" AS DOUBLE)' for c in columns]
    with duckdb.connect() as con:
        meds = con.execute("SELECT " + ", ".join(f"median({c})" for c in cols) + f" FROM {src}").fetchone()
        if method == "mad":
            spread = con.execute("SELECT " + ", ".join(
                f"median(abs({c} - {m if m is not None else 'NULL'}))" for c, m in zip(cols, meds)) + f" FROM {src}"
            ).fetchone()
            stats = [(m, d, d) for m, d in zip(meds, spread)]
        else:
            q = con.execute("SELECT " + ", ".join(f"quantile_cont({c}, 0.25), quantile_cont({c}, 0.75)" for c in cols)
                            + f" FROM {src}").fetchone()
            stats = [(m, q[2 * i], q[2 * i + 1]) for i, m in enumerate(meds)]
    out = {}
    for name, (centre, lower, upper) in zip(columns, stats):
        if centre is not None and lower is not None:
            limits = fences(method, k, centre, lower, upper)
            if limits is not None:
                out[name] = limits
    return out


def numeric_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if ptypes.is_numeric_dtype(df[c]) and not ptypes.is_bool_dtype(df[c])
            and not c.startswith("_")]
