"""A per-column profile of a validated table: what a reviewer checks before trusting the data.

Computed from the blocks as the stage writes them (`StreamProfile`), or column by column from the
written Parquet files (`profile_files`, decrypted when they are encrypted): both hold a piece of a
column at a time, never the table, and every value only of a number column (8 bytes a value: its
quantiles need them all), so not 50 M ids at once. The two give the same profile."""

from __future__ import annotations

import os
from collections.abc import Collection
from concurrent.futures import Future, ThreadPoolExecutor
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
        counted = _key_column(files, keys, f) if f.name in unique and _is_text(f.type) else None
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
    tally = _Tally(field.type, np.empty(rows if _is_number(field.type) else 0))  # every number, once
    try:
        for x in column_batches(files, field.name, schema, keys):
            tally.add(x)
    except pl.exceptions.PolarsError:  # types polars does not promote: Arrow reads them
        tally = _Tally(field.type, tally.values)
        for x in column_batches(files, field.name, schema, keys, arrow=True):
            tally.add(x)
    return tally.summary(field.name, method, k)


class _Tally:
    """What the profile keeps of a column as its pieces pass: rows, missing (nulls, and NaN as the checks
    count it), a distinct-count sketch, the range (numbers, times) and a number column's values: copied
    into `values` (sized from the files' footers) by `add`, a piece of the files at a time, or kept block
    by block by `take`, a block's `exprs` at a time. `counted`: a text column the stage proved unique,
    whose distinct count is its rows with a value (no sketch)."""

    def __init__(self, dtype: pa.DataType, values: np.ndarray | None = None, counted: bool = False,
                 polars: pl.DataType | None = None) -> None:
        self.dtype, self.values, self.counted, self.polars = dtype, values, counted, polars  # polars: the blocks' type
        self.rows = self.missing = self.filled = 0
        self.pieces: list[np.ndarray] = []
        self.distinct, self.low, self.high = DistinctSketch(), [], []

    def add(self, x: pl.Series) -> None:
        present = x.drop_nulls().drop_nans() if x.dtype.is_float() else x.drop_nulls()  # NaN: missing, as checked
        self.rows, self.missing = self.rows + len(x), self.missing + len(x) - len(present)
        if self.counted or not len(present):
            return
        self.distinct.update(present)
        number = _is_number(self.dtype)
        if number or x.dtype.is_temporal():
            self.low.append(present.min())
            self.high.append(present.max())
        if number:
            self.values[self.filled:self.filled + len(present)] = present.cast(pl.Float64).to_numpy()
            self.filled += len(present)

    def exprs(self, name: str) -> list[pl.Expr]:
        """What `take` needs of a block's column, as expressions of one query over the block."""
        c, present = pl.col(name), _present(name, self.polars)
        out = [present.sum().alias(f"{name}\0n")]
        if not self.counted:
            hashes = c.filter(present).hash(seed=0)
            below = self.distinct.threshold()
            out.append((hashes if below is None else hashes.filter(hashes < below)).unique().implode().alias(f"{name}\0h"))
        if _is_number(self.dtype) or self.polars.is_temporal():
            out += [c.filter(present).min().alias(f"{name}\0lo"), c.filter(present).max().alias(f"{name}\0hi")]
        return out

    def take(self, name: str, x: pl.Series, stats: dict) -> None:
        """`add` of a block's column from its query's `stats` (see `exprs`)."""
        n = stats[f"{name}\0n"]
        self.rows, self.missing = self.rows + len(x), self.missing + len(x) - n
        if self.counted or not n:
            return
        self.distinct.merge(stats[f"{name}\0h"])
        if f"{name}\0lo" in stats:
            self.low.append(stats[f"{name}\0lo"])
            self.high.append(stats[f"{name}\0hi"])
        if _is_number(self.dtype):
            present = x if n == len(x) else x.to_frame().filter(_present(name, x.dtype)).to_series()
            self.pieces.append(present.cast(pl.Float64).to_numpy().copy())  # not a view: the block goes
            self.filled += n

    def absent(self, rows: int) -> None:
        """Rows of a block without the column: missing, as a reader of the files sees them."""
        self.rows, self.missing = self.rows + rows, self.missing + rows

    def summary(self, name: str, method: str, k: float) -> dict:
        row = {"column": name, "dtype": str(self.dtype), "missing_share": self.missing / self.rows if self.rows else 0.0,
               "n_unique": self.rows - self.missing if self.counted else self.distinct.count()}
        if self.low:
            row.update(min=min(self.low), max=max(self.high))
            if not _is_number(self.dtype):  # times, shown as text
                row.update(min=str(row["min"]), max=str(row["max"]))
        if self.filled:
            a = self.values[:self.filled] if self.values is not None else np.concatenate(self.pieces)
            self.pieces = []
            median, limits = robust_summary(a, method, k)
            out = 0 if limits is None else int(np.count_nonzero(a < limits[0]) + np.count_nonzero(a > limits[1]))
            row.update(median=median, outliers=out)
        return row


