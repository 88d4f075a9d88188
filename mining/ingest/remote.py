"""Sources that are not a local file: a folder of files, a SQL query on a database, an fsspec URL.

Credentials never live in params: a URL may name environment variables (`${PGPASSWORD}`), which
are expanded only when connecting; reports and lineage show the URL with the password hidden.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from mining.ingest.files import REJECTED_COLUMNS, FileRead, IngestError, read_file

SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mariadb", "mssql", "oracle", "duckdb")
FILE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".parquet", ".pq", ".jsonl", ".ndjson", ".json", ".jsonl.gz")
_ENV = re.compile(r"\$\{(\w+)\}")


def is_sql(uri: str) -> bool:
    return uri.split(":", 1)[0].split("+", 1)[0] in SQL_SCHEMES and "://" in uri


def is_remote(uri: str) -> bool:
    return "://" in uri and not is_sql(uri) and not uri.startswith("file://")


def expand_env(uri: str) -> str:
    """`${VAR}` from the environment; a missing one is named, never silently left empty."""
    def sub(m: re.Match) -> str:
        if m.group(1) not in os.environ:
            raise IngestError(f"source URL needs ${{{m.group(1)}}} but it is not set in the environment")
        return os.environ[m.group(1)]
    return _ENV.sub(sub, uri)


def redact(uri: str) -> str:
    """The URL as it may appear in reports: environment references kept, literal passwords hidden."""
    if _ENV.search(uri) or not is_sql(uri):
        return uri
    return sa.engine.make_url(uri).render_as_string(hide_password=True)


def read_sql(uri: str, query: str | None, root: Path) -> FileRead:
    """Rows of `query` on the database at `uri` (DuckDB natively, anything else through SQLAlchemy)."""
    if not query:
        raise IngestError(f"{redact(uri)}: a database source needs data.query (the SELECT to ingest)")
    url = expand_env(uri)
    try:
        if url.startswith("duckdb:///"):
            import duckdb

            path = Path(url[len("duckdb:///"):])
            path = path if path.is_absolute() else root / path
            if not path.exists():
                raise IngestError(f"{uri}: DuckDB file {path} not found")
            with duckdb.connect(str(path), read_only=True) as con:
                df = con.execute(query).df()
        else:
            if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
                url = "sqlite:///" + str(root / url[len("sqlite:///"):])
            engine = sa.create_engine(url)
            try:
                with engine.connect() as con:
                    df = pd.read_sql_query(sa.text(query), con)
            finally:
                engine.dispose()
    except IngestError:
        raise
    except Exception as exc:  # driver errors differ by database; the message names the source
        raise IngestError(f"{redact(uri)}: query failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    if df.empty:
        raise IngestError(f"{redact(uri)}: the query returned no rows")
    df.insert(0, "_row", range(1, len(df) + 1))
    df.insert(0, "_source", f"{redact(uri)}#query")
    return FileRead(df, pd.DataFrame(columns=REJECTED_COLUMNS))


def _hive_values(path: Path, base: Path) -> dict[str, str]:
    return dict(p.split("=", 1) for p in path.relative_to(base).parts[:-1] if "=" in p)


def read_folder(folder: Path, delimiter: str, encoding: str) -> FileRead:
    """Every data file under `folder` (sorted), hive partition keys (`key=value` folders) as columns."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(FILE_SUFFIXES))
    if not files:
        raise IngestError(f"{folder}: folder holds no .csv, .parquet or .jsonl file")
    frames, rejected = [], []
    for f in files:
        read = read_file(f, delimiter, encoding)
        frames.append(read.frame.assign(**_hive_values(f, folder)))
        rejected.append(read.rejected)
    return FileRead(pd.concat(frames, ignore_index=True), pd.concat(rejected, ignore_index=True))


def read_remote(uri: str, delimiter: str, encoding: str) -> FileRead:
    """An object-store or other fsspec URL (s3://, abfs://, gs://, memory://...), streamed to a
    temporary file and read like a local one; rows keep the URL as their source."""
    import fsspec

    name = uri.rstrip("/").rsplit("/", 1)[-1]
    try:
        with tempfile.TemporaryDirectory() as tmp, fsspec.open(uri, "rb") as src:
            local = Path(tmp) / name
            with open(local, "wb") as dst:
                shutil.copyfileobj(src, dst, length=1 << 20)
            read = read_file(local, delimiter, encoding)
    except FileNotFoundError:
        raise IngestError(f"{uri}: object not found") from None
    except ImportError as exc:
        raise IngestError(f"{uri}: no filesystem for this scheme ({exc}); install its fsspec package "
                          "(s3fs, adlfs or gcsfs)") from None
    read.frame["_source"] = uri
    if len(read.rejected):
        read.rejected["source"] = uri
    return read
