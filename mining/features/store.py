"""The feature table on disk (the catalog's `features`): what train, evaluate, deploy and monitor read."""

from __future__ import annotations

import pandas as pd

from mining import atomic, storage
from mining.catalog import Catalog
from mining.features.feedback import with_feedback
from mining.features.online import latest_rows, online_store
from mining.features.table import FeatureTable, build_table
from mining.params import Params
from mining.reports import read_json, write_json
from mining.secrets import redact_text
from mining.stats import baseline


def build_and_write(params: Params, charter: dict, entities: pd.DataFrame, events) -> FeatureTable:
    """Build the modelling table; write it with its definitions and the training drift baseline.
    `events`: a DuckDB relation, a polars frame, pandas, held on a Dask cluster (`ClusterEvents`), or None."""
    table = build_table(params, charter, entities, events)
    table.frame, table.definitions["feedback_rows"] = with_feedback(table.frame, table.definitions, params.root,
                                                                    params["data"]["id_column"])
    cat = Catalog(params.root)
    cat["features"].mkdir(parents=True, exist_ok=True)
    atomic.save(cat["feature_table"], lambda p: table.frame.to_parquet(p, index=False))
    write_json(cat["feature_definitions"], table.definitions)
    if url := params["compute"]["storage_url"]:
        table.published = storage.write_partitioned(table.frame, url, "features/table", ["split"])
    train = table.frame[table.frame["split"] == "train"]
    write_json(cat["drift_baseline"], baseline(train, table.definitions, bins=int(params["features"]["drift_bins"])))
    if params["data"]["id_column"]:
        rows, as_of = latest_rows(params, entities, events, table.definitions)
        url = params["features"]["online_url"]
        table.online = {"rows": online_store(params).write(rows, params["data"]["id_column"], as_of), "as_of": as_of,
                        "store": redact_text(url) if url else str(cat.relative(cat["online_features"]))}
    return table


def load(params: Params) -> tuple[pd.DataFrame, dict]:
    cat = Catalog(params.root)
    return pd.read_parquet(cat["feature_table"]), read_json(cat["feature_definitions"])


def load_baseline(params: Params) -> dict:
    """The training distributions that monitoring compares a later window with."""
    return read_json(Catalog(params.root)["drift_baseline"])


def inputs(definitions: dict) -> list[str]:
    """The model's input columns, in order."""
    return [f["name"] for f in definitions["features"]]
