"""Fairness mitigation, before and after: post-processing (ThresholdOptimizer, per-group
thresholds on the calibrated out-of-fold scores) and in-processing (ExponentiatedGradient, a
reweighted mixture of logistic models trained under an equalized-odds constraint).

Both come from fairlearn. ThresholdOptimizer needs each person's group when deciding, which the
serving API does not take (sensitive features are kept out of the model's inputs), so it is
reported only; the ExponentiatedGradient model needs no group at prediction time and is what
deploy ships when params ask for it, or, with `ship: auto`, when the charter's equalized-odds
limit fails without it and holds with it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from pandas.errors import Pandas4Warning
from fairlearn.postprocessing import ThresholdOptimizer
from fairlearn.reductions import EqualizedOdds, ExponentiatedGradient
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, precision_score, recall_score, roc_auc_score
from sklearn.pipeline import Pipeline

from mining.evaluate.fairness import odds_difference, parity_difference
from mining.evaluate.metrics import choose_threshold
from mining.features.encoding import build_preprocessor
from mining.stats import bootstrap_ci

SHIP = ("none", "auto", "exponentiated_gradient")


class ScoreColumn(ClassifierMixin, BaseEstimator):
    """A 'model' whose score is already computed (column `score`): lets ThresholdOptimizer work on
    out-of-fold scores instead of refitting anything."""

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X) -> np.ndarray:
        s = np.asarray(X["score"], dtype=float)
        return np.column_stack([1 - s, s])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def pooled_groups(groups: np.ndarray, y: np.ndarray, min_positives: int) -> dict[str, str]:
    """{group: group used}: per-group thresholds need positives and negatives in every group, so
    groups with fewer than `min_positives` of either class share one "small groups" level (or join
    the largest group when even together they fall short)."""
    counts = pd.crosstab(pd.Series(groups, name="g"), pd.Series(y, name="y")).reindex(columns=[0, 1], fill_value=0)
    small = counts.index[(counts.min(axis=1) < min_positives)].tolist()
    pooled = counts.loc[small].sum()
    target = "small groups" if small and pooled.min() >= min_positives else counts.sum(axis=1).idxmax()
    return {g: (target if g in small else g) for g in counts.index}


def threshold_optimizer(y: np.ndarray, scores: np.ndarray, groups: np.ndarray, seed: int) -> ThresholdOptimizer:
    """Per-group thresholds that equalise odds, fitted on (out-of-fold) scores; every group needs
    both classes (`pooled_groups`)."""
    X = pd.DataFrame({"score": scores})
    return ThresholdOptimizer(estimator=ScoreColumn().fit(X, y), constraints="equalized_odds", prefit=True,
                              predict_method="predict_proba", objective="balanced_accuracy_score").fit(
        X, y, sensitive_features=groups, random_state=seed)


def per_group_decisions(y_fit: np.ndarray, scores_fit: np.ndarray, groups_fit: np.ndarray, scores: np.ndarray,
                        groups: np.ndarray, *, min_positives: int, seed: int) -> np.ndarray:
    """ThresholdOptimizer's decisions for `scores`, fitted on (`y_fit`, `scores_fit`): small groups
    pooled as `pooled_groups` says; a group the fit never saw is decided as the largest group."""
    pool = pooled_groups(groups_fit, y_fit, min_positives)
    largest = pd.Series([pool[g] for g in groups_fit]).value_counts().idxmax()
    fitted = threshold_optimizer(y_fit, scores_fit, np.array([pool[g] for g in groups_fit], dtype=object), seed)
    return fitted.predict(pd.DataFrame({"score": scores}), random_state=seed,
                          sensitive_features=np.array([pool.get(g, largest) for g in groups], dtype=object))


class FairMixture(ClassifierMixin, BaseEstimator):
    """ExponentiatedGradient over logistic regressions under an equalized-odds bound; its score is
    the mixture's probability of a positive decision (deterministic, so it can be served)."""

    def __init__(self, bound: float = 0.05, max_iter: int = 50, seed: int = 0):
        self.bound, self.max_iter, self.seed = bound, max_iter, seed

    def fit(self, X, y, sensitive_features=None):
        self.mitigator_ = ExponentiatedGradient(LogisticRegression(max_iter=2000, random_state=self.seed),
                                                EqualizedOdds(difference_bound=self.bound),
                                                max_iter=self.max_iter)
        with warnings.catch_warnings():  # fairlearn 0.15 sets Series values with .at (pandas 3 deprecation)
            warnings.simplefilter("ignore", Pandas4Warning)
            self.mitigator_.fit(X, y, sensitive_features=sensitive_features)
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X) -> np.ndarray:
        p = self.mitigator_._pmf_predict(X)[:, 1]
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def fair_mixture(X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, definitions: dict, *, bound: float,
                 seed: int) -> Pipeline:
    """A full pipeline (the project's preprocessing, then FairMixture) trained on the training rows."""
    pipe = Pipeline([("features", build_preprocessor(definitions, scale=True, seed=seed)),
                     ("model", FairMixture(bound=bound, seed=seed))])
    return pipe.fit(X, y, model__sensitive_features=groups)


