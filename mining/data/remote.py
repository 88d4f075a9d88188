"""Sources that are not a local file: a folder of files, a SQL query on a database, an fsspec URL.

Credentials never live in params: a URL may name environment variables (`${PGPASSWORD}`), which
are expanded only when connecting; reports and lineage show the URL with the password hidden.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from mining import secrets
from mining.data.files import ORIGIN, REJECTED_COLUMNS, Chunk, IngestError, arrow_from_pandas, iter_file, with_origin
from mining.secrets import redact_text as redact  # how a URL appears in lineage, reports, errors

if TYPE_CHECKING:
    import sqlalchemy as sa

SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mariadb", "mssql", "oracle", "duckdb")
FILE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".parquet", ".pq", ".jsonl", ".ndjson", ".json", ".jsonl.gz")


def is_sql(uri: str) -> bool:
    return uri.split(":", 1)[0].split("+", 1)[0] in SQL_SCHEMES and "://" in uri


def is_remote(uri: str) -> bool:
    return "://" in uri and not is_sql(uri) and not uri.startswith("file://")


def expand_env(uri: str) -> str:
    """The URL to connect with: its allowed `${VAR}` credentials expanded (mining.secrets)."""
    try:
        return secrets.expand_env(uri)
    except secrets.SecretError as exc:
        raise IngestError(f"{redact(uri)}: {exc}") from None


def iter_sql(uri: str, query: str | None, root: Path, batch_rows: int = 500_000) -> Iterator[Chunk]:
    """Rows of `query` on the database at `uri`, fetched in batches (DuckDB natively, anything
    else through SQLAlchemy with a server-side cursor where the driver has one)."""
    if not query:
        raise IngestError(f"{redact(uri)}: a database source needs data.query (the SELECT to ingest)")
    url = expand_env(uri)
    source, start = f"{redact(uri)}#query", 1
    try:
        for table in _sql_tables(url, uri, query, root, batch_rows):
            yield Chunk(with_origin(table, source, np.arange(start, start + table.num_rows)),
                        pd.DataFrame(columns=REJECTED_COLUMNS))
            start += table.num_rows
    except IngestError:
        raise
    except Exception as exc:  # driver errors differ by database; the message names the source
        raise IngestError(f"{redact(uri)}: query failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    if start == 1:
        raise IngestError(f"{redact(uri)}: the query returned no rows")


def _sql_tables(url: str, uri: str, query: str, root: Path, batch_rows: int) -> Iterator[pa.Table]:
    if url.startswith("duckdb:///"):
        import duckdb

        path = Path(url[len("duckdb:///"):])
        path = path if path.is_absolute() else root / path
        if not path.exists():
            raise IngestError(f"{uri}: DuckDB file {path} not found")
        with duckdb.connect(str(path), read_only=True) as con:
            reader = con.sql(query).to_arrow_reader(batch_rows)
            for batch in reader:
                yield pa.Table.from_batches([batch])
        return
    import sqlalchemy as sa  # here, not at import: 0.2 s that every stage paid for a source few have

    engine = _read_only_engine(url, root)
    try:
        with engine.connect().execution_options(stream_results=True) as con:
            for df in pd.read_sql_query(sa.text(query), con, chunksize=batch_rows):
                yield arrow_from_pandas(df)
    finally:
        engine.dispose()


# `data.query` runs on connections that cannot write, set up as the driver connects
READ_ONLY_CONNECT = {"postgresql": {"options": "-c default_transaction_read_only=on"},
                     "mysql": {"init_command": "SET SESSION TRANSACTION READ ONLY"},
                     "mariadb": {"init_command": "SET SESSION TRANSACTION READ ONLY"}}


def _read_only_engine(url: str, root: Path) -> sa.Engine:
    """An engine whose connections cannot write: SQLite opened with `mode=ro`, PostgreSQL and
    MySQL/MariaDB sessions read-only from the start; other databases as their URL connects."""
    import sqlalchemy as sa

    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):].split("?", 1)[0])
        path = path if path.is_absolute() else root / path
        if not path.exists():
            raise IngestError(f"{redact(url)}: SQLite file {path} not found")
        return sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True))
    backend = sa.engine.make_url(url).get_backend_name()
    return sa.create_engine(url, connect_args=READ_ONLY_CONNECT.get(backend, {}))


def _hive_values(path: Path, base: Path) -> dict[str, str]:
    return dict(p.split("=", 1) for p in path.relative_to(base).parts[:-1] if "=" in p)


def folder_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(FILE_SUFFIXES))
    if not files:
        raise IngestError(f"{folder}: folder holds no .csv, .parquet or .jsonl file")
    return files


def iter_folder(folder: Path, delimiter: str, encoding: str) -> Iterator[Chunk]:
    """Every data file under `folder` (sorted), hive partition keys (`key=value` folders) as columns."""
    for f in folder_files(folder):
        hive = _hive_values(f, folder)
        for chunk in iter_file(f, delimiter, encoding):
            table = chunk.table
            for key, value in hive.items():
                table = table.append_column(key, pa.array([value] * table.num_rows, pa.string()))
            yield Chunk(table, chunk.rejected)


def iter_remote(uri: str, delimiter: str, encoding: str) -> Iterator[Chunk]:
    """An object-store or other fsspec URL (s3://, abfs://, gs://, memory://...), streamed to a
    temporary file and read like a local one; rows keep the URL as their source."""
    import fsspec

    name = uri.rstrip("/").rsplit("/", 1)[-1]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            with fsspec.open(uri, "rb") as src:
                local = Path(tmp) / name
                with open(local, "wb") as dst:
                    shutil.copyfileobj(src, dst, length=1 << 20)
            for chunk in iter_file(local, delimiter, encoding):
                if chunk.table.num_rows:
                    chunk.table = with_origin(chunk.table.drop_columns(ORIGIN), uri,
                                              chunk.table["_row"].to_numpy())
                if len(chunk.rejected):
                    chunk.rejected["source"] = uri
                yield chunk
    except FileNotFoundError:
        raise IngestError(f"{uri}: object not found") from None
    except ImportError as exc:
        raise IngestError(f"{uri}: no filesystem for this scheme ({exc}); install its fsspec package "
                          "(s3fs, adlfs or gcsfs)") from None
