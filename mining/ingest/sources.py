"""Sources behind one call: `read_source(uri)` returns named tables with their row origin.

Every row carries `_source` (file or URI) and `_row` (1-based line in a CSV/JSON-lines file, or
the row number elsewhere), so a quarantined row can be found in the file it came from.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from mining.data import demo
from mining.ingest.files import FileRead, IngestError, read_file
from mining.ingest.remote import is_remote, is_sql, read_folder, read_remote, read_sql, redact

BUILTIN_DEMO = "builtin:demo"


def _with_origin(df: pd.DataFrame, source: str, first_line: int) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    df.insert(0, "_row", range(first_line, first_line + len(df)))
    df.insert(0, "_source", source)
    return df


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_source(uri: str, root: Path, delimiter: str = ",", encoding: str = "utf-8",
                query: str | None = None) -> tuple[FileRead, dict]:
    """The table at `uri` (parsed rows + unparseable ones) and its lineage record.

    `uri` is a local file or folder (relative to the project), a database URL with `query`, or
    an fsspec URL (s3://, abfs://, gs://, ...).
    """
    if uri == BUILTIN_DEMO:
        raise IngestError("builtin:demo is read with read_demo(), which also yields the events")
    if is_sql(uri):
        read = read_sql(uri, query, root)
        return read, {"uri": redact(uri), "query": query, "sha256": frame_sha256(read.frame), "rows": len(read.frame)}
    if is_remote(uri):
        read = read_remote(uri, delimiter, encoding)
        return read, {"uri": uri, "sha256": frame_sha256(read.frame), "rows": len(read.frame) + len(read.rejected)}
    path = Path(uri.removeprefix("file://"))
    path = path if path.is_absolute() else root / path
    if path.is_dir():
        read = read_folder(path, delimiter, encoding)
        files = sorted(set(read.frame["_source"]))
        digest = hashlib.sha256("".join(file_sha256(Path(f)) for f in files).encode()).hexdigest()
        return read, {"uri": uri, "files": len(files), "sha256": digest, "rows": len(read.frame) + len(read.rejected)}
    read = read_file(path, delimiter, encoding)
    return read, {"uri": uri, "sha256": file_sha256(path), "rows": len(read.frame) + len(read.rejected)}


def frame_sha256(df: pd.DataFrame) -> str:
    """Content hash of rows read from a database or remote object (no local file to hash)."""
    return hashlib.sha256(pd.util.hash_pandas_object(df.drop(columns=["_source"]), index=False).values.tobytes()).hexdigest()


def read_demo(spec: demo.DemoSpec) -> tuple[dict[str, pd.DataFrame], dict]:
    """The demo tables (entities + events); its lineage hash is the hash of the generator spec."""
    tables = demo.generate(spec)
    spec_json = json.dumps(spec.__dict__, default=lambda o: o.__dict__, sort_keys=True)
    lineage = {
        "uri": BUILTIN_DEMO,
        "spec": json.loads(spec_json),
        "sha256": hashlib.sha256(spec_json.encode()).hexdigest(),
        "rows": {k: len(v) for k, v in tables.items()},
    }
    return {
        "entities": _with_origin(tables["customers"], f"{BUILTIN_DEMO}/customers", 1),
        "events": _with_origin(tables["events"], f"{BUILTIN_DEMO}/events", 1),
    }, lineage