def outcome(name: str, y: np.ndarray, pred: np.ndarray, groups: np.ndarray, scores: np.ndarray | None = None, *,
            n_boot: int = 200, seed: int = 0) -> dict:
    """One before/after row: accuracy, precision, recall, share flagged, ROC AUC, and the group
    differences with 95 % bootstrap intervals (rows resampled within each group)."""
    codes = pd.factorize(groups)[0]
    y, pred = np.asarray(y), np.asarray(pred)
    return {"model": name, "accuracy": accuracy_score(y, pred), "precision": precision_score(y, pred, zero_division=0),
            "recall": recall_score(y, pred, zero_division=0), "flagged_rate": float(np.mean(pred)),
            "roc_auc": float(roc_auc_score(y, scores)) if scores is not None else np.nan,
            "equalized_odds_difference": odds_difference(y, pred, codes),
            "equalized_odds_difference_ci": bootstrap_ci(odds_difference, y, pred, codes, n_boot=n_boot, seed=seed, strata=codes),
            "demographic_parity_difference": parity_difference(y, pred, codes),
            "demographic_parity_difference_ci": bootstrap_ci(parity_difference, y, pred, codes, n_boot=n_boot, seed=seed, strata=codes)}


def readable_outcomes(rows: pd.DataFrame) -> pd.DataFrame:
    """The before/after table for a reviewer: each difference with its interval in one cell."""
    out = rows.copy()
    for k in ("equalized_odds_difference", "demographic_parity_difference"):
        out[k] = [f"{v:.3f} ({lo:.3f}-{hi:.3f})" for v, (lo, hi) in zip(rows[k], rows[f"{k}_ci"])]
    return out.drop(columns=["equalized_odds_difference_ci", "demographic_parity_difference_ci"])


def ship_mitigated(ship: str, limit: float | None, before: float, after: float) -> tuple[bool, str]:
    """Whether deploy ships the mitigated model, and why."""
    if ship not in SHIP:
        raise ValueError(f"params evaluate.fairness.ship {ship!r}: expected one of {', '.join(SHIP)}")
    if ship == "exponentiated_gradient":
        return True, "params evaluate.fairness.ship asks for the mitigated model"
    if ship == "none" or limit is None:
        return False, "params evaluate.fairness.ship: none" if ship == "none" else "the charter sets no equalized-odds limit"
    if before <= limit:
        return False, f"the model's equalized-odds difference {before:.3f} is within the charter's limit {limit}"
    if after > limit:
        return False, (f"the mitigated model's {after:.3f} also exceeds the charter's limit {limit}: "
                       "shipping it would cost accuracy without meeting the limit")
    return True, f"the limit {limit} fails without mitigation ({before:.3f}) and holds with it ({after:.3f})"


def mitigate(train_X: pd.DataFrame, y_train: np.ndarray, oof_scores: np.ndarray, groups_train: np.ndarray,
             test_X: pd.DataFrame, y: np.ndarray, scores: np.ndarray, pred: np.ndarray, groups: np.ndarray,
             judged: list[str], definitions: dict, *, model_name: str, bound: float, ship: str, limit: float | None,
             min_positives: int, min_precision: float, min_flagged_share: float, n_boot: int, seed: int) -> dict:
    """Both mitigations for one sensitive feature, measured on the holdout's judged groups against
    the model as evaluated: `table` (before / after rows), the decisions of each (`threshold_optimizer`,
    `exponentiated_gradient`), the ExponentiatedGradient pipeline with its scores and operating point
    (chosen on its own training scores: it has no out-of-fold ones), and whether it ships and why."""
    to_pred = per_group_decisions(y_train, oof_scores, groups_train, scores, groups, min_positives=min_positives,
                                  seed=seed)
    pool = pooled_groups(groups_train, y_train, min_positives)  # both classes in every group
    eg = fair_mixture(train_X, y_train, np.array([pool[g] for g in groups_train], dtype=object), definitions,
                      bound=bound, seed=seed)
    operating = choose_threshold(y_train, eg.predict_proba(train_X)[:, 1], min_precision, min_flagged_share)
    eg_scores = eg.predict_proba(test_X)[:, 1]
    eg_pred = (eg_scores >= operating["threshold"]).astype(int)
    j = np.isin(groups, judged)
    measure = dict(n_boot=n_boot, seed=seed)
    rows = [outcome(f"{model_name} (as evaluated above)", y[j], pred[j], groups[j], scores[j], **measure),
            outcome("ThresholdOptimizer: per-group thresholds", y[j], to_pred[j], groups[j], **measure),
            outcome("ExponentiatedGradient: constrained logistic mixture", y[j], eg_pred[j], groups[j], eg_scores[j],
                    **measure)]
    shipped, why = ship_mitigated(ship, limit, rows[0]["equalized_odds_difference"], rows[2]["equalized_odds_difference"])
    return {"table": pd.DataFrame(rows), "threshold_optimizer": to_pred, "exponentiated_gradient": eg_pred,
            "model": eg, "scores": eg_scores, "operating": operating, "ships": shipped, "why": why}
