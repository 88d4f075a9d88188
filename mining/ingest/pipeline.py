"""Stage 02 as one call: source -> validated, typed, partitioned Parquet + quarantine + schema +
profile + lineage, streamed chunk by chunk so that memory stays bounded whatever the source size."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from mining import atomic, storage
from mining.backend import dask_client
from mining.catalog import Catalog, member
from mining.charter import CLASSIFICATION, task_of
from mining.data import demo
from mining.data.files import REJECTED_COLUMNS, Chunk, IngestError, arrow_from_pandas, in_parallel
from mining.data.sources import BUILTIN_DEMO, open_source, read_demo
from mining.ingest import encryption, store
from mining.ingest import schema as sch
from mining.ingest.contract import VERSION_COLUMN, Resolved, accept, extend, resolve
from mining.ingest.encryption import Keys
from mining.ingest.outliers import fences_of
from mining.ingest.partitions import as_arrow, finish_block, stream_on_cluster
from mining.ingest.privacy import pseudonymiser
from mining.ingest.profile import StreamProfile, profile_files
from mining.ingest.roles import authorize
from mining.lineage import content_hash, git_commit
from mining.params import Params
from mining.reports import write_json
from mining.secrets import redact_text

if TYPE_CHECKING:
    import duckdb


@dataclass
class IngestResult:
    out: Path
    schema: dict[str, dict]
    counts: dict[str, dict[str, int]]
    check_counts: dict[str, int]
    lineage: list[dict] = field(default_factory=list)
    contracts: dict[str, Resolved] = field(default_factory=dict)  # table -> schema version and changes
    pseudonymised: dict[str, list[str]] = field(default_factory=dict)  # table -> personal columns hashed
    quarantine_keys: Keys | None = None  # set when the quarantine is encrypted at rest
    table_keys: Keys | None = None  # set when the tables are
    published: dict[str, str] = field(default_factory=dict)  # table -> its dataset at compute.storage_url
    profiles: dict[str, StreamProfile] = field(default_factory=dict)  # table -> its profile, taken as it was written

    @property
    def totals(self) -> dict[str, int]:
        keys = ("rows_in", "rows_valid", "rows_quarantined")
        return {k: sum(c[k] for c in self.counts.values()) for k in keys}

    @property
    def contract(self) -> Resolved | None:
        """The entity table's contract when its schema was inferred (held to the stored one)."""
        c = self.contracts.get("entities")
        return c if c is not None and c.policy != "declared" else None

    @property
    def quarantine(self) -> pd.DataFrame:
        return encryption.read_parquet(self.out / member("quarantine"), self.quarantine_keys)

    def table(self, name: str) -> pd.DataFrame:
        return store.read_table(self.out / name, self.schema[name], keys=self.table_keys)


def demo_spec(params: Params, seed: int | None = None, **overrides) -> demo.DemoSpec:
    data = params["data"]
    return demo.spec_from_params(data["demo"], params["project"]["seed"] if seed is None else seed,
                                 data["events"]["cutoff"], data["events"]["horizon_days"], **overrides)


def declared_schema(params: Params) -> dict:
    """`data.schema`: the contract itself, or the path of a YAML/JSON file holding it."""
    spec = params["data"]["schema"]
    if not isinstance(spec, str):
        return spec
    path = params.path(spec)
    if not path.exists():
        raise IngestError(f"data.schema names {spec}, which does not exist (expected a YAML or JSON schema file)")
    try:
        loaded = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise IngestError(f"{spec}: not a readable YAML/JSON schema ({exc})") from None
    if not isinstance(loaded, dict) or not all(isinstance(v, dict) for v in loaded.values()):
        raise IngestError(f"{spec}: expected a mapping of column -> {{type, required, min, max, allowed, unique}}")
    return loaded


