"""A per-column profile of a validated table: what a reviewer checks before trusting the data.

Computed column by column from the written Parquet files (decrypted when they are encrypted), so
that memory holds a column per core, never the table."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa

from mining.ingest.encryption import Keys
from mining.ingest.outliers import fences_of
from mining.ingest.store import polars_files, unified_schema

HIDDEN = ("_source", "_row", "_schema_version")


def profile_files(files: list[Path], method: str = "iqr", k: float = 3.0, keys: Keys | None = None) -> pd.DataFrame:
    """Type, missing share, distinct count (HyperLogLog estimate, within ~2 %), range and outlier
    count (robust rule) per column; columns profiled at once, one per core."""
    if not files:
        return pd.DataFrame(columns=["column", "dtype", "missing_share", "n_unique"])
    schema = unified_schema(files, keys)  # the files' footers read once, not once per column
    fields = [f for f in schema if f.name not in HIDDEN]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="profile") as pool:
        return pd.DataFrame(list(pool.map(lambda f: _column(files, keys, schema, f, method, k), fields)))


def _column(files: list[Path], keys: Keys | None, schema: pa.Schema, field: pa.Field, method: str, k: float) -> dict:
    x = polars_files(files, [field.name], keys, schema)[field.name].rechunk()  # a chunk per file: quantiles sort them
    n = len(x)
    row = {"column": field.name, "dtype": str(field.type),
           "missing_share": x.null_count() / n if n else 0.0, "n_unique": int(x.drop_nulls().approx_n_unique())}
    t = field.type
    if (pa.types.is_integer(t) or pa.types.is_floating(t)) and x.null_count() < n:
        limits = fences_of(x, method, k)
        out = 0 if limits is None else int(((x < limits[0]) | (x > limits[1])).sum())
        row.update(min=x.min(), median=x.median(), max=x.max(), outliers=out)
    elif pa.types.is_timestamp(t) and x.null_count() < n:
        row.update(min=str(x.min()), max=str(x.max()))
    return row
