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


def read_source(uri: str, root: Path, delimiter: str = ",", encoding: str = "utf-8") -> tuple[FileRead, dict]:
    """The table at `uri` (parsed rows + unparseable ones) and its lineage record (URI, hash, rows)."""
    if uri == BUILTIN_DEMO:
        raise IngestError("builtin:demo is read with read_demo(), which also yields the events")
    path = Path(uri) if Path(uri).is_absolute() else root / uri
    read = read_file(path, delimiter, encoding)
    return read, {"uri": uri, "sha256": file_sha256(path), "rows": len(read.frame) + len(read.rejected)}


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
