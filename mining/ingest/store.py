"""Validated tables as folders of Parquet files, written chunk by chunk (bounded memory) and
hive-partitioned by a date key when the table has a time column; read back as one table.

Each chunk becomes its own file(s), so a chunk can carry columns an earlier one lacked (schema
evolution); readers unify the files' schemas (a column a file lacks reads as missing).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from mining.data.files import ORIGIN, REJECTED_COLUMNS
from mining.ingest.contract import VERSION_COLUMN
from mining.ingest.encryption import Keys
from mining.ingest.schema import pandas_of

if TYPE_CHECKING:
    import duckdb

ARROW_TYPES = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "string": pa.string(),
               "category": pa.string(), "datetime": pa.timestamp("us")}
GRANULARITY = ("day", "month", "year")
QUARANTINE_SCHEMA = pa.schema([("table", pa.string()), ("source", pa.string()), ("row", pa.int64()),
                               ("reasons", pa.string()), ("record", pa.string())])
META = "_table.json"  # the folder's partition key (readers drop it again)


def partition_key(time_column: str, granularity: str) -> str:
    if granularity not in GRANULARITY:
        raise ValueError(f"ingest.partition_by={granularity!r}: expected one of {sorted(GRANULARITY)}")
    return f"{time_column}_{granularity}"


class TableWriter:
    """One table's folder: one Parquet file per date partition (hive `key=value` folders), each
    chunk appended to it as row groups; a new file only when the columns change (schema evolution)
    or too many partitions are open at once.

    Files are written in a background thread (Arrow releases the GIL) while the caller reads and
    checks the next chunk, a chunk's partitions encoded at once; at most one chunk waits, so memory
    stays bounded.

    With `part` (a source block's number, on a Dask worker) the files are that block's own
    (`part-BLOCK-GENERATION.parquet`): blocks written at once by several workers never share a
    file, and read back in block order."""

    MAX_OPEN = 128  # open partition files at most (day partitions over years would be thousands)
    DICTIONARY_SHARE, DICTIONARY_SAMPLE = 0.1, 10_000  # dictionary-encoded: at most 10 % distinct in a first sample

    def __init__(self, folder: Path, time_column: str | None = None, granularity: str = "month",
                 keys: Keys | None = None, part: int | None = None) -> None:
        self.folder, self.time_column, self.granularity, self.part = folder, time_column, granularity, part
        self.key = partition_key(time_column, granularity) if time_column else None
        self.key_env = keys.key_env if keys else None  # workers rebuild the keys from it
        self._options = keys.writer_options if keys else dict
        self.rows, self.generation = 0, 0
        self._open: dict[str, pq.ParquetWriter] = {}
        self._schema: pa.Schema | None = None
        self._dictionary: dict[str, bool] = {}  # column -> dictionary-encoded (decided on its first block)
        self._statistics: list[str] = []  # columns whose files carry min, max and null counts
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-writer")
        self._encoders = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="parquet-encoder")
        self._pending: Future | None = None
        folder.mkdir(parents=True, exist_ok=True)
        if part is None:  # the table's own writer (the client's, under Dask) describes the folder
            (folder / META).write_text(json.dumps({"partition_key": self.key, "time_column": time_column}))

    def write(self, table: pa.Table, schema: dict[str, dict], version: int) -> None:
        if not table.num_rows:
            return
        table = to_arrow(table.append_column(VERSION_COLUMN, pa.array(np.full(table.num_rows, version, "int64"))),
                         schema)
        self._wait()
        self._statistics = _with_statistics(table.schema, schema)
        self._pending = self._pool.submit(self._write, table)
        self.rows += table.num_rows

    def _write(self, table: pa.Table) -> None:
        if self._schema is not None and not table.schema.equals(self._schema):
            self._close_files()  # new columns (or types): new files, read back as one table
        self._schema = table.schema
        self._choose_dictionary(table)
        if not self.key:
            self._file("").write_table(table)
            return
        values = _date_key(table[self.time_column], self.granularity)
        order = pc.sort_indices(values)
        table, values = table.take(order), values.take(order)
        runs = pc.run_end_encode(values.combine_chunks())
        ends = runs.run_ends.to_pylist()
        pieces = [(_date_label(value, self.granularity), table.slice(start, end - start)) for value, start, end
                  in zip(runs.values.to_pylist(), [0, *ends[:-1]], ends)]
        if len(pieces) > self.MAX_OPEN:  # files would close and reopen between pieces: one at a time
            for value, piece in pieces:
                self._file(value).write_table(piece)
            return
        files = [self._file(value) for value, _ in pieces]  # each partition's piece to its own file, at once
        list(self._encoders.map(lambda f, piece: f.write_table(piece), files, (piece for _, piece in pieces)))

    def _file(self, value: str) -> pq.ParquetWriter:
        if value not in self._open:
            if len(self._open) >= self.MAX_OPEN:
                self._close_files()
            folder = self.folder / f"{self.key}={value}" if self.key else self.folder
            folder.mkdir(exist_ok=True)
            name = f"part-{self.generation:05d}" if self.part is None else f"part-{self.part:05d}-{self.generation:05d}"
            dictionary = [c for c in self._schema.names if self._dictionary[c]]
            self._open[value] = pq.ParquetWriter(folder / f"{name}.parquet", self._schema,
                                                 use_dictionary=dictionary, write_statistics=self._statistics,
                                                 **self._options())
        return self._open[value]

    def _choose_dictionary(self, table: pa.Table) -> None:
        """Dictionary-encode only columns with few distinct values (categories, flags, small counts).
        A partition's row groups are small (a block's rows of one month), so ids and amounts would fit
        Parquet's dictionary page and be hashed into a dictionary that saves nothing: writing 12 month
        partitions took ~40 % more CPU with every column dictionary-encoded, and the files came out larger."""
        sample = table.slice(0, self.DICTIONARY_SAMPLE)  # about a partition's row group, not the whole table
        for name in table.column_names:
            if name not in self._dictionary:
                column = sample[name]
                self._dictionary[name] = pa.types.is_dictionary(column.type) or \
                    pc.count_distinct(column, mode="all").as_py() <= self.DICTIONARY_SHARE * sample.num_rows

    def _close_files(self) -> None:
        for w in self._open.values():
            w.close()
        self._open = {}
        self.generation += 1

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.result()  # a write error surfaces here
            self._pending = None

    def close(self) -> None:
        try:
            self._wait()
        finally:
            self._pool.shutdown(wait=True)
            self._encoders.shutdown(wait=True)
            self._close_files()


def _with_statistics(table: pa.Schema, schema: dict[str, dict]) -> list[str]:
    """The columns whose statistics a reader uses: numbers, times and flags (a range filter skips the
    row groups outside it) and unique keys (their null counts give the profile's count without reading
    them). Other text, categories and ids that repeat, gets none: a row group's min and max of it
    prune nothing, and computing them was 15-20 % of writing a block."""
    text = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view, pa.types.is_dictionary)
    return [f.name for f in table if not any(t(f.type) for t in text) or schema.get(f.name, {}).get("unique")]


def _date_key(times: pa.ChunkedArray, granularity: str) -> pa.ChunkedArray:
    """Each row's partition as a number (2025-03 is 202503): Arrow's field extraction, five times
    faster than formatting every timestamp as text."""
    year = pc.year(times)
    if granularity == "year":
        return year
    month = pc.add(pc.multiply(year, 100), pc.month(times))
    return month if granularity == "month" else pc.add(pc.multiply(month, 100), pc.day(times))


def _date_label(key: int | None, granularity: str) -> str | None:
    """The partition folder's value: 2025, 2025-03 or 2025-03-07."""
    if key is None:
        return None
    if granularity == "year":
        return f"{key:04d}"
    if granularity == "month":
        return f"{key // 100:04d}-{key % 100:02d}"
    return f"{key // 10000:04d}-{key // 100 % 100:02d}-{key % 100:02d}"


