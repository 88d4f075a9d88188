"""SHAP values for a fitted pipeline, in the space of the encoded model inputs."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from xgboost import XGBClassifier

with warnings.catch_warnings():  # shap imports tqdm.auto, which warns when ipywidgets is absent
    warnings.simplefilter("ignore")
    import shap

from mining.train.blend import Blend
from mining.train.catboost_native import CatBoostNative
from mining.train.early_stopping import unwrap
from mining.train.stack import Stack


def shap_explanation(model, X: pd.DataFrame, sample: int, seed: int) -> tuple[shap.Explanation, str]:
    """SHAP values on a row sample of `X`, in the space of the encoded model inputs, and what was explained.

    Tree SHAP for boosters, linear SHAP for the logistic baseline, permutation SHAP otherwise (the
    neural network). A blend or a stack is explained through its heaviest member, which the note says.
    """
    note = "the model"
    if isinstance(model, Blend):
        weights = list(model.weights)
        (name, model), w = max(zip(model.members_, weights), key=lambda mw: mw[1])
        note = f"the blend's heaviest member, {name} (weight {w} of {sum(weights)})"
    elif isinstance(model, Stack):
        weights = model.weights
        (name, model), w = max(zip(model.members_, weights), key=lambda mw: abs(mw[1]))
        note = f"the stack's heaviest member, {name} (level-2 coefficient {w:.2f}; all: {sum(weights):.2f})"
    rows = X.sample(min(sample, len(X)), random_state=seed)
    prep, est = model[:-1], unwrap(model[-1])
    names = [n.split("__", 1)[-1] for n in prep.get_feature_names_out()]
    Z = pd.DataFrame(np.asarray(prep.transform(rows), dtype=float), columns=names)
    if isinstance(est, LogisticRegression):
        explainer = shap.LinearExplainer(est, shap.maskers.Independent(Z, max_samples=200))
    elif isinstance(est, CatBoostNative):  # CatBoost's own tree SHAP (it reads the category codes itself)
        values, base = est.shap_values(Z.to_numpy())
        return shap.Explanation(values, np.full(len(Z), base), data=Z.to_numpy(), feature_names=names), note
    elif isinstance(est, (LGBMClassifier, XGBClassifier, HistGradientBoostingClassifier)):
        explainer = shap.TreeExplainer(est)
    else:
        background = shap.maskers.Independent(Z, max_samples=100)
        explainer = shap.PermutationExplainer(lambda z: est.predict_proba(z)[:, 1], background)
        Z = Z.head(min(len(Z), 200))
    exp = explainer(Z)
    if exp.values.ndim == 3:  # some explainers return one slice per class
        exp = exp[:, :, 1]
    return exp, note


def mean_abs_shap(exp: shap.Explanation) -> pd.DataFrame:
    imp = np.abs(exp.values).mean(axis=0)
    return (pd.DataFrame({"feature": exp.feature_names, "mean_abs_shap": imp})
            .sort_values("mean_abs_shap", ascending=False).reset_index(drop=True))


def beeswarm(exp: shap.Explanation, max_display: int = 15) -> plt.Figure:
    """SHAP summary plot (one dot per row and feature, coloured by the feature's value)."""
    shap.plots.beeswarm(exp, max_display=max_display, show=False)
    return plt.gcf()
