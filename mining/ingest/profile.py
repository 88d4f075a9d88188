"""A per-column profile of a validated table: what a reviewer checks before trusting the data.

Computed column by column from the written Parquet files (decrypted when they are encrypted), so
that memory holds a piece of a column at a time per core, and every value only of a number column
(8 bytes a value: its quantiles need them all): never the table, and not 50 M ids at once."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from mining.data.files import ORIGIN
from mining.ingest.contract import VERSION_COLUMN
from mining.ingest.distinct import DistinctSketch
from mining.ingest.encryption import Keys
from mining.ingest.outliers import robust_summary
from mining.ingest.store import column_batches, unified_schema

HIDDEN = (*ORIGIN, VERSION_COLUMN)


def profile_files(files: list[Path], method: str = "iqr", k: float = 3.0, keys: Keys | None = None,
                  unique: Collection[str] = ()) -> pd.DataFrame:
    """Type, missing share, distinct count (exact below 16,384 values, a sketch's estimate within ~2 %
    above), range and outlier count (robust rule) per column; columns profiled at once, one per core.
    A text column the stage proved unique (`unique`) is counted from the files' footers: its distinct
    count is exact, and its values (10 M ids: the costliest column to read back) are not read."""
    if not files:
        return pd.DataFrame(columns=["column", "dtype", "missing_share", "n_unique"])
    schema = unified_schema(files, keys)  # the files' footers read once, not once per column
    fields = [f for f in schema if f.name not in HIDDEN]
    rows = _rows(files, keys) if any(_is_number(f.type) for f in fields) else 0  # a number column's array size

    def profile(f: pa.Field) -> dict:
        text = pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
        counted = _key_column(files, keys, f) if f.name in unique and text else None
        return counted or _column(files, keys, schema, f, method, k, rows)

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


def _column(files: list[Path], keys: Keys | None, schema: pa.Schema, field: pa.Field, method: str, k: float,
            rows: int) -> dict:
    t = field.type
    values = np.empty(rows if _is_number(t) else 0)  # quantiles need every number: 8 bytes a value, once
    try:
        row, filled = _scan(column_batches(files, field.name, schema, keys), values)
    except pl.exceptions.PolarsError:  # types polars does not promote: Arrow reads them
        row, filled = _scan(column_batches(files, field.name, schema, keys, arrow=True), values)
    if filled:
        a = values[:filled]
        median, limits = robust_summary(a, method, k)
        out = 0 if limits is None else int(np.count_nonzero(a < limits[0]) + np.count_nonzero(a > limits[1]))
        row.update(median=median, outliers=out)
    return {"column": field.name, "dtype": str(t), **row}


def _scan(pieces: Iterable[pl.Series], values: np.ndarray) -> tuple[dict, int]:
    """Missing share (nulls, and NaN as the checks count it), distinct count and range (numbers, times)
    of a column read a piece at a time; a number column's values copied into `values` (the count
    filled is returned)."""
    rows = missing = filled = 0
    distinct, low, high = DistinctSketch(), [], []
    for x in pieces:
        present = x.drop_nulls().drop_nans() if x.dtype.is_float() else x.drop_nulls()  # NaN: missing, as checked
        rows, missing = rows + len(x), missing + len(x) - len(present)
        distinct.update(present)
        if (len(values) or x.dtype.is_temporal()) and len(present):
            low.append(present.min())
            high.append(present.max())
        if len(values):
            values[filled:filled + len(present)] = present.cast(pl.Float64).to_numpy()
            filled += len(present)
    row = {"missing_share": missing / rows if rows else 0.0, "n_unique": distinct.count()}
    if low:
        row.update(min=min(low), max=max(high))
        if not len(values):  # times, shown as text
            row.update(min=str(row["min"]), max=str(row["max"]))
    return row, filled


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t)


def _rows(files: list[Path], keys: Keys | None) -> int:
    """The files' rows, from their footers."""
    return sum(pq.ParquetFile(p, **(keys.reader_options() if keys else {})).metadata.num_rows for p in files)