def entity_schema(params: Params, charter: dict, df: pd.DataFrame) -> dict[str, dict]:
    """The declared schema (params, or the demo's own), else one inferred from the data."""
    data = params["data"]
    if data.get("schema"):
        declared = declared_schema(params)
        declared = declared.get("entities", declared)
    elif data["source"] == BUILTIN_DEMO:
        declared = demo.SCHEMA["customers"]
    else:  # a column the first rows always fill is required: a later source without it fails ingest
        filled = [c for c in df.columns if c not in sch.ORIGIN and df[c].notna().all()]
        declared = sch.infer_schema(df, required=filled, unique=[data["id_column"]] if data.get("id_column") else [])
        if data.get("target") in declared:  # keep labels as written ("Yes"), whatever they look like
            declared[data["target"]]["type"] = "category"
    declared = {k: dict(v) for k, v in declared.items()}
    for key in filter(None, [data.get("id_column"), data.get("time_column"), data.get("split_column")]):
        declared.setdefault(key, {"type": "string"})["required"] = True
    if data.get("id_column"):
        declared[data["id_column"]]["unique"] = True
    if task_of(charter) == CLASSIFICATION:
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


def validate_frames(params: Params, charter: dict, tables: dict[str, pd.DataFrame],
                    source: str) -> tuple[dict[str, pd.DataFrame], dict]:
    """Tables already in memory (a later window to score) checked against the same schemas as this
    stage's run: the valid rows of each, and what failed (counts in and quarantined, per check)."""
    schemas = {"entities": entity_schema(params, charter, tables["entities"]), "events": events_schema(params)}
    checked = {name: sch.validate(df, schemas[name], name, source) for name, df in tables.items()}
    quality = {"rows_in": sum(len(df) for df in tables.values()),
               "rows_quarantined": sum(len(c.quarantine) for c in checked.values()),
               "checks": {k: v for c in checked.values() for k, v in c.check_counts.items()}}
    return {name: c.valid.drop(columns=sch.ORIGIN) for name, c in checked.items()}, quality


def ingest(params: Params, charter: dict, out: Path | None = None) -> IngestResult:
    """Read, validate, reconcile and write the source chunk by chunk into `out` (data/interim).

    Everything is written to a staging folder of this run's own first and published by an atomic
    folder exchange once every check and gate has passed: a failed or killed run leaves the previous
    output as it was, and a reader sees the old output or the new one, never neither."""
    out = out or Catalog(params.root)["interim"]
    staging = atomic.staging_dir(out)
    try:
        with dask_client(params["compute"]) as client:
            result = _ingest_into(staging, params, charter, client)
        _write_reports(staging, result, params)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    atomic.publish_dir(staging, out)
    result.out = out
    if url := params["compute"]["storage_url"]:  # validated tables only: the quarantine keeps raw records
        result.published = {name: storage.publish_folder(out / name, url, f"interim/{name}") for name in result.schema}
    Catalog(params.root)["schemas"].mkdir(parents=True, exist_ok=True)  # the stage's persistent output, even when empty
    for contract in result.contracts.values():
        accept(contract)
    return result


@dataclass
class _TableRun:
    contract: Resolved | None = None
    rows_in: int = 0
    rows_valid: int = 0
    rows_quarantined: int = 0
    checks: dict[str, int] = field(default_factory=dict)
    profile: StreamProfile | None = None  # None: the files are profiled once written (Dask, rewritten files)

    def count(self, reasons: dict[str, int]) -> None:
        for k, v in reasons.items():
            self.checks[k] = self.checks.get(k, 0) + v