def to_arrow(table: pa.Table, schema: dict[str, dict]) -> pa.Table:
    """A validated chunk with the contract's Arrow types (categories and views as plain text), so
    that every chunk's files agree on the columns they share."""
    fields = []
    for f in table.schema:
        kind = schema.get(f.name, {}).get("type")
        if kind:
            fields.append(pa.field(f.name, ARROW_TYPES[kind]))
        elif (pa.types.is_dictionary(f.type) or pa.types.is_null(f.type) or pa.types.is_large_string(f.type)
              or pa.types.is_string_view(f.type)):
            fields.append(pa.field(f.name, pa.string()))
        else:
            fields.append(f)
    return table.cast(pa.schema(fields))


class QuarantineWriter:
    """Every failing row of every table, appended chunk by chunk to one Parquet file."""

    def __init__(self, path: Path, keys: Keys | None = None) -> None:
        self.path, self.rows = path, 0
        self._writer = pq.ParquetWriter(path, QUARANTINE_SCHEMA, **(keys.writer_options() if keys else {}))

    def write(self, rows: pd.DataFrame) -> None:
        if len(rows):
            frame = rows[["table", *REJECTED_COLUMNS]].astype({"row": "int64"})
            self._writer.write_table(pa.Table.from_pandas(frame, schema=QUARANTINE_SCHEMA, preserve_index=False))
            self.rows += len(rows)

    def close(self) -> None:
        self._writer.close()


def files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.parquet"))


def _read(keys: Keys | None) -> dict:
    return keys.reader_options() if keys else {}


def unified_schema(paths: list[Path], keys: Keys | None = None) -> pa.Schema:
    return pa.unify_schemas([pq.read_schema(p, **_read(keys)) for p in paths], promote_options="permissive")


