"""Differential privacy (curriculum 8.5): what an (epsilon, 0)-private model costs in accuracy.

diffprivlib's logistic regression (objective perturbation) is trained at several epsilons on the
same encoded features as every candidate; the privacy-utility curve is holdout ROC AUC against
epsilon, beside the same model without privacy. Each fit spends its epsilon on the same training
rows, so the budget accountant adds them up (sequential composition). Only the model fit is
private: the preprocessing's statistics (medians, category levels, scaling) come from the data as
they are, which the report says. A private model can be shipped (`govern.differential_privacy.ship_epsilon`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from diffprivlib.accountant import BudgetAccountant
from diffprivlib.models import LogisticRegression as _DPLogisticRegression
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from mining import atomic
from mining.catalog import Catalog
from mining.evaluate.metrics import choose_threshold
from mining.features.encoding import build_preprocessor
from mining.reports import write_json


class DPLogisticRegression(_DPLogisticRegression):
    """diffprivlib 0.6.6's model with a constructor scikit-learn 1.8 accepts (it no longer takes
    `multi_class`, which diffprivlib passes); training is diffprivlib's own."""

    def __init__(self, *, epsilon: float = 1.0, data_norm: float | None = None, tol: float = 1e-4, C: float = 1.0,
                 fit_intercept: bool = True, max_iter: int = 100, verbose: int = 0, warm_start: bool = False,
                 n_jobs: int | None = None, random_state=None, accountant=None):
        LogisticRegression.__init__(self, penalty="l2", dual=False, tol=tol, C=C, fit_intercept=fit_intercept,
                                    intercept_scaling=1.0, class_weight=None, random_state=random_state,
                                    solver="lbfgs", max_iter=max_iter, verbose=verbose, warm_start=warm_start,
                                    n_jobs=n_jobs)
        self.epsilon, self.data_norm = epsilon, data_norm
        self.accountant = BudgetAccountant.load_default(accountant)


class ClipNorm(TransformerMixin, BaseEstimator):
    """Rows scaled down to an L2 norm of at most `data_norm`: the bound the privacy guarantee assumes,
    fixed in params rather than read from the data (which would leak)."""

    def __init__(self, data_norm: float = 5.0):
        self.data_norm = data_norm

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        X = np.asarray(X, dtype=float)
        norm = np.linalg.norm(X, axis=1)
        return X * np.minimum(1.0, self.data_norm / np.maximum(norm, 1e-12))[:, None]


def private_pipeline(definitions: dict, epsilon: float | None, data_norm: float, seed: int,
                     accountant: BudgetAccountant | None = None) -> Pipeline:
    """The project's preprocessing, rows clipped to `data_norm`, then a logistic regression that is
    epsilon-differentially private (or, with `epsilon` None, the same model without privacy)."""
    model = (LogisticRegression(max_iter=1000, random_state=seed) if epsilon is None else
             DPLogisticRegression(epsilon=epsilon, data_norm=data_norm, random_state=seed, accountant=accountant))
    return Pipeline([("features", build_preprocessor(definitions, scale=True, seed=seed)),
                     ("clip", ClipNorm(data_norm)), ("model", model)])


def privacy_curve(X: pd.DataFrame, y: np.ndarray, X_test: pd.DataFrame, y_test: np.ndarray, definitions: dict, *,
                  epsilons: list[float], repeats: int, data_norm: float, seed: int) -> tuple[pd.DataFrame, float]:
    """(one row per epsilon, plus the non-private reference: mean and spread of holdout ROC AUC over
    `repeats` fits; the total epsilon spent on the training rows)."""
    accountant = BudgetAccountant()
    rows = []
    for eps in [*sorted(epsilons), None]:
        aucs = []
        for r in range(repeats if eps is not None else 1):
            with warnings.catch_warnings():  # diffprivlib warns that its model is not the exact optimum
                warnings.simplefilter("ignore")
                model = private_pipeline(definitions, eps, data_norm, seed + r, accountant).fit(X, y)
            aucs.append(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]))
        rows.append({"epsilon": eps if eps is not None else np.inf, "private": eps is not None,
                     "roc_auc": float(np.mean(aucs)), "roc_auc_sd": float(np.std(aucs)), "fits": len(aucs)})
    return pd.DataFrame(rows), float(accountant.total()[0])


def ship_private(X: pd.DataFrame, y: np.ndarray, X_test: pd.DataFrame, y_test: np.ndarray, definitions: dict, *,
                 epsilon: float, data_norm: float, min_precision: float, min_flagged_share: float,
                 seed: int) -> tuple[Pipeline, dict]:
    """The private model deploy is to serve: fitted at `epsilon`, its threshold chosen on its own
    training scores by the charter's precision floor, its holdout ROC AUC (for the gate)."""
    model = private_pipeline(definitions, epsilon, data_norm, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    operating = choose_threshold(np.asarray(y), model.predict_proba(X)[:, 1], min_precision, min_flagged_share)
    auc = float(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]))
    return model, {"epsilon": epsilon, "threshold": operating["threshold"], "operating": operating, "roc_auc": auc}


def write_private(root: Path, record: dict, model: Pipeline | None = None) -> None:
    """The privacy record (curve, budget spent, whether a private model ships, at which epsilon and
    threshold) and, when one ships, the private model deploy serves instead of the candidate."""
    cat = Catalog(root)
    if model is not None:
        atomic.save(cat["private_model"], lambda p: joblib.dump(model, p))
    else:
        cat["private_model"].unlink(missing_ok=True)
    write_json(cat["privacy"], {**record, "ships": model is not None})

