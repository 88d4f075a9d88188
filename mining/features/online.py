"""The online feature store: the latest feature row per id, for the API to look up by id.

The offline table stays as of the charter's cut-off (training and evaluation are point-in-time
correct); the online row of an id is the same features computed as of the newest event seen, so a
CRM can send a customer id instead of thirty features. It is the same contract Feast's online
store offers (entity key -> latest feature values), built on stores already here: a SQLite table
by default (replaced in one transaction, so readers see the old rows or the new, never half), or
Redis by `features.online_url` (one key per id).
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd
import sqlalchemy as sa

from mining.catalog import Catalog
from mining.features.history import history_of, latest_of, rows_of
from mining.params import Params
from mining.secrets import expand_env

TABLE = "online_features"
REDIS_PREFIX = "mining:online:"


def latest_rows(params: Params, entities: pd.DataFrame, events,
                definitions: dict) -> tuple[pd.DataFrame, str | None]:
    """Each entity's model inputs as of just after its newest event (the table's own spelling: numbers
    as floats), and that instant; None when the source has no event history. `events`: a polars
    scan or frame, pandas, or held on a Dask cluster (`ClusterEvents`)."""
    data = params["data"]
    id_col = data["id_column"]
    frame = entities.reset_index(drop=True)
    as_of = None
    ev = data["events"]
    if events is not None and rows_of(events):
        as_of = latest_of(events, ev["time_column"]) + pd.Timedelta(microseconds=1)
        hist = history_of(events, frame[id_col], id_col=ev["id_column"], time_col=ev["time_column"],
                          cutoff=as_of, windows_days=params["features"]["windows_days"],
                          amount_col=ev.get("amount_column"), category_col=ev.get("category_column"))
        frame = pd.concat([frame, hist], axis=1)
    names = [f["name"] for f in definitions["features"]]
    out = pd.DataFrame({id_col: frame[id_col].astype(str)})
    for f in definitions["features"]:
        col = frame[f["name"]] if f["name"] in frame else pd.Series(float("nan"), index=frame.index)
        out[f["name"]] = col.astype(float) if f["kind"] == "numeric" else col
    return out[[id_col, *names]], None if as_of is None else as_of.isoformat()


class OnlineStore:
    """`write(rows, id_col, as_of)` replaces every row; `lookup(ids)` -> {id: record}."""

    def __init__(self, url: str):
        self.url = url
        if url.startswith("redis"):
            import redis

            self.redis = redis.Redis.from_url(expand_env(url))
            self.engine = None
        else:
            if url.startswith("sqlite:///"):
                Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
            self.redis = None
            self.engine = sa.create_engine(expand_env(url))

    def write(self, rows: pd.DataFrame, id_col: str, as_of: str | None) -> int:
        records = rows.drop(columns=[id_col]).astype(object).where(rows.notna(), None).to_dict("records")
        payload = [(str(i), orjson.dumps(r)) for i, r in zip(rows[id_col], records)]
        if self.redis is not None:
            pipe = self.redis.pipeline(transaction=True)
            for i, blob in payload:
                pipe.set(REDIS_PREFIX + i, blob)
            pipe.execute()
            return len(payload)
        with self.engine.begin() as con:
            con.execute(sa.text(f"DROP TABLE IF EXISTS {TABLE}_next"))
            con.execute(sa.text(f"CREATE TABLE {TABLE}_next (id VARCHAR PRIMARY KEY, as_of VARCHAR, features TEXT)"))
            con.execute(sa.text(f"INSERT INTO {TABLE}_next VALUES (:id, :as_of, :features)"),
                        [{"id": i, "as_of": as_of, "features": blob.decode()} for i, blob in payload])
            con.execute(sa.text(f"DROP TABLE IF EXISTS {TABLE}"))
            con.execute(sa.text(f"ALTER TABLE {TABLE}_next RENAME TO {TABLE}"))
        return len(payload)

    def lookup(self, ids: list[str]) -> dict[str, dict]:
        if self.redis is not None:
            blobs = self.redis.mget([REDIS_PREFIX + i for i in ids])
            return {i: orjson.loads(b) for i, b in zip(ids, blobs) if b is not None}
        with self.engine.connect() as con:
            rows = con.execute(sa.text(f"SELECT id, features FROM {TABLE} WHERE id IN :ids")
                               .bindparams(sa.bindparam("ids", expanding=True)), {"ids": list(ids)})
            return {r.id: orjson.loads(r.features) for r in rows}


def online_url(params: Params) -> str:
    return params["features"]["online_url"] or f"sqlite:///{Catalog(params.root)['online_features']}"


def online_store(params: Params) -> OnlineStore:
    return OnlineStore(online_url(params))
