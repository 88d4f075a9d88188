"""Candidate models as full pipelines (preprocessing + estimator), built from params/train.yaml.

Each candidate has `defaults` (the first trial of its search) and a `space` (what Optuna tunes).
Boosters get early stopping, so `n_estimators` is a ceiling rather than a guess.
"""

from __future__ import annotations

import numpy as np
from lightgbm import LGBMClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

from mining.features.encoding import build_preprocessor, categorical_inputs
from mining.train.catboost_native import CatBoostNative
from mining.train.early_stopping import EarlyStopped, unwrap

INTERPRETABILITY = {
    "logreg": "high: one signed weight per encoded input",
    "lightgbm": "medium: tree ensemble, explained with SHAP",
    "xgboost": "medium: tree ensemble, explained with SHAP",
    "histgb": "medium: tree ensemble, explained with SHAP",
    "catboost": "medium: tree ensemble, explained with SHAP",
    "mlp": "low: neural network, explained only through SHAP approximations",
    "torch_mlp": "low: neural network, explained only through SHAP approximations",
    "blend": "low: weighted average of several models",
    "stack": "low: logistic regression over several models' scores",
}
SCALED = {"logreg", "mlp", "torch_mlp"}  # inputs standardised for these
NATIVE = {"catboost"}  # always given category codes; LightGBM when its settings say `categorical: native`


class RankingMLP(MLPClassifier):
    """scikit-learn's MLP, early-stopped on the validation slice's ROC AUC instead of its accuracy.

    The search ranks by ROC AUC; on a rare class accuracy stays at the majority share from the first
    epoch, so the stock MLP stops after `n_iter_no_change` epochs of a barely trained net (IBM HR
    attrition, 16 % positives: 5-fold ROC AUC 0.64 stopped on accuracy, 0.84 on ROC AUC)."""

    def _score(self, X, y, sample_weight=None) -> float:
        if len(np.unique(y)) < 2:  # one class in the slice: no ranking to measure
            return super()._score(X, y, sample_weight=sample_weight)
        scores = self._forward_pass_fast(X, check_input=False)
        if not np.isfinite(scores).all():
            return np.nan
        return float(roc_auc_score(y, scores[:, -1], sample_weight=sample_weight))  # (rows, 1): the positive class


def _estimator(name: str, settings: dict, *, seed: int, n_jobs: int, class_weight: str | None,
               pos_weight: float, early_stopping_rounds: int, refit: bool, device: str, n_categorical: int):
    if name == "logreg":
        return LogisticRegression(random_state=seed, class_weight=class_weight, **settings)
    if name == "lightgbm":
        est = LGBMClassifier(random_state=seed, n_jobs=n_jobs, verbose=-1, class_weight=class_weight, **settings)
        return EarlyStopped(est, rounds=early_stopping_rounds, refit=refit, random_state=seed,
                            n_categorical=n_categorical)
    if name == "catboost":
        weights = {"auto_class_weights": "Balanced"} if class_weight == "balanced" else {}
        return CatBoostNative(n_categorical, {"thread_count": n_jobs, **weights, **settings},
                              rounds=early_stopping_rounds, refit=refit, random_state=seed)
    if name == "xgboost":
        est = XGBClassifier(random_state=seed, n_jobs=n_jobs, tree_method="hist", eval_metric="logloss",
                            scale_pos_weight=pos_weight if class_weight == "balanced" else 1.0, **settings)
        return EarlyStopped(est, rounds=early_stopping_rounds, refit=refit, random_state=seed)
    if name == "histgb":
        return HistGradientBoostingClassifier(random_state=seed, class_weight=class_weight, early_stopping=True,
                                              n_iter_no_change=early_stopping_rounds // 2, **settings)
    if name == "mlp":
        settings = dict(settings)
        if "hidden_layer_sizes" in settings:
            settings["hidden_layer_sizes"] = tuple(settings["hidden_layer_sizes"])
        return RankingMLP(random_state=seed, early_stopping=True, **settings)
    if name == "torch_mlp":
        from mining.train.torch_mlp import TorchMLPClassifier  # optional: needs the torch extra

        return TorchMLPClassifier(random_state=seed, device=device, **settings)
    raise ValueError(f"unknown candidate {name!r} in params/train.yaml "
                     f"(known: {sorted(set(INTERPRETABILITY) - {'blend', 'stack'})})")


def build_candidate(name: str, settings: dict, definitions: dict, *, seed: int, n_jobs: int = 1,
                    class_weight: str | None = None, pos_weight: float = 1.0, early_stopping_rounds: int = 50,
                    refit: bool = False, device: str = "cpu") -> Pipeline:
    """A fresh, unfitted pipeline for candidate `name` with hyper-parameters `settings` (LightGBM's
    `categorical: native | encoded` chooses how it sees categories; not a booster setting)."""
    settings = dict(settings or {})
    native = name in NATIVE or (name == "lightgbm" and settings.pop("categorical", "encoded") == "native")
    est = _estimator(name, settings, seed=seed, n_jobs=n_jobs, class_weight=class_weight,
                     pos_weight=pos_weight, early_stopping_rounds=early_stopping_rounds, refit=refit, device=device,
                     n_categorical=len(categorical_inputs(definitions)) if native else 0)
    return Pipeline([("features", build_preprocessor(definitions, scale=name in SCALED, seed=seed, native=native)),
                     ("model", est)])


def for_serving(model) -> object:
    """Single-row prediction settings: one thread (thread start-up costs more than the work)."""
    pipelines = [m for _, m in model.members_] if hasattr(model, "members_") else [model]
    for p in pipelines:
        est = unwrap(p.named_steps["model"])
        if isinstance(est, (LGBMClassifier, XGBClassifier)):
            est.set_params(n_jobs=1)
        elif isinstance(est, CatBoostNative):
            est.threads_ = 1
    return model
