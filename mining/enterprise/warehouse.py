"""The charter's output in a warehouse as a star schema, for campaign, CRM and BI tools (any SQLAlchemy URL).

Facts: `fact_scores` (one row per id, model version and scoring date) and `fact_kpis` (each
headline figure and gate per model version and date). Dimensions: `dim_model_version`, `dim_date`,
`dim_segment` (a segmenter's segments; a classifier's decision at its threshold). Every run appends;
a rerun with the same model version on the same date replaces its own rows, in one transaction, so
nothing is duplicated and nothing half-written is ever read. `load_log` records each load; the
charter's consumer reads the view named in params (`scores_table` / `segments_table`): the rows of
the latest load, in the charter's output columns.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from mining.charter import SEGMENTATION
from mining.secrets import expand_env, redact_text

META = sa.MetaData()
DIM_MODEL_VERSION = sa.Table(
    "dim_model_version", META,
    sa.Column("model_version", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("task", sa.String(32), nullable=False),
    sa.Column("model_type", sa.String(200)),
    sa.Column("threshold", sa.Float),
    sa.Column("git_commit", sa.String(64)),
    sa.Column("data_sha256", sa.String(64)),
    sa.Column("first_loaded_at", sa.String(32), nullable=False),
)
DIM_DATE = sa.Table(
    "dim_date", META,
    sa.Column("date_key", sa.Integer, primary_key=True),  # YYYYMMDD
    sa.Column("date", sa.String(10), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("quarter", sa.Integer, nullable=False),
    sa.Column("month", sa.Integer, nullable=False),
    sa.Column("iso_week", sa.Integer, nullable=False),
    sa.Column("weekday", sa.String(9), nullable=False),
)
DIM_SEGMENT = sa.Table(
    "dim_segment", META,
    sa.Column("segment_key", sa.String(100), primary_key=True),  # model version:segment
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("segment", sa.String(64), nullable=False),
    sa.Column("description", sa.String(300)),
)
FACT_SCORES = sa.Table(
    "fact_scores", META,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("model_version", sa.String(64), primary_key=True),
    sa.Column("date_key", sa.Integer, primary_key=True),
    sa.Column("segment_key", sa.String(100), nullable=False),
    sa.Column("score", sa.Float),  # null for a segmenter
    sa.Column("flagged", sa.Boolean),
    sa.Column("segment", sa.Integer),  # null for a classifier
    sa.Column("segment_name", sa.String(200)),
    sa.Column("scored_at", sa.String(32), nullable=False),
)
FACT_KPIS = sa.Table(
    "fact_kpis", META,
    sa.Column("model_version", sa.String(64), primary_key=True),
    sa.Column("date_key", sa.Integer, primary_key=True),
    sa.Column("stage", sa.String(32), primary_key=True),
    sa.Column("kpi", sa.String(300), primary_key=True),
    sa.Column("value", sa.Float),
    sa.Column("threshold", sa.Float),
    sa.Column("status", sa.String(16)),
)
LOAD_LOG = sa.Table(
    "load_log", META,
    sa.Column("load_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("date_key", sa.Integer, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("loaded_at", sa.String(32), nullable=False),
)
CURRENT = {"classification": ["id", "score", "flagged", "model_version", "scored_at"],
           SEGMENTATION: ["id", "segment", "segment_name", "model_version", "scored_at"]}


def warehouse_url(configured: str, root: Path) -> str:
    """$MINING_WAREHOUSE_URL, else params; a relative SQLite path is made relative to the project."""
    url = os.environ.get("MINING_WAREHOUSE_URL") or configured
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        path = root / url[len(prefix):]
        path.parent.mkdir(parents=True, exist_ok=True)
        url = prefix + str(path)
    return url


def date_row(day: datetime) -> dict:
    iso = day.isocalendar()
    return {"date_key": int(day.strftime("%Y%m%d")), "date": day.strftime("%Y-%m-%d"), "year": day.year,
            "quarter": (day.month - 1) // 3 + 1, "month": day.month, "iso_week": iso.week, "weekday": day.strftime("%A")}


def segment_rows(output: pd.DataFrame, version: str, task: str, threshold: float | None) -> list[dict]:
    """The dimension's rows for this version: each segment, or a classifier's two decisions."""
    if task == SEGMENTATION:
        named = output.drop_duplicates("segment").sort_values("segment")
        return [{"segment_key": f"{version}:{s}", "model_version": version, "segment": str(s),
                 "description": None if pd.isna(n) else str(n)} for s, n in zip(named["segment"], named["segment_name"])]
    return [{"segment_key": f"{version}:{d}", "model_version": version, "segment": d,
             "description": f"score {'>=' if d == 'flagged' else '<'} {threshold:.4f} (the operating threshold)"}
            for d in ("flagged", "not flagged")]


def fact_rows(output: pd.DataFrame, version: str, task: str, date_key: int) -> list[dict]:
    out = pd.DataFrame({"id": output["id"].astype(str), "model_version": version, "date_key": date_key,
                        "scored_at": pd.to_datetime(output["scored_at"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")})
    if task == SEGMENTATION:
        out["segment"] = output["segment"].astype(int).to_numpy()
        out["segment_name"] = output["segment_name"].to_numpy()
        out["segment_key"] = version + ":" + out["segment"].astype(str)
    else:
        out["score"] = output["score"].astype(float).to_numpy()
        out["flagged"] = output["flagged"].astype(bool).to_numpy()
        out["segment_key"] = version + ":" + out["flagged"].map({True: "flagged", False: "not flagged"})
    return out.astype(object).where(out.notna(), None).to_dict("records")


def kpi_rows(kpis: pd.DataFrame, version: str, date_key: int) -> list[dict]:
    rows = kpis.assign(model_version=version, date_key=date_key).drop_duplicates(["stage", "kpi"], keep="last")
    rows = rows[["model_version", "date_key", "stage", "kpi", "value", "threshold", "status"]]
    return rows.astype(object).where(rows.notna(), None).to_dict("records")


def publish(url: str, output: pd.DataFrame, kpis: pd.DataFrame, version_row: dict, task: str, view: str,
            when: datetime | None = None) -> dict:
    """Load one run into the star schema (one transaction) and point the `view` at it; the rows of
    this version and date read back, per table."""
    when = when or datetime.now(timezone.utc)
    day = date_row(when)
    version = version_row["model_version"]
    engine = sa.create_engine(expand_env(url))
    try:
        META.create_all(engine)
        with engine.begin() as con:
            con.execute(DIM_MODEL_VERSION.delete().where(DIM_MODEL_VERSION.c.model_version == version))
            con.execute(DIM_MODEL_VERSION.insert(), [{**version_row, "first_loaded_at": first_loaded(con, version, when)}])
            if not con.execute(sa.select(DIM_DATE.c.date_key).where(DIM_DATE.c.date_key == day["date_key"])).first():
                con.execute(DIM_DATE.insert(), [day])
            con.execute(DIM_SEGMENT.delete().where(DIM_SEGMENT.c.model_version == version))
            con.execute(DIM_SEGMENT.insert(), segment_rows(output, version, task, version_row.get("threshold")))
            for fact in (FACT_SCORES, FACT_KPIS):
                con.execute(fact.delete().where((fact.c.model_version == version) & (fact.c.date_key == day["date_key"])))
            con.execute(FACT_SCORES.insert(), fact_rows(output, version, task, day["date_key"]))
            con.execute(FACT_KPIS.insert(), kpi_rows(kpis, version, day["date_key"]))
            con.execute(LOAD_LOG.insert(), [{"model_version": version, "date_key": day["date_key"], "rows": len(output),
                                             "loaded_at": when.isoformat(timespec="seconds")}])
            current_view(con, view, task)
        with engine.connect() as con:
            return {t.name: int(con.execute(sa.select(sa.func.count()).select_from(t).where(
                        (t.c.model_version == version) & (t.c.date_key == day["date_key"]))).scalar_one())
                    for t in (FACT_SCORES, FACT_KPIS)} | {
                    view: int(con.execute(sa.select(sa.func.count()).select_from(sa.table(view))).scalar_one())}
    finally:
        engine.dispose()


def first_loaded(con: sa.Connection, version: str, when: datetime) -> str:
    """When this version was first loaded (kept across reruns), else now."""
    earliest = con.execute(sa.select(sa.func.min(LOAD_LOG.c.loaded_at)).where(LOAD_LOG.c.model_version == version)).scalar()
    return earliest or when.isoformat(timespec="seconds")


def current_view(con: sa.Connection, view: str, task: str) -> None:
    """(Re)create `view`: the latest load's rows in the charter's output columns. A table of that
    name (this module's earlier layout: the output replaced whole each run) is dropped first."""
    prep = con.dialect.identifier_preparer
    name = prep.quote(view)
    if view in sa.inspect(con).get_table_names():
        con.execute(sa.text(f"DROP TABLE {name}"))
    con.execute(sa.text(f"DROP VIEW IF EXISTS {name}"))
    cols = ", ".join(f"f.{prep.quote(c)}" for c in CURRENT[task])
    con.execute(sa.text(
        f"CREATE VIEW {name} AS SELECT {cols} FROM fact_scores f JOIN "
        "(SELECT model_version, date_key FROM load_log ORDER BY load_id DESC LIMIT 1) l "
        "ON f.model_version = l.model_version AND f.date_key = l.date_key"))


def redacted(url: str) -> str:
    """The URL as reports and logs show it (mining.secrets)."""
    return redact_text(url)
