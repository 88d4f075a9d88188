"""Stage 02 as one call: source -> validated, typed Parquet + quarantine + schema + profile + lineage."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from mining.data import demo
from mining.ingest import schema as sch
from mining.ingest.outliers import numeric_columns, outlier_mask
from mining.ingest.privacy import pseudonymise
from mining.ingest.profile import profile
from mining.ingest.contract import REGISTRY_DIR, Resolved, accept, resolve
from mining.ingest.files import REJECTED_COLUMNS, IngestError
from mining.ingest.remote import redact
from mining.ingest.sources import BUILTIN_DEMO, read_demo, read_source
from mining.lineage import git_commit
from mining.project import Params

OUT_DIR = "data/interim"


@dataclass
class IngestResult:
    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    schema: dict[str, dict]
    counts: dict[str, dict[str, int]]
    check_counts: dict[str, int]
    lineage: list[dict] = field(default_factory=list)
    contract: Resolved | None = None  # schema version and changes, for inferred schemas
    pseudonymised: dict[str, list[str]] = field(default_factory=dict)  # table -> personal columns hashed

    @property
    def totals(self) -> dict[str, int]:
        keys = ("rows_in", "rows_valid", "rows_quarantined")
        return {k: sum(c[k] for c in self.counts.values()) for k in keys}


def demo_spec(params: Params, seed: int | None = None, **overrides) -> demo.DemoSpec:
    data = params["data"]
    return demo.spec_from_params(data["demo"], params["project"]["seed"] if seed is None else seed,
                                 data["events"]["cutoff"], data["events"]["horizon_days"], **overrides)


def entity_schema(params: Params, charter: dict, df: pd.DataFrame) -> dict[str, dict]:
    """The declared schema (params, or the demo's own), else one inferred from the data."""
    data = params["data"]
    if data.get("schema"):
        declared = data["schema"]
        declared = declared.get("entities", declared)
    elif data["source"] == BUILTIN_DEMO:
        declared = demo.SCHEMA["customers"]
    else:
        declared = sch.infer_schema(df, unique=[data["id_column"]] if data.get("id_column") else [])
        if data.get("target") in declared:  # keep labels as written ("Yes"), whatever they look like
            declared[data["target"]]["type"] = "category"
    declared = {k: dict(v) for k, v in declared.items()}
    for key in filter(None, [data.get("id_column"), data.get("time_column"), data.get("split_column")]):
        declared.setdefault(key, {"type": "string"})["required"] = True
    if data.get("id_column"):
        declared[data["id_column"]]["unique"] = True
    if charter["task"]["type"] == "classification":
        declared.setdefault(data["target"], {"type": "string"})["required"] = True
    if data.get("split_column"):
        declared[data["split_column"]].update(type="category", allowed=["train", "test"])
    return declared


def events_schema(params: Params) -> dict[str, dict]:
    ev = params["data"]["events"]
    base = dict(demo.SCHEMA["events"]) if params["data"]["source"] == BUILTIN_DEMO else {}
    base[ev["id_column"]] = {**base.get(ev["id_column"], {"type": "string"}), "required": True}
    base[ev["time_column"]] = {"type": "datetime", "required": True}
    if ev.get("amount_column"):
        base.setdefault(ev["amount_column"], {"type": "float"})
    return base


def ingest(params: Params, charter: dict) -> IngestResult:
    """Read, validate and reconcile; raises IngestError on a whole-source problem or gate breach."""
    data = params["data"]
    rejected: dict[str, pd.DataFrame] = {}  # rows that could not even be parsed
    if data["source"] == BUILTIN_DEMO:
        raw, lineage = read_demo(demo_spec(params))
        lineage = [lineage]
    else:
        fmt = {"delimiter": data.get("delimiter", ","), "encoding": data.get("encoding", "utf-8")}
        entities, lin = read_source(data["source"], params.root, query=data.get("query"), **fmt)
        raw, rejected["entities"], lineage = {"entities": entities.frame}, entities.rejected, [lin]
        if data["events"].get("source"):
            events, lin_ev = read_source(data["events"]["source"], params.root, **fmt)
            raw["events"], rejected["events"], lineage = events.frame, events.rejected, lineage + [lin_ev]

    schemas = {"entities": entity_schema(params, charter, raw["entities"])}
    contract = None
    if not data.get("schema") and data["source"] != BUILTIN_DEMO:  # inferred: held to the stored contract
        contract = resolve(params.path(REGISTRY_DIR), "entities", schemas["entities"],
                           params["ingest"]["schema_policy"], redact(data["source"]))
        schemas["entities"] = contract.schema
    checked = {"entities": sch.validate(raw["entities"], schemas["entities"], "entities", data["source"])}
    if params["ingest"]["outliers"]["action"] == "quarantine":
        roles = {data.get(k) for k in ("id_column", "target", "time_column", "split_column")}
        checked["entities"] = _quarantine_outliers(checked["entities"], params["ingest"]["outliers"], roles)
    if "events" in raw:
        schemas["events"] = events_schema(params)
        ev = checked["events"] = sch.validate(raw["events"], schemas["events"], "events",
                                              data["events"].get("source") or BUILTIN_DEMO)
        if data.get("id_column"):
            checked["events"] = _drop_orphans(ev, checked["entities"].valid, data["id_column"],
                                              data["events"]["id_column"], raw["events"])

    for name, bad in rejected.items():
        if len(bad):
            res = checked[name]
            parsed = bad.assign(table=name)[["table", *REJECTED_COLUMNS]]
            checked[name] = sch.Validated(res.valid, pd.concat([parsed, res.quarantine], ignore_index=True),
                                          {"parse": len(bad), **res.check_counts})
    counts, check_counts = {}, {}
    for name, res in checked.items():
        counts[name] = {"rows_in": len(raw[name]) + len(rejected.get(name, ())), "rows_valid": len(res.valid),
                        "rows_quarantined": len(res.quarantine)}
        if counts[name]["rows_in"] != counts[name]["rows_valid"] + counts[name]["rows_quarantined"]:
            raise AssertionError(f"{name}: counts do not reconcile: {counts[name]}")
        check_counts.update({f"{name}/{k}": v for k, v in res.check_counts.items()})
    quarantine = pd.concat([r.quarantine for r in checked.values()], ignore_index=True)
    result = IngestResult({k: r.valid.drop(columns=sch.ORIGIN) for k, r in checked.items()},
                          quarantine, schemas, counts, check_counts, lineage, contract)
    share = result.totals["rows_quarantined"] / max(result.totals["rows_in"], 1)
    limit = float(params["ingest"]["max_quarantine_share"])
    if share > limit:
        raise IngestError(
            f"{share:.1%} of rows quarantined, above ingest.max_quarantine_share={limit:.1%} "
            f"(params/ingest.yaml); top reasons: {dict(sorted(check_counts.items(), key=lambda kv: -kv[1])[:5])}; "
            f"see {OUT_DIR}/quarantine.parquet")
    privacy = params["ingest"]["pseudonymise"]
    allowed = set(charter.get("personal_data_allowed") or [])
    result.pseudonymised = pseudonymise(result.tables, [c for c in privacy["columns"] if c not in allowed],
                                        privacy["key_env"])
    if contract:
        accept(contract)
    return result


def _quarantine_outliers(res: sch.Validated, cfg: dict, roles: set) -> sch.Validated:
    """Move rows with an outlying value (robust rule of params/ingest.yaml) to quarantine; their
    events follow them there as orphans."""
    cols = cfg.get("columns") or [c for c in numeric_columns(res.valid) if c not in roles]
    reasons = pd.Series("", index=res.valid.index, dtype=object)
    counts = dict(res.check_counts)
    for col in cols:
        mask = outlier_mask(res.valid[col], cfg["method"], float(cfg["k"]))
        if mask.any():
            reason = f"outlier:{col} ({cfg['method']}, k={cfg['k']})"
            reasons[mask] += reason + "; "
            counts[reason] = int(mask.sum())
    bad = reasons != ""
    if not bad.any():
        return res
    q = sch.quarantine_frame(res.valid[bad], reasons[bad].str.rstrip("; "), "entities")
    return sch.Validated(res.valid[~bad].reset_index(drop=True), pd.concat([res.quarantine, q], ignore_index=True),
                         counts)


def _drop_orphans(ev: sch.Validated, entities: pd.DataFrame, id_col: str, ev_id: str,
                  raw: pd.DataFrame) -> sch.Validated:
    """Events of no known (valid) entity go to quarantine too: nothing is silently dropped."""
    orphan = ~ev.valid[ev_id].astype(str).isin(entities[id_col].astype(str))
    if not orphan.any():
        return ev
    rows = ev.valid[orphan]
    q = sch.quarantine_frame(rows, pd.Series(f"orphan:{ev_id} (no valid entity)", index=rows.index), "events")
    counts = {**ev.check_counts, f"orphan:{ev_id}": int(orphan.sum())}
    return sch.Validated(ev.valid[~orphan].reset_index(drop=True),
                         pd.concat([ev.quarantine, q], ignore_index=True), counts)


def write_outputs(result: IngestResult, params: Params) -> Path:
    """entities.parquet, events/ (hive-partitioned by month), quarantine, schema, profile, lineage."""
    out = params.path(OUT_DIR)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    params.path(REGISTRY_DIR).mkdir(parents=True, exist_ok=True)  # the stage's persistent output, even when empty
    result.tables["entities"].to_parquet(out / "entities.parquet", index=False)
    if "events" in result.tables:
        ev = result.tables["events"]
        tcol = params["data"]["events"]["time_column"]
        table = pa.Table.from_pandas(ev.assign(event_month=ev[tcol].dt.strftime("%Y-%m")), preserve_index=False)
        ds.write_dataset(table, out / "events", format="parquet", partitioning=["event_month"],
                         partitioning_flavor="hive", existing_data_behavior="overwrite_or_ignore")
    result.quarantine.to_parquet(out / "quarantine.parquet", index=False)
    (out / "schema.json").write_text(json.dumps(result.schema, indent=2, default=str))
    contract = result.contract and {"version": result.contract.version, "diff": result.contract.diff,
                                    "warnings": result.contract.warnings}
    (out / "lineage.json").write_text(json.dumps({"sources": result.lineage, "counts": result.counts,
                                                  "schema_contract": contract, "pseudonymised": result.pseudonymised,
                                                  "code": git_commit(params.root)},
                                                 indent=2, default=str))
    cfg = params["ingest"]["outliers"]
    profiles = {name: profile(t, cfg["method"], float(cfg["k"])) for name, t in result.tables.items()}
    pd.concat([p.assign(table=n) for n, p in profiles.items()]).to_csv(out / "profile.csv", index=False)
    return out


def read_events(params: Params) -> pd.DataFrame | None:
    """The validated event history written by this stage (None when the source has none)."""
    path = params.path(OUT_DIR) / "events"
    if not path.exists():
        return None
    return ds.dataset(path, format="parquet", partitioning="hive").to_table().to_pandas().drop(
        columns="event_month")
