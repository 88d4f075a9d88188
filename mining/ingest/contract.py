"""Schema contracts that outlive a run: the first accepted run's schema is stored, later runs are
checked against it, and changes (added, removed, retyped columns) follow `ingest.schema_policy`.

`add` accepts additions and removals of optional columns as a new schema version, `warn` does the
same and says so in the report and metrics, `fail` stops the stage naming every change. A column
the contract marks required (an inferred contract requires every column its first rows always
filled: the model's inputs) can never go missing, whatever the policy: the stage stops naming the
source and the column. A retyped column is never
silently accepted: under add/warn its values are checked against the stored type (rows that do not
fit go to quarantine), under fail the stage stops. A field that appears part-way through a source
(a JSON log that gained it) opens a new version for the rows from there on; every row is written
with the version it was checked against (`_schema_version`), so old and new rows share one table.
A declared schema (params, or the demo's own) is recorded too, as a new version whenever the
declaration changes, without a policy: it is the user's own decision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mining import atomic
from mining.data.files import IngestError
from mining.locks import held, lock_for

POLICIES = ("add", "warn", "fail")
VERSION_COLUMN = "_schema_version"


@dataclass
class Resolved:
    schema: dict[str, dict]  # what this run's rows are (now) checked against
    version: int
    diff: dict = field(default_factory=dict)  # added / removed / retyped, against the stored version
    warnings: list[str] = field(default_factory=list)
    policy: str = "warn"  # or "declared": the schema is the user's own, recorded without a policy
    path: Path | None = None
    source: str = ""
    pending: list = field(default_factory=list)  # versions to store once the run is accepted: (columns, diff)


def accept(resolved: Resolved) -> None:
    """Store the run's new schema version(s): called only when the run passed every check."""
    for columns, diff in resolved.pending:
        _store(resolved.path, columns, resolved.source, diff, declared=resolved.policy == "declared")
    resolved.pending = []


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


def _history(path: Path) -> list[dict]:
    return json.loads(path.read_text())["versions"] if path.exists() else []


def resolve(registry: Path, table: str, inferred: dict[str, dict], policy: str, source: str,
            declared: bool = False) -> Resolved:
    """The schema for this run; a new version (first run, or a change the policy accepts) is pending
    until `accept`."""
    if policy not in POLICIES:
        raise IngestError(f"ingest.schema_policy={policy!r}: expected one of {POLICIES}")
    path = registry / f"{table}.json"
    history = _history(path)
    base = dict(policy="declared" if declared else policy, path=path, source=source)
    if not history:
        return Resolved(inferred, 1, pending=[(inferred, {})], **base)
    stored, version = history[-1]["columns"], history[-1]["version"]
    if declared:
        if stored == inferred:
            return Resolved(stored, version, **base)
        diff = schema_diff(stored, inferred)
        return Resolved(inferred, version + 1, diff, pending=[(inferred, diff)], **base)
    diff = schema_diff(stored, inferred)
    lost = [c for c in diff["removed"] if stored[c].get("required")]
    if lost and not history[-1].get("declared"):  # a declaration (the demo's) binds only itself
        raise IngestError(f"{source}: required column(s) {lost} missing: the stored contract of {table} "
                          f"(version {version}, {path}) has always had them filled; ingest.schema_policy governs "
                          f"added and optional columns only (to drop one on purpose, set its `required: false` there)")
    if not any(diff.values()):
        return Resolved(stored, version, diff, **base)
    change = "; ".join(f"{k}: {v}" for k, v in diff.items() if v)
    if policy == "fail":
        raise IngestError(f"{source}: schema of {table} changed against version {version} "
                          f"({change}) and ingest.schema_policy is fail; see {path}")
    schema = {c: dict(s) for c, s in stored.items()}
    for c in diff["added"]:
        schema[c] = {**inferred[c], "required": False}
    for c in diff["removed"]:
        schema[c] = {**schema[c], "required": False, "retired": True}
    warnings = [f"schema of {table} changed ({change}): stored as version {version + 1}"]
    if diff["retyped"]:
        warnings.append(f"retyped columns keep their stored type; values that do not fit are quarantined: "
                        f"{sorted(diff['retyped'])}")
    return Resolved(schema, version + 1, diff, warnings if policy == "warn" or diff["retyped"] else [],
                    pending=[(schema, diff)], **base)


def extend(resolved: Resolved, inferred: dict[str, dict], table: str, source: str) -> bool:
    """Columns first seen in a later chunk (a field a JSON log gained part-way): a new schema version,
    under the same policy, for the rows from here on. True when the schema changed."""
    added = {c: s for c, s in inferred.items() if c not in resolved.schema}
    if not added:
        return False
    if resolved.policy == "fail":
        raise IngestError(f"{source}: schema of {table} changed against version {resolved.version} "
                          f"(added: {sorted(added)}) and ingest.schema_policy is fail")
    resolved.schema = {**resolved.schema, **{c: {**s, "required": False} for c, s in added.items()}}
    resolved.version += 1
    resolved.diff = {**resolved.diff, "added": sorted({*resolved.diff.get("added", []), *added})}
    resolved.warnings.append(f"schema of {table} changed in {source} (added: {sorted(added)}): its rows from "
                             f"there on are version {resolved.version}")
    resolved.pending.append((resolved.schema, {"added": sorted(added), "removed": [], "retyped": {}}))
    return True


def _store(path: Path, columns: dict, source: str, diff: dict, declared: bool) -> None:
    """Append a version: read, extend and replace the file under its lock (runs may share a registry)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with held(lock_for(path), f"a write to the schema registry {path}", wait_s=60):
        history = _history(path)
        history.append({"version": len(history) + 1, "accepted_at": datetime.now(UTC).isoformat(timespec="seconds"),
                        "source": source, "declared": declared, "diff": diff, "columns": columns})
        atomic.write_text(path, json.dumps({"table": path.stem, "versions": history}, indent=2, default=str))