class StreamProfile:
    """`profile_files` of a table computed from its blocks as they are written (`add`, in a thread of
    its own, one query a block), so that the stage does not read its output back (1.5 s of a 10 M-line
    JSON ingest's 19 s; taking it here costs a third of that). `frame` checks the result against the
    files' footers (columns, types, rows) and gives None where it cannot stand for them: a column whose
    type changed between blocks, number values past `VALUES_BUDGET`, files that differ from what was
    written; the caller then profiles the files."""

    VALUES_BUDGET = 512 << 20  # bytes of number values held (8 a value): 64 M values, e.g. 6 columns of 10 M rows

    def __init__(self) -> None:
        self.rows, self.held = 0, 0
        self.tallies: dict[str, _Tally] = {}
        self.usable = True
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future | None = None

    def add(self, frame: pl.DataFrame, schema: dict[str, dict]) -> None:
        """A block's rows as written (`schema`: the contract they were written under), taken in the
        profile's thread while the caller goes on; one block waits at most."""
        self.wait()
        self._pool = self._pool or ThreadPoolExecutor(max_workers=1, thread_name_prefix="profile")
        self._pending = self._pool.submit(self.update, frame, schema)

    def wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown()

    def update(self, frame: pl.DataFrame, schema: dict[str, dict]) -> None:
        """`add`, here: every column's counts, range and sketch candidates in one polars query (a
        query per value and column cost twice the checks themselves); number values copied out."""
        if not self.usable:
            return
        columns = [c for c in frame.columns if c not in HIDDEN]
        exprs = []
        for name in columns:
            dtype = frame.schema[name]
            tally = self.tallies.get(name)
            if tally is None:
                arrow = pl.Series([], dtype=dtype).to_arrow().type
                arrow = pa.string() if _is_text(arrow) or pa.types.is_string_view(arrow) else arrow
                counted = _is_text(arrow) and bool(schema.get(name, {}).get("unique"))
                tally = self.tallies[name] = _Tally(arrow, counted=counted, polars=dtype)
                tally.absent(self.rows)  # earlier blocks lacked it
            elif tally.polars != dtype:
                self._give_up()
                return
            exprs.extend(tally.exprs(name))
        result = frame.select(exprs)
        stats = {c: result[c][0] for c in result.columns}  # a list column's value: a Series
        for name in columns:
            held = self.tallies[name].filled
            self.tallies[name].take(name, frame[name], stats)
            self.held += 8 * (self.tallies[name].filled - held)
        for name, tally in self.tallies.items():
            if name not in frame.columns:
                tally.absent(frame.height)
        self.rows += frame.height
        if self.held > self.VALUES_BUDGET:
            self._give_up()

    def _give_up(self) -> None:
        self.usable, self.tallies = False, {}

    def frame(self, files: list[Path], method: str, k: float, keys: Keys | None = None,
              unique: Collection[str] = ()) -> pd.DataFrame | None:
        """The profile, as `profile_files(files, method, k, keys, unique)` gives it; None where the
        stream cannot stand for the files."""
        self.close()
        if not self.usable or not files:
            return None
        schema = unified_schema(files, keys)
        fields = [f for f in schema if f.name not in HIDDEN]
        if [(f.name, f.type) for f in fields] != [(n, t.dtype) for n, t in self.tallies.items()] \
                or _rows(files, keys) != self.rows \
                or any(t.counted != (n in unique and _is_text(t.dtype)) for n, t in self.tallies.items()):
            return None
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="profile") as pool:
            return pd.DataFrame(list(pool.map(lambda f: self.tallies[f.name].summary(f.name, method, k), fields)))


def _present(name: str, dtype: pl.DataType) -> pl.Expr:
    """A value that counts: not null, and not NaN (missing, as the checks count it)."""
    c = pl.col(name)
    return c.is_not_null() & ~c.is_nan() if dtype.is_float() else c.is_not_null()


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t)


def _rows(files: list[Path], keys: Keys | None) -> int:
    """The files' rows, from their footers."""
    return sum(pq.ParquetFile(p, **(keys.reader_options() if keys else {})).metadata.num_rows for p in files)
