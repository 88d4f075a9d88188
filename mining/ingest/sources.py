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

BUILTIN_DEMO = "builtin:demo"


class IngestError(RuntimeError):
    """A whole-source problem: the stage stops and names the file and what was expected."""


def _with_origin(df: pd.DataFrame, source: str, first_line: int) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    df.insert(0, "_row", range(first_line, first_line + len(df)))
    df.insert(0, "_source", source)
    return df


def read_file(path: Path) -> pd.DataFrame:
    """Read one CSV (optionally gzip), Parquet or JSON-lines file, keeping the row origin."""
    if not path.exists():
        raise IngestError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise IngestError(f"{path}: file is empty (expected a header and rows)")
    name = path.name.lower()
    try:
        if name.endswith((".csv", ".csv.gz", ".txt")):
            df, first = pd.read_csv(path, low_memory=False), 2
        elif name.endswith((".parquet", ".pq")):
            df, first = pd.read_parquet(path), 1
        elif name.endswith((".jsonl", ".ndjson", ".json", ".jsonl.gz")):
            df, first = pd.read_json(path, lines=True), 1
        else:
            raise IngestError(f"{path}: unknown file type (expected .csv, .csv.gz, .parquet or .jsonl)")
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise IngestError(f"{path}: cannot be read: {exc}") from exc
    if df.empty:
        raise IngestError(f"{path}: has a header but no rows")
    return _with_origin(df, str(path), first)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_source(uri: str, root: Path, demo_spec: demo.DemoSpec | None = None) -> tuple[pd.DataFrame, dict]:
    """The entity table of `uri` and its lineage record (URI, content hash, rows)."""
    if uri == BUILTIN_DEMO:
        raise IngestError("builtin:demo is read with read_demo(), which also yields the events")
    path = Path(uri) if Path(uri).is_absolute() else root / uri
    df = read_file(path)
    return df, {"uri": uri, "sha256": file_sha256(path), "rows": len(df)}


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
