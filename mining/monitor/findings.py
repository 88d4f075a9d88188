"""What the monitor stage leaves for governance and the enterprise view: every figure per window,
each input's test per window (and the latest window's alone), and the findings (traffic, the
retrain decision, the promotion decision)."""

from __future__ import annotations

import pandas as pd

from mining import atomic
from mining.catalog import Catalog
from mining.params import Params
from mining.reports import read_json, write_json


def write_findings(params: Params, latest_drift: pd.DataFrame, drift: pd.DataFrame, windows: pd.DataFrame,
                   findings: dict) -> None:
    cat = Catalog(params.root)
    cat["monitoring"].mkdir(parents=True, exist_ok=True)
    atomic.save(cat["feature_drift"], lambda p: latest_drift.to_csv(p, index=False))
    atomic.save(cat["window_drift"], lambda p: drift.to_csv(p, index=False))
    atomic.save(cat["windows"], lambda p: windows.to_csv(p, index=False))
    write_json(cat["findings"], findings)


def load_findings(params: Params) -> dict:
    return read_json(Catalog(params.root)["findings"])


def load_feature_drift(params: Params) -> pd.DataFrame:
    return pd.read_csv(Catalog(params.root)["feature_drift"])
