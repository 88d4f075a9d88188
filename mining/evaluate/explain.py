"""SHAP values for a fitted pipeline, in the space of the encoded model inputs."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

with warnings.catch_warnings():  # shap imports tqdm.auto, which warns when ipywidgets is absent
    warnings.simplefilter("ignore")
    import shap
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline


def shap_explanation(model: Pipeline, X: pd.DataFrame, sample: int, seed: int) -> shap.Explanation:
    """Tree SHAP for boosters, linear SHAP for the logistic baseline, on a row sample of `X`."""
    rows = X.sample(min(sample, len(X)), random_state=seed)
    prep, est = model[:-1], model[-1]
    Z = prep.transform(rows)
    names = [n.split("__", 1)[-1] for n in prep.get_feature_names_out()]
    Z = pd.DataFrame(np.asarray(Z, dtype=float), columns=names)
    if isinstance(est, LogisticRegression):
        explainer = shap.LinearExplainer(est, shap.maskers.Independent(Z, max_samples=200))
    else:
        explainer = shap.TreeExplainer(est)
    exp = explainer(Z)
    if exp.values.ndim == 3:  # some explainers return one slice per class
        exp = exp[:, :, 1]
    return exp


def mean_abs_shap(exp: shap.Explanation) -> pd.DataFrame:
    imp = np.abs(exp.values).mean(axis=0)
    return (pd.DataFrame({"feature": exp.feature_names, "mean_abs_shap": imp})
            .sort_values("mean_abs_shap", ascending=False).reset_index(drop=True))


def beeswarm(exp: shap.Explanation, max_display: int = 15) -> plt.Figure:
    """SHAP summary plot (one dot per row and feature, coloured by the feature's value)."""
    shap.plots.beeswarm(exp, max_display=max_display, show=False)
    return plt.gcf()
