"""The trained candidate on disk (the catalog's `candidate`): model, leaderboard, trials, out-of-fold scores, metadata."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

import joblib
import numpy as np
import pandas as pd

from mining import atomic
from mining.catalog import Catalog
from mining.charter import CLASSIFICATION, SEGMENTATION
from mining.features.store import inputs
from mining.lineage import content_hash, git_commit
from mining.params import Params
from mining.reports import read_json, write_json

if TYPE_CHECKING:  # a type hint only: readers of the artefacts need not import the search
    from mining.train.search import SearchResult


def save(params: Params, result: SearchResult, definitions: dict, train: pd.DataFrame, device: str,
         pruned: list[str] = (), interaction_pairs: list[dict] = (), searched: np.ndarray | None = None) -> dict:
    """The chosen model, its leaderboard, trials, out-of-fold scores and metadata (`pruned`: the
    inputs pruning left out, which the model ignores and the API still accepts; `interaction_pairs`:
    the pairs of inputs a booster combines most; `searched`: the positions in `train` of the rows
    the search ran on, when it ran on a sample; the out-of-fold scores are theirs)."""
    cat = Catalog(params.root)
    cat["candidate"].mkdir(parents=True, exist_ok=True)
    atomic.save(cat["model"], lambda p: joblib.dump(result.model, p))
    atomic.save(cat["leaderboard"], lambda p: result.leaderboard.to_csv(p, index=False))
    atomic.save(cat["trials"], lambda p: result.trials.to_csv(p, index=False))
    rows = np.arange(len(train)) if searched is None else np.asarray(searched)
    oof = pd.DataFrame({"row": rows, "target": train["target"].to_numpy()[rows], "oof_score": result.oof})
    atomic.save(cat["oof_scores"], oof.to_parquet)
    meta = {
        "task": CLASSIFICATION, "model": result.best_name, "why": result.why, "value_case": result.value_case,
        "inputs": inputs(definitions), "pruned": list(pruned), "interaction_pairs": list(interaction_pairs),
        "cv_scheme": result.scheme,
        "train_rows": len(train), "search_rows": len(rows), "train_positive_rate": float(train["target"].mean()),
        "params": result.best_params, "study_key": result.study_key, "device": device,
        "features_sha256": content_hash(cat["feature_table"]),
        "model_sha256": content_hash(cat["model"]),
        "code": git_commit(params.root), "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(cat["model_metadata"], meta)
    return meta


def load(params: Params) -> tuple[object, dict]:
    cat = Catalog(params.root)
    return joblib.load(cat["model"]), read_json(cat["model_metadata"])


def load_metadata(params: Params) -> dict:
    """Task, model type and version, params, hashes and code version of the trained model."""
    return read_json(Catalog(params.root)["model_metadata"])


def load_oof(params: Params) -> pd.DataFrame:
    """Out-of-fold scores of the chosen model on the training rows (for the operating threshold)."""
    return pd.read_parquet(Catalog(params.root)["oof_scores"])


def load_leaderboard(params: Params) -> pd.DataFrame:
    return pd.read_csv(Catalog(params.root)["leaderboard"])


def load_trials(params: Params) -> pd.DataFrame:
    """Every search trial: candidate, state, score, when it started, how long it took."""
    return pd.read_csv(Catalog(params.root)["trials"])


def load_segment_names(params: Params) -> dict[int, str]:
    """Segment number -> generated name (segmentation path)."""
    prof = pd.read_csv(Catalog(params.root)["segment_profiles"])
    return dict(prof[["segment", "name"]].itertuples(index=False))


def save_segmentation(params: Params, seg, definitions: dict, train: pd.DataFrame, profile: pd.DataFrame) -> dict:
    """The segmentation path's artefacts, in the same places as the classifier's."""
    cat = Catalog(params.root)
    cat["candidate"].mkdir(parents=True, exist_ok=True)
    atomic.save(cat["model"], lambda p: joblib.dump(seg.model, p))
    atomic.save(cat["leaderboard"], lambda p: seg.candidates.to_csv(p, index=False))
    atomic.save(cat["segment_profiles"], lambda p: profile.to_csv(p, index=False))
    cat["search"].mkdir(parents=True, exist_ok=True)  # the stage's persistent search output: every fit tried
    atomic.save(cat["segmentation_fits"], lambda p: seg.candidates.to_csv(p, index=False))
    meta = {
        "task": SEGMENTATION, "model": f"{seg.method}-k{seg.k}", "inputs": inputs(definitions),
        "why": "best silhouette over every method and k in params/train.yaml: segmentation",
        "cv_scheme": "none (unsupervised)", "train_rows": len(train), "params": {"method": seg.method, "k": seg.k},
        "features_sha256": content_hash(cat["feature_table"]),
        "model_sha256": content_hash(cat["model"]),
        "code": git_commit(params.root), "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(cat["model_metadata"], meta)
    return meta
