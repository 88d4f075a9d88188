"""Archival and retention (params/monitor.yaml `retention`): retired model versions packed away and
later deleted, the inference log rotated into monthly Parquet files and those deleted in turn; every
action appended to `data/archive/actions.jsonl` (what, when, where, how much, its sha256).

A version stays unpacked in `models/releases` while it serves and for the `keep_retired` most
recent retirements (a rollback needs nothing restored); older ones become a .tar.gz under
`data/archive/models`. Log rows older than `log_days` move to `data/archive/inference_log/YYYY-MM.parquet`
(written before the rows are deleted, so a crash loses nothing: a rerun rewrites the month); the
protected attributes recorded for the bias audit are deleted after the same `log_days`.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from mining import atomic
from mining.catalog import Catalog
from mining.deploy import releases
from mining.deploy.inference_log import TABLE, engine_for
from mining.lineage import content_hash
from mining.monitor.feedback import iso
from mining.monitor.protected import TABLE as PROTECTED


def log_action(root: Path, action: dict) -> dict:
    path = Catalog(root)["archive"] / "actions.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **action}
    with path.open("a") as f:
        f.write(json.dumps(entry) + "\n")
    return entry


def actions(root: Path) -> list[dict]:
    path = Catalog(root)["archive"] / "actions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def archive_models(root: Path, keep_retired: int) -> list[dict]:
    """Pack all but the `keep_retired` latest retired versions into data/archive/models/VERSION.tar.gz."""
    done = []
    old = releases.retired(root)
    for version in old[:max(len(old) - keep_retired, 0)]:
        folder = releases.bundle_dir(root, version)
        dest = Catalog(root)["archive"] / "models" / f"{version}.tar.gz"
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic.writing(dest) as tmp, tarfile.open(tmp, "w:gz") as tar:
            tar.add(folder, arcname=version)
        shutil.rmtree(folder)
        releases.record(root, "archived", version, f"packed into {Catalog(root).relative(dest)}")
        done.append(log_action(root, {"action": "archived", "what": f"model {version}", "path": str(Catalog(root).relative(dest)),
                                      "bytes": dest.stat().st_size, "sha256": content_hash(dest),
                                      "reason": f"retired; more than monitor.retention.keep_retired={keep_retired}"}))
    return done


def rotate_log(root: Path, url: str, log_days: int, now: datetime) -> list[dict]:
    """Move log rows older than `log_days` into monthly Parquet files, then delete them from the log."""
    cutoff = iso(pd.Timestamp(now - timedelta(days=log_days)))
    engine = engine_for(url)
    done = []
    try:
        old = pd.read_sql(sa.select(TABLE).where(TABLE.c.at < cutoff), engine)
        if not len(old):
            return done
        folder = Catalog(root)["archive"] / "inference_log"
        folder.mkdir(parents=True, exist_ok=True)
        for month, rows in old.groupby(old["at"].str[:7]):
            dest = folder / f"{month}.parquet"
            kept = pd.concat([pd.read_parquet(dest), rows]).drop_duplicates() if dest.exists() else rows
            atomic.save(dest, lambda p, k=kept: k.to_parquet(p, index=False))
            done.append(log_action(root, {"action": "rotated", "what": f"{len(rows):,} inference-log rows of {month}",
                                          "path": str(Catalog(root).relative(dest)), "rows": len(rows),
                                          "sha256": content_hash(dest),
                                          "reason": f"older than monitor.retention.log_days={log_days}"}))
        with engine.begin() as con:
            con.execute(TABLE.delete().where(TABLE.c.at < cutoff))
    finally:
        engine.dispose()
    return done


def expire_protected(root: Path, url: str, log_days: int, now: datetime) -> list[dict]:
    """Delete the groups recorded more than `log_days` ago: they serve only the audit of decisions
    still in the log, and special-category data is deleted, not archived."""
    cutoff = iso(pd.Timestamp(now - timedelta(days=log_days)))
    engine = engine_for(url, PROTECTED)
    try:
        with engine.begin() as con:
            gone = con.execute(PROTECTED.delete().where(PROTECTED.c.recorded_at < cutoff)).rowcount
    finally:
        engine.dispose()
    return [log_action(root, {"action": "deleted", "what": f"{gone:,} protected-attribute rows",
                              "path": "protected_attributes (the inference log's database)", "rows": gone,
                              "reason": f"recorded before {cutoff}: older than monitor.retention.log_days={log_days}"})
            ] if gone else []


def delete_expired(root: Path, folder: str, days: int, now: datetime, what: str, key: str) -> list[dict]:
    """Delete archived files of `folder` older than `days` (by when they were archived or rotated)."""
    done = []
    base = Catalog(root)["archive"] / folder
    for path in sorted(base.glob("*")) if base.exists() else []:
        modified = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        if now - modified > timedelta(days=days):
            size = path.stat().st_size
            path.unlink()
            done.append(log_action(root, {"action": "deleted", "what": f"{what} {path.name}",
                                          "path": str(Catalog(root).relative(path)), "bytes": size,
                                          "reason": f"archived {(now - modified).days} days ago, beyond "
                                                    f"monitor.retention.{key}={days}"}))
    return done


def apply_retention(root: Path, rules: dict, log_url: str, now: datetime | None = None) -> list[dict]:
    """Every retention step, in order; the actions taken (also in data/archive/actions.jsonl)."""
    now = now or datetime.now(timezone.utc)
    return (archive_models(root, rules["keep_retired"])
            + delete_expired(root, "models", rules["archived_model_days"], now, "archived model", "archived_model_days")
            + rotate_log(root, log_url, rules["log_days"], now)
            + expire_protected(root, log_url, rules["log_days"], now)
            + delete_expired(root, "inference_log", rules["archived_log_days"], now, "rotated log", "archived_log_days"))
