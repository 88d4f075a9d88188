"""The review board's decisions: who approved or rejected which model version, in what role, when,
under what conditions, having seen which model card. Append-only.

Decisions live in a SQLite file outside the pipeline's outputs (a rerun must not wipe them) whose
triggers refuse UPDATE and DELETE, and each row carries the hash of the one before it, so an
edit made behind SQLite's back shows as a broken chain. A high-risk use case (the charter's
`high_risk`) is promoted to production only with an approval from every role in
`govern.reviewers` for that exact model version and card, and no rejection after it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

DECISIONS = ("approve", "reject")
COLUMNS = ["seq", "model_version", "reviewer", "role", "decision", "conditions", "card_sha256", "decided_at",
           "prev_hash", "hash"]


class ReviewRefused(RuntimeError):
    """A promotion the review board has not signed off, or a decision that cannot be recorded."""


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE IF NOT EXISTS decisions (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, model_version TEXT NOT NULL, reviewer TEXT NOT NULL,
            role TEXT NOT NULL, decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
            conditions TEXT, card_sha256 TEXT NOT NULL, decided_at TEXT NOT NULL, prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL);
        CREATE TRIGGER IF NOT EXISTS decisions_no_update BEFORE UPDATE ON decisions
            BEGIN SELECT RAISE(ABORT, 'review decisions are append-only'); END;
        CREATE TRIGGER IF NOT EXISTS decisions_no_delete BEFORE DELETE ON decisions
            BEGIN SELECT RAISE(ABORT, 'review decisions are append-only'); END;
    """)
    return con


def _digest(row: dict) -> str:
    return hashlib.sha256(json.dumps({k: row[k] for k in COLUMNS if k not in ("seq", "hash")},
                                     sort_keys=True).encode()).hexdigest()


def record(path: Path, *, model_version: str, reviewer: str, role: str, decision: str, conditions: str | None,
           card_sha256: str, roles: list[str], at: datetime | None = None) -> dict:
    """Append one decision; the role must be one of the board's (`govern.reviewers`)."""
    if decision not in DECISIONS:
        raise ReviewRefused(f"decision {decision!r}: expected approve or reject")
    if role not in roles:
        raise ReviewRefused(f"role {role!r} is not on the review board (params/govern.yaml reviewers: {roles})")
    with _connect(path) as con:
        last = con.execute("SELECT hash FROM decisions ORDER BY seq DESC LIMIT 1").fetchone()
        row = {"model_version": model_version, "reviewer": reviewer, "role": role, "decision": decision,
               "conditions": conditions or "", "card_sha256": card_sha256,
               "decided_at": (at or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
               "prev_hash": last[0] if last else "0" * 64}
        row["hash"] = _digest(row)
        con.execute(f"INSERT INTO decisions ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
    return row


def decisions(path: Path, model_version: str | None = None) -> pd.DataFrame:
    """Every decision (or one version's), oldest first, after checking the hash chain."""
    if not Path(path).exists():
        return pd.DataFrame(columns=COLUMNS)
    with _connect(path) as con:
        rows = pd.read_sql_query("SELECT * FROM decisions ORDER BY seq", con)
    prev = "0" * 64
    for r in rows.to_dict("records"):
        if r["prev_hash"] != prev or _digest(r) != r["hash"]:
            raise ReviewRefused(f"{path}: decision {r['seq']} was altered after it was recorded (hash chain broken)")
        prev = r["hash"]
    return rows if model_version is None else rows[rows["model_version"] == model_version].reset_index(drop=True)


def sign_off(path: Path, model_version: str, card_sha256: str, roles: list[str]) -> dict:
    """Per role, its latest decision on this version and card: approved when every role's is approve."""
    rows = decisions(path, model_version)
    rows = rows[rows["card_sha256"] == card_sha256]
    latest = rows.groupby("role").tail(1).set_index("role") if len(rows) else pd.DataFrame()
    status = {r: (latest.loc[r, "decision"] if r in latest.index else "missing") for r in roles}
    return {"model_version": model_version, "roles": status,
            "approved": bool(status) and all(v == "approve" for v in status.values())}


def require_sign_off(path: Path, model_version: str, card_sha256: str, roles: list[str], high_risk: bool) -> dict:
    """Refuse to promote a high-risk model without every role's approval of this version and card."""
    state = sign_off(path, model_version, card_sha256, roles)
    if high_risk and not state["approved"]:
        waiting = {r: s for r, s in state["roles"].items() if s != "approve"}
        raise ReviewRefused(f"model {model_version} is a high-risk use case (charter high_risk: true) and the review "
                            f"board has not approved it: {waiting}; record decisions with `mining approve "
                            f"{model_version} --by NAME --role ROLE --decision approve`")
    return state
