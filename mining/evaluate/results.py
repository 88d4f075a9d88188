"""What the evaluate stage leaves for later stages: holdout predictions, the operating threshold,
feature importance, the calibration, the model card as data, and which model deploy ships (the
calibrated candidate, or the fairness-mitigated model); written and read here only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import joblib
import pandas as pd

from mining import atomic
from mining.catalog import Catalog
from mining.evaluate.calibration import Calibrated, Calibration
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


def write_shipped(root: Path, calibration: Calibration, mitigated=None, why: str = "") -> None:
    """Which model deploy ships: the candidate through `calibration`, or the `mitigated` pipeline
    (served as it is: it was not calibrated)."""
    cat = Catalog(root)
    if mitigated is not None:
        atomic.save(cat["mitigated_model"], lambda p: joblib.dump(mitigated, p))
    else:
        cat["mitigated_model"].unlink(missing_ok=True)
    write_json(cat["calibration"], {**calibration.to_dict(), "ships": "mitigated" if mitigated is not None else "candidate",
                                    "why": why})


def shipped_model(root: Path, candidate, prepare: Callable = lambda m: m):
    """The classifier deploy serves, built from `candidate` (the trained model) and what evaluate
    decided; `prepare` readies a pipeline for serving (thread settings) before any wrapping."""
    cat = Catalog(root)
    record = read_json(cat["calibration"])
    if record["ships"] == "mitigated":
        return prepare(joblib.load(cat["mitigated_model"]))
    return Calibrated(prepare(candidate), Calibration.from_dict(record))


def load_calibration(root: Path) -> dict:
    """The calibration record: method, params, which model ships and why."""
    return read_json(Catalog(root)["calibration"])


def load_holdout(params: Params) -> pd.DataFrame:
    return pd.read_parquet(Catalog(params.root)["holdout_predictions"])


def load_importance(params: Params) -> pd.DataFrame:
    return pd.read_csv(Catalog(params.root)["importance"])


def load_card(params: Params) -> dict:
    return read_json(Catalog(params.root)["model_card_json"])