def _ingest_into(staging: Path, params: Params, charter: dict, client=None) -> IngestResult:
    data, cfg = params["data"], params["ingest"]
    if data["source"] == BUILTIN_DEMO:
        tables, lin = read_demo(demo_spec(params))
        sources = {name: (_slices(df), BUILTIN_DEMO) for name, df in tables.items()}
        lineage = [lin]
    else:
        fmt = {"delimiter": data.get("delimiter", ","), "encoding": data.get("encoding", "utf-8")}
        chunks, lin = open_source(data["source"], params.root, query=data.get("query"), numbers=True, **fmt)
        sources, lineage = {"entities": (chunks, redact_text(data["source"]))}, [lin]
        if data["events"].get("source"):
            chunks, lin_ev = open_source(data["events"]["source"], params.root, numbers=True, **fmt)
            sources["events"] = (chunks, redact_text(data["events"]["source"]))
            lineage.append(lin_ev)
    privacy = cfg["pseudonymise"]
    allowed = set(charter.get("personal_data_allowed") or [])
    personal = [c for c in privacy["columns"] if c not in allowed]
    pseudonym_env = privacy["key_env"] if personal else None
    if pseudonym_env:
        pseudonymiser(pseudonym_env)  # a missing key stops the stage here, before any block is read
    granularity = cfg.get("partition_by", "month")
    q_keys, t_keys = encryption.keys_from(cfg, "quarantine"), encryption.keys_from(cfg, "tables")
    quarantine = store.QuarantineWriter(staging / member("quarantine"), q_keys)
    registry = Catalog(params.root)["schemas"]
    runs: dict[str, _TableRun] = {}
    try:
        chunks, source = sources["entities"]
        writer = store.TableWriter(staging / member("entities"), data.get("time_column"), granularity, t_keys)
        runs["entities"] = _stream_table(
            "entities", chunks, lambda first: _entity_contract(params, charter, first, registry, source),
            writer, quarantine, personal, pseudonym_env, client=client)
        unknown = [c for c in data["sensitive_features"] if c not in runs["entities"].contract.schema]
        if unknown:  # the bias audit could not hold them: stop here, not with a silent pass later
            raise IngestError(f"{source}: data.sensitive_features names {unknown}, not columns of the source "
                              f"(columns: {sorted(runs['entities'].contract.schema)})")
        if cfg["outliers"]["action"] == "quarantine":
            roles = {data.get(k) for k in ("id_column", "target", "time_column", "split_column")}
            _quarantine_outliers(staging / member("entities"), runs["entities"], cfg["outliers"], roles, quarantine, t_keys)
            runs["entities"].profile = None  # files rewritten: profiled as they are now
        if "events" in sources:
            chunks, source = sources["events"]
            ev = data["events"]
            entity_ids = _key_index(staging / member("entities"), data["id_column"], t_keys) if data.get("id_column") else None
            writer = store.TableWriter(staging / member("events"), ev["time_column"], granularity, t_keys)
            runs["events"] = _stream_table(
                "events", chunks, lambda first: _events_contract(params, first, registry, source),
                writer, quarantine, personal, pseudonym_env, orphans=(entity_ids, ev["id_column"]), client=client)
    finally:
        quarantine.close()

    counts, check_counts = {}, {}
    for name, run in runs.items():
        counts[name] = {"rows_in": run.rows_in, "rows_valid": run.rows_valid, "rows_quarantined": run.rows_quarantined}
        if run.rows_in != run.rows_valid + run.rows_quarantined:
            raise AssertionError(f"{name}: counts do not reconcile: {counts[name]}")
        check_counts.update({f"{name}/{k}": v for k, v in run.checks.items()})
    result = IngestResult(staging, {n: r.contract.schema for n, r in runs.items()}, counts, check_counts, lineage,
                          {n: r.contract for n, r in runs.items()},
                          {n: [c for c in personal if c in r.contract.schema] for n, r in runs.items()
                           if any(c in r.contract.schema for c in personal)}, q_keys, t_keys,
                          profiles={n: r.profile for n, r in runs.items() if r.profile is not None})
    share = result.totals["rows_quarantined"] / max(result.totals["rows_in"], 1)
    limit = float(cfg["max_quarantine_share"])
    if share > limit:
        raise IngestError(
            f"{share:.1%} of rows quarantined, above ingest.max_quarantine_share={limit:.1%} "
            f"(params/ingest.yaml); top reasons: {dict(sorted(check_counts.items(), key=lambda kv: -kv[1])[:5])}; "
            f"see {Catalog(params.root).relative(Catalog(params.root)['quarantine'])}")
    return result


def _slices(df: pd.DataFrame, rows: int = 500_000) -> Iterator[Chunk]:
    table = arrow_from_pandas(df)
    for start in range(0, max(len(df), 1), rows):
        yield Chunk(table.slice(start, rows), pd.DataFrame(columns=REJECTED_COLUMNS))


