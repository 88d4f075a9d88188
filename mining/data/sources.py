"""Sources behind one call: `read_source(uri)` returns named tables with their row origin.

Every row carries `_source` (file or URI) and `_row` (1-based line in a CSV/JSON-lines file, or
the row number elsewhere), so a quarantined row can be found in the file it came from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from mining.data import demo
from mining.data.files import Chunk, FileRead, IngestError, collect, feeds_digest, iter_file
from mining.data.remote import folder_files, is_remote, is_sql, iter_folder, iter_remote, iter_sql
from mining.secrets import redact_text
from mining.lineage import content_hash, file_hasher

BUILTIN_DEMO = "builtin:demo"


def _with_origin(df: pd.DataFrame, source: str, first_line: int) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    df.insert(0, "_row", range(first_line, first_line + len(df)))
    df.insert(0, "_source", source)
    return df


def open_source(uri: str, root: Path, delimiter: str = ",", encoding: str = "utf-8",
                query: str | None = None, numbers: bool = False) -> tuple[Iterator[Chunk], dict]:
    """The table at `uri` as chunks (parsed rows + unparseable ones) and its lineage record,
    whose row count and (for databases and remote objects) content hash are filled in as the
    chunks are read.

    `uri` is a local file or folder (relative to the project), a database URL with `query`, or
    an fsspec URL (s3://, abfs://, gs://, ...). `numbers`: a local JSON-lines file's number fields
    may be read as floats, for a reader that handles `Chunk.numbers` (see `iter_jsonl`).
    """
    if uri == BUILTIN_DEMO:
        raise IngestError("builtin:demo is read with read_demo(), which also yields the events")
    if is_sql(uri):
        lineage = {"uri": redact_text(uri), "query": query}
        return _hashed(iter_sql(uri, query, root), lineage), lineage
    if is_remote(uri):
        lineage = {"uri": uri}
        return _hashed(iter_remote(uri, delimiter, encoding), lineage), lineage
    path = Path(uri.removeprefix("file://"))
    path = path if path.is_absolute() else root / path
    if path.is_dir():
        files = folder_files(path)
        lineage = {"uri": uri, "files": len(files)}
        digest = _in_background(lambda: hashlib.sha256("".join(content_hash(f) for f in files).encode()).hexdigest())
        return _counted(iter_folder(path, delimiter, encoding), lineage, digest.result), lineage
    if not path.exists():
        raise IngestError(f"{path}: file not found")
    lineage = {"uri": uri}
    if feeds_digest(path):  # read once: the blocks parsed are the bytes hashed
        digest = file_hasher(path)
        chunks = iter_file(path, delimiter, encoding, digest=digest, numbers=numbers)
        return _counted(chunks, lineage, digest.hexdigest), lineage
    hashed = _in_background(lambda: content_hash(path))
    return _counted(iter_file(path, delimiter, encoding, numbers=numbers), lineage, hashed.result), lineage


def _in_background(fn) -> Future:
    """The source's content hash, computed while its rows are read (hashlib releases the GIL)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
    future = pool.submit(fn)
    pool.shutdown(wait=False)
    return future


def _counted(chunks: Iterator[Chunk], lineage: dict, digest: Callable[[], str] | None = None) -> Iterator[Chunk]:
    """The chunks, counted into `lineage`; once they are all read, the source's hash from `digest`."""
    lineage["rows"] = 0
    for c in chunks:
        lineage["rows"] += c.table.num_rows + len(c.rejected)
        yield c
    if digest is not None:
        lineage["sha256"] = digest()


def _hashed(chunks: Iterator[Chunk], lineage: dict) -> Iterator[Chunk]:
    """Content hash of rows read from a database or remote object (no local file to hash)."""
    h = hashlib.sha256()
    for c in _counted(chunks, lineage):
        if c.table.num_rows:
            h.update(pd.util.hash_pandas_object(c.frame.drop(columns=["_source"]), index=False).values.tobytes())
        yield c
    lineage["sha256"] = h.hexdigest()


def read_source(uri: str, root: Path, delimiter: str = ",", encoding: str = "utf-8",
                query: str | None = None) -> tuple[FileRead, dict]:
    """The whole table at `uri` (see `open_source`): for small sources and tests."""
    chunks, lineage = open_source(uri, root, delimiter, encoding, query)
    return collect(chunks), lineage


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
