"""Micro-batch ingestion of an append-only folder of JSON-lines files (an IoT or event feed).

Each run takes the files no committed batch has taken, validates them, and publishes them as one
batch folder `batch=NNNNNN/` (rows, quarantine, and a manifest of the files it took). A batch is
built in `_staging/` and published by one atomic rename, which is also the commit: the files a
batch took are read back from the manifests of published batches, so there is no second record
that a crash could leave out of step. A run killed at any point leaves either a whole batch or
none (its staging folder is cleared by the next run, which takes those files again): every record
is ingested exactly once.

Feeds change shape: with a schema registry, fields beyond the declared ones are inferred and held
to the stored contract of the `stream` table under `ingest.schema_policy`; each row is written with
the schema version it was checked against, and `read_published` returns old and new rows as one table.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import polars as pl

from mining.catalog import member
from mining.data.files import REJECTED_COLUMNS, concat, iter_jsonl
from mining.ingest import schema as sch
from mining.ingest.contract import VERSION_COLUMN, Resolved, accept, extend, resolve
from mining.lineage import content_hash
from mining.locks import held, lock_for

STAGING = "_staging"


@dataclass
class BatchResult:
    batch: int | None  # None: nothing new to take
    files: list[str]
    rows_in: int = 0
    rows_valid: int = 0
    rows_quarantined: int = 0


def published(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("batch=*") if p.is_dir())


def taken_files(out: Path) -> set[str]:
    """Names of inbox files already in a published batch (from the batches' own manifests)."""
    taken: set[str] = set()
    for b in published(out):
        taken.update(f["name"] for f in json.loads((b / "_manifest.json").read_text())["files"])
    return taken


def run_batch(inbox: Path, out: Path, schema: dict[str, dict], *, max_files: int | None = None,
              on_file: Callable[[Path], None] | None = None, registry: Path | None = None,
              policy: str = "warn", wait_s: float = 300) -> BatchResult:
    """Ingest the inbox files not yet taken (oldest name first) as one published batch.

    `schema` declares the fields every record must have; with `registry`, other fields are
    inferred and versioned there (see the module docstring). Runs on one `out` take turns (a file
    lock, waited for up to `wait_s`), so two runs never take the same file."""
    with held(lock_for(out), f"stream ingestion into {out}", wait_s=wait_s):
        return _run_batch(inbox, out, schema, max_files=max_files, on_file=on_file, registry=registry,
                          policy=policy)


def _run_batch(inbox: Path, out: Path, schema: dict[str, dict], *, max_files: int | None,
               on_file: Callable[[Path], None] | None, registry: Path | None, policy: str) -> BatchResult:
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / STAGING, ignore_errors=True)  # a killed run's unpublished batch
    done = taken_files(out)
    new = sorted(p for p in inbox.glob("*.jsonl") if p.name not in done)[:max_files]
    if not new:
        return BatchResult(None, [])
    number = max((int(b.name.split("=")[1]) for b in published(out)), default=0) + 1
    stage = out / STAGING / f"batch={number:06d}"
    stage.mkdir(parents=True)
    frames, quarantined, manifest = [], [], []
    contract: Resolved | None = None
    for path in new:
        chunks = list(iter_jsonl(path))
        table = concat([c.table for c in chunks])
        if table.num_rows:
            contract = _contract(contract, table.slice(0, sch.INFER_ROWS).to_pandas(), schema, registry, policy, path)
            checked = sch.validate_table(pl.from_arrow(table), contract.schema, "events", str(path), absent="null")
            frames.append(checked.valid.with_columns(pl.lit(path.name).alias("_source"),
                                                     pl.lit(contract.version).alias(VERSION_COLUMN)))
            quarantined.append(checked.quarantine)
        quarantined += [c.rejected.assign(table="events")[["table", *REJECTED_COLUMNS]] for c in chunks]
        manifest.append({"name": path.name, "sha256": content_hash(path),
                         "rows": table.num_rows + sum(len(c.rejected) for c in chunks)})
        if on_file:
            on_file(path)
    valid = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    quarantine = pd.concat(quarantined, ignore_index=True)
    valid.write_parquet(stage / "rows.parquet")
    quarantine.to_parquet(stage / member("quarantine"), index=False)
    result = BatchResult(number, [m["name"] for m in manifest], sum(m["rows"] for m in manifest), len(valid),
                         len(quarantine))
    (stage / "_manifest.json").write_text(json.dumps({
        "batch": number, "files": manifest, "counts": result.__dict__,
        "schema": contract and {"version": contract.version, "diff": contract.diff, "warnings": contract.warnings}},
        indent=2, default=str))
    _fsync_tree(stage)
    os.rename(stage, out / stage.name)  # the commit: atomic on one filesystem
    (out / STAGING).rmdir()
    if contract is not None:
        accept(contract)  # after the commit: a new version is stored only with the rows that use it
    return result


def _contract(current: Resolved | None, frame: pd.DataFrame, declared: dict[str, dict], registry: Path | None,
              policy: str, path: Path) -> Resolved:
    """The declared fields, plus (with a registry) every other field inferred and versioned."""
    if registry is None:
        return current or Resolved(declared, 1, policy="declared")
    inferred = {**sch.infer_schema(frame), **declared}
    if current is None:
        return resolve(registry, "stream", inferred, policy, str(path.parent))
    extend(current, {c: s for c, s in inferred.items() if c not in current.schema}, "stream", path.name)
    return current


def _fsync_tree(folder: Path) -> None:
    for f in folder.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_published(out: Path) -> pd.DataFrame:
    """Every published batch's valid rows, with their batch number."""
    frames = [pd.read_parquet(b / "rows.parquet").assign(batch=int(b.name.split("=")[1])) for b in published(out)]
    # batches of older schema versions lack the newer fields: they read as missing
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
