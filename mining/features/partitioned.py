"""History features on a Dask cluster (`compute.backend: dask`): the event table is read by the
workers from ingest's Parquet files, shuffled so that each id's events sit in one partition, and
`history_features` runs per partition. Each id's features depend on its own events only, so the
result equals the one-process computation exactly (amounts are summed as exact integers, so the
order a shuffle delivers an id's rows in does not matter); the client only ever holds one row per id.
"""

from __future__ import annotations

import pandas as pd

from mining.catalog import Catalog
from mining.features.history import event_columns, history_features
from mining.ingest import store
from mining.ingest.pipeline import scan_events
from mining.params import Params


class ClusterEvents:
    """The validated event table, held on the cluster (read lazily from ingest's files)."""

    def __init__(self, frame, id_col: str, partitions: int) -> None:
        self.frame, self.id_col, self.partitions = frame, id_col, partitions
        self._categories: dict[str, list[str]] = {}  # a pass over the events each: the table and history both ask

    @classmethod
    def of(cls, params: Params, client) -> ClusterEvents | None:
        """The ingest stage's event table on the cluster of `client` (None when there is none)."""
        import dask.dataframe as dd

        folder = Catalog(params.root)["events"]
        if not folder.exists():
            return None
        if params["ingest"]["encryption"]["tables"]:
            raise ValueError("compute.backend: dask reads the event table's Parquet files on the workers, but "
                             "ingest.encryption.tables is on (the workers cannot decrypt them); use backend: local")
        ev = params["data"]["events"]
        files = [str(f) for f in store.files(folder)]
        workers = len(client.scheduler_info(n_workers=-1)["workers"])
        return cls(dd.read_parquet(files, columns=event_columns(ev)), ev["id_column"],
                   max(2 * workers, len(files) // 8, 1))

    def __len__(self) -> int:
        return int(self.frame.shape[0].compute())

    def latest(self, column: str) -> pd.Timestamp:
        return pd.Timestamp(self.frame[column].max().compute())

    def categories(self, column: str) -> list[str]:
        if column not in self._categories:
            self._categories[column] = sorted(self.frame[column].dropna().astype(str).unique().compute())
        return self._categories[column]

    def history(self, ids: pd.Series, *, id_col: str, time_col: str, cutoff: pd.Timestamp, windows_days: list[int],
                amount_col: str | None = None, category_col: str | None = None) -> pd.DataFrame:
        """`history_features(events, ids, ...)`, computed per partition of ids on the workers."""
        cutoff = pd.Timestamp(cutoff)
        kw = dict(id_col=id_col, time_col=time_col, cutoff=cutoff, windows_days=windows_days,
                  amount_col=amount_col, category_col=category_col)
        shares = [f"share_{c}" for c in self.categories(category_col)] if category_col else []
        past = self.frame[self.frame[time_col] < cutoff].shuffle(id_col, npartitions=self.partitions)
        meta = _part(past._meta, shares, **kw)
        parts = past.map_partitions(_part, shares, meta=meta, **kw).compute()
        out = parts.set_index(id_col).reindex(pd.Index(ids.astype(str), name=id_col))
        counts = [c for c in out.columns if c.startswith(("n_events_", "amount_sum_"))]
        out[counts] = out[counts].fillna(0.0)  # an id without history: no events, no amount
        return out.reset_index(drop=True)


def events_for(params: Params, client):
    """The event history for the features stage: a DuckDB relation over the columns the history reads on
    the local backend, held on the cluster with a Dask `client`; None when there is none."""
    if client is None:
        return scan_events(params, event_columns(params["data"]["events"]))
    return ClusterEvents.of(params, client)


def _part(events: pd.DataFrame, shares: list[str], *, id_col: str, **kw) -> pd.DataFrame:
    """One partition's ids (each with a past event) and their features; a category this partition
    never saw is a share of 0 for its ids, as it is in the one-process table."""
    ids = pd.Series(events[id_col].unique())
    out = history_features(events, ids, id_col=id_col, **kw)
    out = out[[c for c in out.columns if not c.startswith("share_")]].assign(
        **{c: (out[c] if c in out else 0.0) for c in shares})
    out.insert(0, id_col, ids.astype(str).to_numpy())
    return out.astype({c: float for c in out.columns if c != id_col})
