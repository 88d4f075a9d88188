"""A per-column profile of a validated table: what a reviewer checks before trusting the data.

Computed by DuckDB over the written Parquet files, so that a 10 M-row table is profiled without
being loaded."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mining.ingest.outliers import fences_of

HIDDEN = ("_source", "_row", "_schema_version")


def profile_files(files: list[Path], method: str = "iqr", k: float = 3.0) -> pd.DataFrame:
    """Type, missing share, distinct count, range and outlier count (robust rule) per column."""
    if not files:
        return pd.DataFrame(columns=["column", "dtype", "missing_share", "n_unique"])
    schema = pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive")
    src = f"read_parquet({[str(f) for f in files]!r}, union_by_name = true, hive_partitioning = false)"
    rows = []
    with duckdb.connect() as con:
        n = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]
        for field in schema:
            if field.name in HIDDEN:
                continue
            c = f'"{field.name}"'
            nulls, distinct = con.execute(f"SELECT count(*) - count({c}), count(DISTINCT {c}) FROM {src}").fetchone()
            row = {"column": field.name, "dtype": str(field.type), "missing_share": nulls / n if n else 0.0,
                   "n_unique": int(distinct)}
            t = field.type
            if pa.types.is_integer(t) or pa.types.is_floating(t):
                lo, med, hi = con.execute(f"SELECT min({c}), median({c}), max({c}) FROM {src}").fetchone()
                limits = fences_of(files, field.name, method, k)
                out = 0 if limits is None else con.execute(
                    f"SELECT count(*) FROM {src} WHERE {c} < ? OR {c} > ?", list(limits)).fetchone()[0]
                row.update(min=lo, median=med, max=hi, outliers=int(out))
            elif pa.types.is_timestamp(t):
                lo, hi = con.execute(f"SELECT min({c}), max({c}) FROM {src}").fetchone()
                row.update(min=str(lo), max=str(hi))
            rows.append(row)
    return pd.DataFrame(rows)
