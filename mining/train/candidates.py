"""Candidate models as full pipelines (preprocessing + estimator), built from params/train.yaml."""

from __future__ import annotations

from lightgbm import LGBMClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

from mining.features.encoding import build_preprocessor

INTERPRETABILITY = {
    "logreg": "high: one signed weight per encoded input",
    "lightgbm": "medium: tree ensemble, explained with SHAP",
    "xgboost": "medium: tree ensemble, explained with SHAP",
}


def build_candidate(name: str, settings: dict, definitions: dict, *, seed: int, n_jobs: int,
                    class_weight: str | None) -> Pipeline:
    """A fresh, unfitted pipeline for candidate `name`."""
    settings = dict(settings or {})
    if name == "logreg":
        est = LogisticRegression(random_state=seed, class_weight=class_weight, **settings)
        scale = True
    elif name == "lightgbm":
        est = LGBMClassifier(random_state=seed, n_jobs=n_jobs, verbose=-1, class_weight=class_weight, **settings)
        scale = False
    elif name == "xgboost":
        est = XGBClassifier(random_state=seed, n_jobs=n_jobs, tree_method="hist", eval_metric="logloss", **settings)
        scale = False
    else:
        raise ValueError(f"unknown candidate {name!r} in params/train.yaml (known: {sorted(INTERPRETABILITY)})")
    return Pipeline([("features", build_preprocessor(definitions, scale=scale, seed=seed)), ("model", est)])


def for_serving(model: Pipeline) -> Pipeline:
    """Single-row prediction settings: one thread (thread start-up costs more than the work)."""
    est = model.named_steps["model"]
    if isinstance(est, (LGBMClassifier, XGBClassifier)):
        est.set_params(n_jobs=1)
    return model
