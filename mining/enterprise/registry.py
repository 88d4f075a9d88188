"""A file-based model registry: one SQLite table of versions, each with its lineage record.

SQLite keeps the registry a single file that DVC versions and any SQL tool can read; the table is
persistent across runs, so it holds the history of every version the pipeline produced.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from mining.catalog import Catalog
from mining.charter import task_of
from mining.lineage import content_hash
from mining.secrets import redact

SCHEMA = """
CREATE TABLE IF NOT EXISTS model_versions (
    name TEXT NOT NULL, version TEXT NOT NULL, stage TEXT NOT NULL, registered_at TEXT NOT NULL,
    model_type TEXT, git_commit TEXT, git_dirty INTEGER, data_sha256 TEXT, features_sha256 TEXT,
    metrics TEXT, params TEXT, lineage TEXT, PRIMARY KEY (name, version))
"""


def registry_stage(approval: dict) -> str:
    """Where a new version enters the registry: `staging` when governance's automatic checks passed
    (the review board promotes it from there), `blocked` otherwise."""
    return "staging" if approval["automatic_checks_passed"] else "blocked"


def register(db: Path, name: str, version: str, stage: str, lineage: dict) -> dict:
    """Insert or refresh one version; earlier versions of `name` in `stage` move to 'archived'."""
    db.parent.mkdir(parents=True, exist_ok=True)
    row = {
        "name": name, "version": version, "stage": stage,
        "registered_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model_type": lineage["model"]["type"], "git_commit": lineage["code"].get("commit"),
        "git_dirty": int(bool(lineage["code"].get("dirty"))), "data_sha256": lineage["data"]["sha256"],
        "features_sha256": lineage["features_sha256"], "metrics": json.dumps(lineage["metrics"]),
        "params": json.dumps(lineage["params"]), "lineage": json.dumps(lineage, default=str),
    }
    row = redact(row)
    with sqlite3.connect(db) as con:
        con.execute(SCHEMA)
        con.execute("UPDATE model_versions SET stage = 'archived' WHERE name = ? AND stage = ? AND version != ?",
                    (name, stage, version))
        con.execute(f"INSERT OR REPLACE INTO model_versions ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                    tuple(row.values()))
    return row


def versions(db: Path, name: str | None = None) -> pd.DataFrame:
    with sqlite3.connect(db) as con:
        q = "SELECT name, version, stage, registered_at, model_type, git_commit, data_sha256 FROM model_versions"
        return pd.read_sql_query(q + (" WHERE name = ?" if name else "") + " ORDER BY registered_at DESC",
                                 con, params=(name,) if name else None)


def shortened(versions_frame: pd.DataFrame) -> pd.DataFrame:
    """The versions table for a page: commits and hashes cut to their first 12 characters."""
    return versions_frame.assign(**{c: versions_frame[c].str[:12] for c in ("git_commit", "data_sha256")
                                    if c in versions_frame})


def lineage_record(meta: dict, params: dict, root: Path, metrics: dict) -> dict:
    """What traces a model version back: code, params, sources with hashes and counts, data and
    feature hashes, and its evaluation metrics."""
    cat = Catalog(root)
    sources = json.loads(cat["ingest_lineage"].read_text())
    interim = cat["interim"]
    return {
        "model": {"type": meta["model"], "task": task_of(meta),
                  "version": meta["model_sha256"][:12], "sha256": meta["model_sha256"]},
        "code": meta["code"], "params": params,
        "data": {"sources": sources["sources"], "counts": sources["counts"], "sha256": content_hash(interim)},
        "features_sha256": meta["features_sha256"],
        "metrics": metrics,
    }