def _entity_contract(params: Params, charter: dict, first: pd.DataFrame, registry: Path, source: str) -> Resolved:
    data = params["data"]
    declared = bool(data.get("schema")) or data["source"] == BUILTIN_DEMO
    return resolve(registry, "entities", entity_schema(params, charter, first), params["ingest"]["schema_policy"],
                   source, declared=declared)


def _events_contract(params: Params, first: pd.DataFrame, registry: Path, source: str) -> Resolved:
    """The demo's events are declared; a JSON log's are inferred (roles fixed) and held to the
    stored contract under ingest.schema_policy."""
    roles = events_schema(params)
    if params["data"]["source"] == BUILTIN_DEMO:
        return resolve(registry, "events", roles, "add", source, declared=True)
    inferred = {**sch.infer_schema(first), **roles}
    return resolve(registry, "events", inferred, params["ingest"]["schema_policy"], source)


def _stream_table(name: str, chunks: Iterator[Chunk], contract_for, writer: store.TableWriter,
                  quarantine: store.QuarantineWriter, personal: list[str], pseudonym_env: str | None,
                  orphans: tuple[sch.KeyIndex | None, str] | None = None, client=None) -> _TableRun:
    """Validate and write one table block by block: here, or with a Dask `client` on the cluster's
    workers, with the same result."""
    run = _TableRun()
    try:
        blocks = _blocks(name, chunks, contract_for, quarantine, run)
        if client is not None:  # the workers write: the files are profiled once written
            stream_on_cluster(client, name, blocks, run, writer, quarantine, personal, pseudonym_env, orphans)
        else:
            run.profile = StreamProfile()
            _stream_here(name, blocks, run, writer, quarantine, personal, pseudonym_env, orphans)
    finally:
        writer.close()
        if run.profile is not None:
            run.profile.close()
    if run.contract is None:
        raise IngestError(f"{name}: the source yielded no parseable row")
    return run


def _stream_here(name: str, blocks: Iterator[tuple[pa.Table, str, str]], run: _TableRun, writer: store.TableWriter,
                 quarantine: store.QuarantineWriter, personal: list[str], pseudonym_env: str | None,
                 orphans: tuple[sch.KeyIndex | None, str] | None) -> None:
    """In this process: each block's own checks run in a thread per core, several blocks at once
    (polars and Arrow release the GIL); uniqueness across blocks, the quarantine and the counts
    follow in source order; writing runs in the writer's threads. Memory: a few blocks, plus the
    keys of unique columns (8 bytes each)."""
    pseudonym = pseudonymiser(pseudonym_env) if pseudonym_env else None
    keys: dict[str, sch.KeyIndex] = {}

    def typed(table: pa.Table, origin: str, absent: str, schema: dict, version: int):
        return sch.type_block(pl.from_arrow(table), schema, name, origin, absent), schema, version

    def as_of_block() -> Iterator[tuple]:  # each block with the contract as of it (a later one may extend it)
        for table, origin, absent in blocks:
            yield table, origin, absent, copy.deepcopy(run.contract.schema), run.contract.version

    for block, schema, version in in_parallel(as_of_block(), typed):
        for col, spec in schema.items():
            if spec.get("unique"):
                keys.setdefault(col, sch.KeyIndex())
        valid, bad, counts = finish_block(block, schema, name, keys, personal, pseudonym, orphans)
        run.count(counts)
        writer.write(as_arrow(valid), schema, version)
        run.profile.add(valid, schema)
        for q in bad:
            quarantine.write(q)
            run.rows_quarantined += len(q)
        run.rows_valid += len(valid)


