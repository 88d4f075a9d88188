"""A per-column profile of a validated table: what a reviewer checks before trusting the data.

Computed column by column from the written Parquet files (decrypted when they are encrypted), so
that memory holds a column per core, never the table."""

from __future__ import annotations

import os
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mining.ingest.encryption import Keys
from mining.ingest.outliers import fences_of
from mining.ingest.store import polars_files, unified_schema

HIDDEN = ("_source", "_row", "_schema_version")


def profile_files(files: list[Path], method: str = "iqr", k: float = 3.0, keys: Keys | None = None,
                  unique: Collection[str] = ()) -> pd.DataFrame:
    """Type, missing share, distinct count (HyperLogLog estimate, within ~2 %), range and outlier
    count (robust rule) per column; columns profiled at once, one per core. A text column the stage
    proved unique (`unique`) is counted from the files' footers: its distinct count is exact, and its
    values (10 M ids: the costliest column to read back) are not read."""
    if not files:
        return pd.DataFrame(columns=["column", "dtype", "missing_share", "n_unique"])
    schema = unified_schema(files, keys)  # the files' footers read once, not once per column
    fields = [f for f in schema if f.name not in HIDDEN]

    def profile(f: pa.Field) -> dict:
        text = pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
        counted = _key_column(files, keys, f) if f.name in unique and text else None
        return counted or _column(files, keys, schema, f, method, k)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="profile") as pool:
        return pd.DataFrame(list(pool.map(profile, fields)))


def _key_column(files: list[Path], keys: Keys | None, field: pa.Field) -> dict | None:
    """A unique column's rows and nulls from the footers' statistics (None where one lacks them)."""
    rows = nulls = 0
    for path in files:
        meta = pq.ParquetFile(path, **(keys.reader_options() if keys else {})).metadata
        at = [i for i in range(meta.num_columns) if meta.schema.column(i).path == field.name]
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            stats = group.column(at[0]).statistics if at else None
            if at and (stats is None or not stats.has_null_count):
                return None
            rows += group.num_rows
            nulls += stats.null_count if at else group.num_rows  # a file without the column: all missing
    return {"column": field.name, "dtype": str(field.type), "missing_share": nulls / rows if rows else 0.0,
            "n_unique": rows - nulls}


def _column(files: list[Path], keys: Keys | None, schema: pa.Schema, field: pa.Field, method: str, k: float) -> dict:
    t = field.type
    number = pa.types.is_integer(t) or pa.types.is_floating(t)
    x = polars_files(files, [field.name], keys, schema)[field.name]
    if number:  # a chunk per file: polars sorts a column of many chunks for a quantile (text is not copied into one)
        x = x.rechunk()
    n = len(x)
    row = {"column": field.name, "dtype": str(field.type),
           "missing_share": x.null_count() / n if n else 0.0, "n_unique": int(x.drop_nulls().approx_n_unique())}
    if number and x.null_count() < n:
        limits = fences_of(x, method, k)
        out = 0 if limits is None else int(((x < limits[0]) | (x > limits[1])).sum())
        row.update(min=x.min(), median=x.median(), max=x.max(), outliers=out)
    elif pa.types.is_timestamp(t) and x.null_count() < n:
        row.update(min=str(x.min()), max=str(x.max()))
    return row
