"""Schema contracts that outlive a run: the first accepted run's schema is stored, later runs are
checked against it, and changes (added, removed, retyped columns) follow `ingest.schema_policy`.

`add` accepts additions and removals as a new schema version, `warn` does the same and says so in
the report and metrics, `fail` stops the stage naming every change. A retyped column is never
silently accepted: under add/warn its values are checked against the stored type (rows that do not
fit go to quarantine), under fail the stage stops.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from mining.ingest.files import IngestError

REGISTRY_DIR = "data/schemas"  # a persistent output of the ingest stage
POLICIES = ("add", "warn", "fail")


@dataclass
class Resolved:
    schema: dict[str, dict]  # what this run's rows are checked against
    version: int
    diff: dict = field(default_factory=dict)  # added / removed / retyped, against the stored version
    warnings: list[str] = field(default_factory=list)
    pending: tuple | None = None  # (path, history, columns, source, diff) to store once the run is accepted


def accept(resolved: Resolved) -> None:
    """Store the run's schema version: called only when the run passed every check."""
    if resolved.pending:
        _store(*resolved.pending)
        resolved.pending = None


def schema_diff(stored: dict[str, dict], current: dict[str, dict]) -> dict:
    return {
        "added": sorted(set(current) - set(stored)),
        "removed": sorted(c for c in set(stored) - set(current) if not stored[c].get("retired")),
        "retyped": {c: [stored[c]["type"], current[c]["type"]] for c in sorted(set(stored) & set(current))
                    if stored[c]["type"] != current[c]["type"] and not _widening(stored[c]["type"], current[c]["type"])},
    }


def _widening(old: str, new: str) -> bool:
    """Types that hold every old value: int -> float, category <-> string."""
    return (old, new) in {("int", "float"), ("category", "string"), ("string", "category")}


def resolve(registry: Path, table: str, inferred: dict[str, dict], policy: str, source: str) -> Resolved:
    """The schema for this run; a new version (first run, or a change the policy accepts) is pending
    until `accept`."""
    if policy not in POLICIES:
        raise IngestError(f"ingest.schema_policy={policy!r}: expected one of {POLICIES}")
    path = registry / f"{table}.json"
    history = json.loads(path.read_text())["versions"] if path.exists() else []
    if not history:
        return Resolved(inferred, 1, pending=(path, history, inferred, source, {}))
    stored = history[-1]["columns"]
    diff = schema_diff(stored, inferred)
    if not any(diff.values()):
        return Resolved(stored, history[-1]["version"], diff)
    change = "; ".join(f"{k}: {v}" for k, v in diff.items() if v)
    if policy == "fail":
        raise IngestError(f"{source}: schema of {table} changed against version {history[-1]['version']} "
                          f"({change}) and ingest.schema_policy is fail; see {path}")
    schema = {c: dict(s) for c, s in stored.items()}
    for c in diff["added"]:
        schema[c] = {**inferred[c], "required": False}
    for c in diff["removed"]:
        schema[c] = {**schema[c], "required": False, "retired": True}
    warnings = [f"schema of {table} changed ({change}): stored as version {history[-1]['version'] + 1}"]
    if diff["retyped"]:
        warnings.append(f"retyped columns keep their stored type; values that do not fit are quarantined: "
                        f"{sorted(diff['retyped'])}")
    return Resolved(schema, history[-1]["version"] + 1, diff, warnings if policy == "warn" or diff["retyped"] else [],
                    pending=(path, history, schema, source, diff))


def _store(path: Path, history: list, columns: dict, source: str, diff: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    history.append({"version": len(history) + 1, "accepted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "source": source, "diff": diff, "columns": columns})
    path.write_text(json.dumps({"table": path.stem, "versions": history}, indent=2, default=str))