def _blocks(name: str, chunks: Iterator[Chunk], contract_for, quarantine: store.QuarantineWriter,
            run: _TableRun) -> Iterator[tuple[pa.Table, str, str]]:
    """Each block's parsed rows, its origin and how to treat a required column it lacks, with
    `run.contract` as of that block: the first block's rows set it, a later block's new columns
    extend it (unless declared). Rows the reader could not parse go to quarantine here; a block whose
    fields the reader took for numbers is read again as text where the contract types one otherwise."""
    for chunk in chunks:
        run.rows_in += chunk.table.num_rows + len(chunk.rejected)
        if len(chunk.rejected):
            quarantine.write(chunk.rejected.assign(table=name))
            run.rows_quarantined += len(chunk.rejected)
            run.count({"parse": len(chunk.rejected)})
        if not chunk.table.num_rows:
            continue
        origin = str(chunk.table["_source"][0].as_py())
        if chunk.numbers and run.contract is not None and any(
                run.contract.schema.get(f, {}).get("type") not in ("int", "float") for f in chunk.numbers):
            chunk = chunk.as_text()  # a field the reader took for numbers that the contract types otherwise
        if run.contract is None:
            run.contract = contract_for(chunk.table.slice(0, sch.INFER_ROWS).to_pandas())
            yield chunk.table, origin, "raise"
            continue
        new = [c for c in chunk.table.column_names if c not in run.contract.schema and c not in sch.HIDDEN]
        if new and run.contract.policy != "declared":
            head = pl.from_arrow(chunk.table.select(new)).head(sch.INFER_ROWS).to_pandas()
            extend(run.contract, sch.infer_schema(head), name, origin)
        yield chunk.table, origin, "null"


def _key_index(folder: Path, column: str, keys: Keys | None) -> sch.KeyIndex:
    """The valid entities' ids, read back from the written files (that column only)."""
    index = sch.KeyIndex()
    index.add(pl.from_arrow(store.read_column(store.files(folder), column, keys)))
    return index


def _quarantine_outliers(folder: Path, run: _TableRun, cfg: dict, roles: set,
                         quarantine: store.QuarantineWriter, keys: Keys | None) -> None:
    """Move rows with an outlying value (robust rule of params/ingest.yaml, fences from the whole
    written table) to quarantine, file by file; their events then follow them as orphans."""
    files = store.files(folder)
    numeric = [c for c, s in run.contract.schema.items() if s["type"] in ("int", "float") and c not in roles]
    cols = cfg.get("columns") or numeric
    limits = {c: f for c in cols if (f := fences_of(store.read_column(files, c, keys), cfg["method"],
                                                        float(cfg["k"]))) is not None}
    read, write = (keys.reader_options(), keys.writer_options()) if keys else ({}, {})
    for f in files:
        table = pq.read_table(f, **read)
        df = table.to_pandas()
        reasons = pd.Series("", index=df.index, dtype=object)
        for col, (lo, hi) in limits.items():
            mask = ((df[col] < lo) | (df[col] > hi)).fillna(False).astype(bool)
            if mask.any():
                reason = f"outlier:{col} ({cfg['method']}, k={cfg['k']})"
                reasons[mask] += reason + "; "
                run.count({reason: int(mask.sum())})
        bad = (reasons != "").to_numpy()
        if not bad.any():
            continue
        rows = df[bad].drop(columns=[VERSION_COLUMN], errors="ignore")
        quarantine.write(sch.quarantine_frame(rows, reasons[bad].str.rstrip("; "), "entities"))
        pq.write_table(table.filter(pa.array(~bad)), f, **write)
        run.rows_valid -= int(bad.sum())
        run.rows_quarantined += int(bad.sum())


def _write_reports(out: Path, result: IngestResult, params: Params) -> None:
    """The schema, profile and lineage next to the data."""
    write_json(out / member("ingest_schema"), result.schema)
    cfg = params["ingest"]["outliers"]

    def profile(name: str) -> pd.DataFrame:  # as the table was written, else read back from its files
        files, unique = store.files(out / name), [c for c, spec in result.schema[name].items() if spec.get("unique")]
        streamed = result.profiles.get(name)
        frame = streamed.frame(files, cfg["method"], float(cfg["k"]), result.table_keys, unique) if streamed else None
        return (profile_files(files, cfg["method"], float(cfg["k"]), result.table_keys, unique=unique)
                if frame is None else frame).assign(table=name)

    with ThreadPoolExecutor(max_workers=1) as pool:  # output hashes read the files while the profile computes
        hashes = {name: pool.submit(content_hash, out / name) for name in result.schema}
        profiles = [profile(name) for name in result.schema]
    pd.concat(profiles).to_csv(out / member("profile"), index=False)
    contracts = {n: {"version": c.version, "diff": c.diff, "warnings": c.warnings, "declared": c.policy == "declared"}
                 for n, c in result.contracts.items()}
    cat = Catalog(params.root)
    outputs = {name: {"path": cat.relative(cat[name]), "rows": result.counts[name]["rows_valid"],
                      "files": len(store.files(out / name)), "sha256": hashes[name].result()}
               for name in result.schema}
    write_json(out / member("ingest_lineage"), {
        "sources": result.lineage, "outputs": outputs, "counts": result.counts, "schema_contracts": contracts,
        "pseudonymised": result.pseudonymised, "code": git_commit(params.root),
        "params": {"data": params["data"], "ingest": params["ingest"]}})


