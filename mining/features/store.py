"""The feature table on disk (data/features): what train, evaluate, deploy and monitor read."""

from __future__ import annotations

import pandas as pd

from mining.features.table import FeatureTable, build_table
from mining.monitor.drift import baseline
from mining.project import Params
from mining.reports import read_json, write_json

FEATURES_DIR = "data/features"


def build_and_write(params: Params, charter: dict, entities: pd.DataFrame,
                    events: pd.DataFrame | None) -> FeatureTable:
    """Build the modelling table; write it with its definitions and the training drift baseline."""
    table = build_table(params, charter, entities, events)
    out = params.path(FEATURES_DIR)
    out.mkdir(parents=True, exist_ok=True)
    table.frame.to_parquet(out / "features.parquet", index=False)
    write_json(out / "definitions.json", table.definitions)
    train = table.frame[table.frame["split"] == "train"]
    write_json(out / "drift_baseline.json", baseline(train, table.definitions, bins=int(params["features"]["drift_bins"])))
    return table


def load(params: Params) -> tuple[pd.DataFrame, dict]:
    out = params.path(FEATURES_DIR)
    return pd.read_parquet(out / "features.parquet"), read_json(out / "definitions.json")


def inputs(definitions: dict) -> list[str]:
    """The model's input columns, in order."""
    return [f["name"] for f in definitions["features"]]