def file_dataset(paths: list[Path], keys: Keys | None = None, folder: Path | None = None,
                 schema: pa.Schema | None = None) -> ds.Dataset:
    """Files as one dataset, their schemas unified (a column a file lacks reads as null; `schema`:
    their `unified_schema`, when the caller has it), decrypted with `keys`; with `folder`, its hive
    date key is a column too."""
    fmt = ds.ParquetFileFormat(**({"default_fragment_scan_options": keys.scan_options()} if keys else {}))
    hive = {"partitioning": ds.partitioning(flavor="hive"), "partition_base_dir": str(folder)} if folder else {}
    return ds.dataset([str(p) for p in paths], schema=schema or unified_schema(paths, keys), format=fmt, **hive)


def read_column(paths: list[Path], column: str, keys: Keys | None = None) -> pa.ChunkedArray:
    """One column of every file (memory: that column only)."""
    return file_dataset(paths, keys).to_table(columns=[column]).column(column)


def read_polars(folder: Path, columns: list[str] | None = None, keys: Keys | None = None) -> pl.DataFrame:
    """The table (`columns` of it, else all) as polars, Arrow's types kept (text as text, times as
    microseconds); row origin, schema version and the date key dropped."""
    return polars_files(files(folder), columns, keys)


def scan_duckdb(folder: Path, columns: list[str] | None = None, keys: Keys | None = None) -> duckdb.DuckDBPyRelation:
    """`read_polars` as a lazy DuckDB relation over the files (their columns unified by name, int
    and float files read as float): a query over it streams them, so memory is the query's, not the
    table's, and DuckDB's group-by is the engine a hand-written query would use. Encrypted files
    (only Arrow decrypts them) are read whole first."""
    paths = files(folder)
    import duckdb  # here: 0.06 s that the stages which write tables do not need

    con = duckdb.connect()
    if keys is not None or not paths:
        return con.from_arrow(polars_files(paths, columns, keys).to_arrow(compat_level=pl.CompatLevel.oldest()))
    names = _names(unified_schema(paths), columns)
    return con.read_parquet([str(p) for p in paths], union_by_name=True, hive_partitioning=False).select(
        *[duckdb.ColumnExpression(n) for n in names])


def polars_files(paths: list[Path], columns: list[str] | None = None, keys: Keys | None = None,
                 schema: pa.Schema | None = None) -> pl.DataFrame:
    """`read_polars` of these files (`schema`: their `unified_schema`, when the caller has it). Polars'
    own reader decodes them (2-5x faster than Arrow's dataset and a conversion); Arrow's when they are
    encrypted (only it decrypts) or their types differ where polars does not promote."""
    schema = schema or unified_schema(paths, keys)
    names = _names(schema, columns)
    if keys is None and paths:
        try:
            return pl.scan_parquet([str(p) for p in paths], schema=pl.from_arrow(schema.empty_table()).schema,
                                   missing_columns="insert").select(names).collect()
        except pl.exceptions.PolarsError:
            pass
    return pl.from_arrow(file_dataset(paths, keys, schema=schema).to_table(columns=names))


def column_batches(paths: list[Path], column: str, schema: pa.Schema, keys: Keys | None = None,
                   arrow: bool = False, rows: int = 1 << 20) -> Iterator[pl.Series]:
    """One column of the files (`schema`: their `unified_schema`) in pieces of about `rows` values, so
    that memory holds a piece, not the column (50 M ids are 1.2 GB). Polars decodes them unless the
    files are encrypted or `arrow` is set; polars raises `PolarsError` where the files' types differ
    in a way it does not promote, possibly after some pieces: the caller starts again with `arrow`."""
    if keys is None and not arrow:
        frames = pl.scan_parquet([str(p) for p in paths], schema=pl.from_arrow(schema.empty_table()).schema,
                                 missing_columns="insert").select(column).collect_batches(chunk_size=rows)
        return (frame.to_series() for frame in frames)
    batches = file_dataset(paths, keys, schema=schema).to_batches(columns=[column], batch_size=rows)
    return (pl.Series(column, batch.column(0)) for batch in batches)


def _names(schema: pa.Schema, columns: list[str] | None) -> list[str]:
    """The columns a reader returns: those asked for (else all), without row origin and version."""
    return [n for n in schema.names if n not in (*ORIGIN, VERSION_COLUMN) and (columns is None or n in columns)]


def read_table(folder: Path, schema: dict[str, dict] | None = None, keep: tuple[str, ...] = (),
               keys: Keys | None = None) -> pd.DataFrame:
    """The table as pandas, with the contract's pandas types; row origin, schema version and the
    date key dropped unless named in `keep`."""
    table = file_dataset(files(folder), keys, folder).to_table()
    key = json.loads((folder / META).read_text())["partition_key"] if (folder / META).exists() else None
    return pandas_of(table.drop_columns([c for c in table.column_names
                                         if c in (*ORIGIN, VERSION_COLUMN, key) and c not in keep]), schema or {})


def schema_of(schema_file: Path, table: str) -> dict[str, dict]:
    """One table's schema from the ingest stage's schema file."""
    return json.loads(schema_file.read_text()).get(table, {})