def read_lineage(params: Params) -> dict:
    """Sources (URI, hash, rows), outputs, schema versions, code version and params of the last run."""
    return json.loads(Catalog(params.root)["ingest_lineage"].read_text())


def read_quarantine(params: Params) -> pd.DataFrame:
    """The rows ingest refused, with their reasons: raw records, so for a role granted `quarantine`."""
    authorize(params, "quarantine")
    cat = Catalog(params.root)
    return encryption.read_parquet(cat["quarantine"], encryption.keys_from(params["ingest"], "quarantine"))


def read_profile(params: Params) -> pd.DataFrame:
    return pd.read_csv(Catalog(params.root)["profile"])


def quarantine_sample(result: IngestResult, rows: int = 20) -> pd.DataFrame:
    """Where quarantined rows come from and why, for the report: never their values (the quarantine
    keeps raw, un-pseudonymised records; reviewers see counts and reasons, the file and row to look up)."""
    sample = result.quarantine.head(rows)
    return sample[[c for c in ("table", "source", "row", "reasons") if c in sample.columns]]


def security_note(params: Params, result: IngestResult) -> str:
    """What this run did to protect personal data, for the report."""
    cfg = params["ingest"]
    hashed = {t: cols for t, cols in result.pseudonymised.items() if cols}
    parts = [("Pseudonymised with a keyed hash (key from `$" + cfg["pseudonymise"]["key_env"] + "`): "
              + "; ".join(f"{t}: {', '.join(cols)}" for t, cols in hashed.items())) if hashed
             else "No column pseudonymised (`ingest.pseudonymise.columns` is empty or the charter allows them)."]
    encrypted = [what for what, on in (("the quarantine", cfg["encryption"]["quarantine"]),
                                        ("the validated tables", cfg["encryption"]["tables"])) if on]
    parts.append(("Encrypted at rest (Parquet modular encryption, keys wrapped by `$" + cfg["encryption"]["key_env"]
                  + "`): " + " and ".join(encrypted) + ".") if encrypted
                 else "Not encrypted at rest (`ingest.encryption`); the quarantine keeps raw records.")
    parts.append("Credentials come from the environment only; source URLs are shown with passwords hidden.")
    return " ".join(parts)


def read_entities(params: Params) -> pd.DataFrame:
    """The validated entity table written by this stage (for a role allowed to read it)."""
    authorize(params, "entities")
    cat = Catalog(params.root)
    return store.read_table(cat["entities"], store.schema_of(cat["ingest_schema"], "entities"),
                            keys=encryption.keys_from(params["ingest"], "tables"))


def scan_events(params: Params, columns: list[str] | None = None) -> duckdb.DuckDBPyRelation | None:
    """`read_events` as a lazy DuckDB relation over the written files: the history features stream it."""
    return _events(params, columns, store.scan_duckdb)


def read_events(params: Params, columns: list[str] | None = None) -> pl.DataFrame | None:
    """The validated event history written by this stage (`columns` of it, else all), in polars:
    millions of rows read by Arrow straight into the columnar frame the history features are
    computed on, with no pandas copy (None when the source has none; for a role allowed to read it)."""
    return _events(params, columns, store.read_polars)


def _events(params: Params, columns: list[str] | None, read):
    """The event table's folder read by `read` (for a role allowed to read it); None without one."""
    cat = Catalog(params.root)
    if not cat["events"].exists():
        return None
    authorize(params, "events")
    return read(cat["events"], columns, keys=encryption.keys_from(params["ingest"], "tables"))
