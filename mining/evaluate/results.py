"""What the evaluate stage leaves for later stages: holdout predictions, the operating threshold,
feature importance and the model card as data; written and read here only."""

from __future__ import annotations

import pandas as pd

from mining import atomic
from mining.catalog import Catalog
from mining.params import Params
from mining.reports import read_json, write_json


def write_results(params: Params, holdout: pd.DataFrame, importance: pd.DataFrame,
                  threshold: dict | None = None) -> None:
    """Holdout predictions (ids, sensitive columns, target, score/flag or segment), the importance
    table (`feature`, `importance`) and, for a classifier, the chosen threshold."""
    cat = Catalog(params.root)
    cat["evaluation"].mkdir(parents=True, exist_ok=True)
    atomic.save(cat["holdout_predictions"], lambda p: holdout.to_parquet(p, index=False))
    atomic.save(cat["importance"], lambda p: importance.to_csv(p, index=False))
    if threshold is not None:
        write_json(cat["threshold"], threshold)


def load_holdout(params: Params) -> pd.DataFrame:
    return pd.read_parquet(Catalog(params.root)["holdout_predictions"])


def load_importance(params: Params) -> pd.DataFrame:
    return pd.read_csv(Catalog(params.root)["importance"])


def load_card(params: Params) -> dict:
    return read_json(Catalog(params.root)["model_card_json"])
