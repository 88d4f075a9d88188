"""The trained candidate on disk (models/candidate): model, leaderboard, trials, out-of-fold scores, metadata."""

from __future__ import annotations

from datetime import datetime, timezone

import joblib
import pandas as pd

from mining.features.store import FEATURES_DIR, inputs
from mining.lineage import content_hash, git_commit
from mining.project import Params
from mining.reports import read_json, write_json
from mining.train.search import SearchResult

MODEL_DIR = "models/candidate"
SEARCH_DIR = "models/search"


def save(params: Params, result: SearchResult, definitions: dict, train: pd.DataFrame, device: str) -> dict:
    out = params.path(MODEL_DIR)
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(result.model, out / "model.joblib")
    result.leaderboard.to_csv(out / "leaderboard.csv", index=False)
    result.trials.to_csv(out / "trials.csv", index=False)
    pd.DataFrame({"target": train["target"].to_numpy(), "oof_score": result.oof}).to_parquet(out / "oof.parquet")
    meta = {
        "task": "classification", "model": result.best_name, "why": result.why, "inputs": inputs(definitions), "cv_scheme": result.scheme,
        "train_rows": len(train), "train_positive_rate": float(train["target"].mean()),
        "params": result.best_params, "study_key": result.study_key, "device": device,
        "features_sha256": content_hash(params.path(FEATURES_DIR) / "features.parquet"),
        "model_sha256": content_hash(out / "model.joblib"),
        "code": git_commit(params.root), "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(out / "metadata.json", meta)
    return meta


def load(params: Params) -> tuple[object, dict]:
    out = params.path(MODEL_DIR)
    return joblib.load(out / "model.joblib"), read_json(out / "metadata.json")


def save_segmentation(params: Params, seg, definitions: dict, train: pd.DataFrame, profile: pd.DataFrame) -> dict:
    """The segmentation path's artefacts, in the same places as the classifier's."""
    out = params.path(MODEL_DIR)
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(seg.model, out / "model.joblib")
    seg.candidates.to_csv(out / "leaderboard.csv", index=False)
    profile.to_csv(out / "profiles.csv", index=False)
    search = params.path(SEARCH_DIR)  # the stage's persistent search output: here, every fit tried
    search.mkdir(parents=True, exist_ok=True)
    seg.candidates.to_csv(search / "segmentation_fits.csv", index=False)
    meta = {
        "task": "segmentation", "model": f"{seg.method}-k{seg.k}", "inputs": inputs(definitions),
        "why": "best silhouette over every method and k in params/train.yaml: segmentation",
        "cv_scheme": "none (unsupervised)", "train_rows": len(train), "params": {"method": seg.method, "k": seg.k},
        "features_sha256": content_hash(params.path(FEATURES_DIR) / "features.parquet"),
        "model_sha256": content_hash(out / "model.joblib"),
        "code": git_commit(params.root), "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(out / "metadata.json", meta)
    return meta
