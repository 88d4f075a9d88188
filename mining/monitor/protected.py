"""Protected attributes of the people decided about, kept apart from what the model sees.

The API never receives sensitive features (they are not model inputs), yet a bias audit of live
decisions needs each person's groups. Whoever holds them (the data steward; the stage's replay
for the traffic it sends) records them here: one row per pseudonymised id, feature and value, in a
table of its own in the inference log's database, keyed by the log's pseudonym so that no raw id
is stored. Only the governance audit joins it to the decisions.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import sqlalchemy as sa

from mining.deploy.inference_log import append_rows, engine_for

TABLE = sa.Table(
    "protected_attributes", sa.MetaData(),
    sa.Column("record_id", sa.String(32), nullable=False, index=True),  # pseudonymised as in the log
    sa.Column("feature", sa.String(64), nullable=False),
    sa.Column("value", sa.String(128)),  # null: the group is not known
    sa.Column("recorded_at", sa.String(32), nullable=False),  # ISO 8601, UTC
)


def long_rows(record_ids: list[str], attributes: pd.DataFrame, at: str | None = None) -> list[dict]:
    """Rows of the table for `attributes` (one column per feature, aligned with `record_ids`)."""
    if len(record_ids) != len(attributes):
        raise ValueError(f"{len(record_ids)} ids for {len(attributes)} rows of protected attributes")
    at = at or datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    return [{"record_id": rid, "feature": col, "value": None if pd.isna(v) else str(v), "recorded_at": at}
            for col in attributes.columns for rid, v in zip(record_ids, attributes[col])]


def write_protected(url: str, record_ids: list[str], attributes: pd.DataFrame, at: str | None = None) -> int:
    """Record each id's groups (`attributes`: one column per sensitive feature); rows written."""
    return append_rows(url, TABLE, long_rows(record_ids, attributes, at))


def read_protected(url: str) -> pd.DataFrame:
    """One row per pseudonymised id (the index), one column per feature: the latest value recorded."""
    engine = engine_for(url, TABLE)
    try:
        frame = pd.read_sql(sa.select(TABLE).order_by(TABLE.c.recorded_at), engine)
    finally:
        engine.dispose()
    if frame.empty:
        return pd.DataFrame(index=pd.Index([], name="record_id"))
    latest = frame.drop_duplicates(["record_id", "feature"], keep="last")
    wide = latest.pivot(index="record_id", columns="feature", values="value")
    wide.columns.name = None
    return wide
