"""Outcomes that arrive after the prediction (the feedback table), joined back to what was scored.

Operations report an outcome per id when it is known (a churned account weeks later); the table
sits in the inference log's database (`deploy.log_url`), ids pseudonymised with the log's key so
the join needs no raw id. Only outcomes that had arrived by a window's `as_of` count for it.
"""

from __future__ import annotations

import orjson
import pandas as pd
import sqlalchemy as sa

from mining.deploy.inference_log import TABLE as LOG, append_rows, engine_for

TABLE = sa.Table(
    "feedback", sa.MetaData(),
    sa.Column("record_id", sa.String(32), nullable=False, index=True),  # pseudonymised as in the log
    sa.Column("outcome", sa.Integer, nullable=False),  # 1 = the positive class happened
    sa.Column("arrived_at", sa.String(32), nullable=False, index=True),  # ISO 8601, UTC
)


def iso(at: pd.Timestamp) -> str:
    """A time as the log writes it (UTC, milliseconds), so stored text compares in time order."""
    return pd.Timestamp(at).tz_convert("UTC").isoformat(timespec="milliseconds")


def write_feedback(url: str, rows: list[dict]) -> int:
    """Append outcome rows ({record_id, outcome, arrived_at})."""
    return append_rows(url, TABLE, rows)


def read_feedback(url: str, as_of: pd.Timestamp | None = None) -> pd.Series:
    """The latest outcome per pseudonymised id among those arrived by `as_of` (all when None)."""
    engine = engine_for(url, TABLE)
    try:
        query = sa.select(TABLE)
        if as_of is not None:
            query = query.where(TABLE.c.arrived_at <= iso(as_of))
        frame = pd.read_sql(query.order_by(TABLE.c.arrived_at), engine)
    finally:
        engine.dispose()
    return frame.drop_duplicates("record_id", keep="last").set_index("record_id")["outcome"].astype(int)


def read_scored(url: str, routes: tuple[str, ...] | None = None, since: pd.Timestamp | None = None) -> pd.DataFrame:
    """The log's rows (of `routes`) with the scored record's inputs as columns and `at` as a time."""
    engine = engine_for(url)
    try:
        query = sa.select(LOG.c.request_id, LOG.c.at, LOG.c.app, LOG.c.purpose, LOG.c.model_version, LOG.c.route,
                          LOG.c.record_id, LOG.c.features_sha256, LOG.c.features, LOG.c.score, LOG.c.decision)
        if routes:
            query = query.where(LOG.c.route.in_(routes))
        if since is not None:
            query = query.where(LOG.c.at >= iso(since))
        frame = pd.read_sql(query, engine)
    finally:
        engine.dispose()
    inputs = pd.DataFrame.from_records([orjson.loads(f) for f in frame.pop("features")], index=frame.index)
    frame["at"] = pd.to_datetime(frame["at"], utc=True, format="ISO8601")
    frame["segment"] = pd.to_numeric(frame["decision"].str.extract(r"^segment (\d+)$")[0], errors="coerce")
    return pd.concat([frame, inputs], axis=1)


def with_outcomes(scored: pd.DataFrame, outcomes: pd.Series) -> pd.DataFrame:
    """`scored` with a `target` column: the outcome of the record's id, NaN while none has arrived."""
    return scored.assign(target=scored["record_id"].map(outcomes))
