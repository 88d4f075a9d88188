"""Feature pruning (curriculum 3.3) and the interactions a booster finds by itself (3.6).

Every input is ranked twice, by mutual information with the target (model-free) and by mean
|SHAP| in a quick LightGBM (what a model uses); the inputs weakest on the average rank are then
dropped in blocks for as long as the cross-validated score stays within `tolerance` of the score
with every input, within a time budget. "Within" is judged on the change fold by fold, less one
standard error of that change: on a small table the folds disagree by more than the tolerance, and
a block that only seems harmless by chance is kept (dropping inputs on noise cost 0.05 ROC AUC on
1,102 training rows of IBM attrition). The search then trains on the inputs kept. The same quick
model's SHAP interaction values rank the pairs of inputs it combines, beside the interactions
declared in params/features.yaml.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.feature_selection import mutual_info_classif
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import Pipeline

from mining.features.encoding import build_preprocessor

with warnings.catch_warnings():  # shap imports tqdm.auto, which warns when ipywidgets is absent
    warnings.simplefilter("ignore")
    import shap

MI_ROWS = 20_000
QUICK = {"n_estimators": 300, "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 40,
         "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8}
METRICS = {"roc_auc": roc_auc_score, "pr_auc": average_precision_score}


@dataclass
class Pruning:
    ranking: pd.DataFrame  # feature, mutual_info, mean_abs_shap, rank (1 = strongest)
    history: pd.DataFrame  # round, n_features, tried, cv_mean, cv_std, accepted
    kept: list[str]
    pruned: list[str]
    baseline_cv: float
    final_cv: float
    interactions: pd.DataFrame  # a, b, mean_abs_interaction (the quick model's own pairs)

    def definitions(self, definitions: dict) -> dict:
        """The feature definitions the search trains on: the pruned inputs left out."""
        return {**definitions, "features": [f for f in definitions["features"] if f["name"] in self.kept]}


def quick_model(definitions: dict, seed: int) -> Pipeline:
    return Pipeline([("features", build_preprocessor(definitions, scale=False, seed=seed)),
                     ("model", LGBMClassifier(random_state=seed, n_jobs=1, verbose=-1, **QUICK))])


def owners(encoded: list[str], inputs: list[str]) -> list[str]:
    """The input behind each encoded column ("onehot__plan_gold" -> "plan"), by longest name prefix."""
    out = []
    for name in encoded:
        rest = name.split("__", 1)[-1].removeprefix("missingindicator_")
        match = max((i for i in inputs if rest == i or rest.startswith(f"{i}_")), key=len, default=rest)
        out.append(match)
    return out


def mutual_information(X: pd.DataFrame, y: np.ndarray, definitions: dict, seed: int) -> pd.Series:
    """Mutual information of each input with the target (numbers median-filled, categories as codes),
    on at most MI_ROWS rows: its nearest-neighbour estimate grows faster than the rows."""
    if len(X) > MI_ROWS:
        rows = np.random.default_rng(seed).choice(len(X), size=MI_ROWS, replace=False)
        X, y = X.iloc[rows], y[rows]
    cols, discrete = {}, []
    for f in definitions["features"]:
        x = X[f["name"]]
        if f["kind"] == "numeric":
            x = pd.to_numeric(x, errors="coerce").astype(float)
            cols[f["name"]] = x.fillna(x.median() if x.notna().any() else 0.0)
            discrete.append(False)
        else:
            cols[f["name"]] = pd.Series(pd.factorize(x.astype("string").fillna("missing"))[0], index=X.index)
            discrete.append(True)
    D = pd.DataFrame(cols)
    mi = mutual_info_classif(D.to_numpy(), y, discrete_features=np.array(discrete), random_state=seed)
    return pd.Series(mi, index=D.columns)


def shap_figures(model: Pipeline, X: pd.DataFrame, inputs: list[str], sample: int, seed: int) -> tuple[pd.Series, pd.DataFrame]:
    """(mean |SHAP| per input, pairs of inputs by mean |SHAP interaction|) of a fitted quick model."""
    rows = X.sample(min(sample, len(X)), random_state=seed)
    Z = np.asarray(model[:-1].transform(rows), dtype=float)
    who = owners(list(model[:-1].get_feature_names_out()), inputs)
    explainer = shap.TreeExplainer(model[-1])
    values = explainer(Z).values
    values = values[:, :, 1] if values.ndim == 3 else values
    per_input = pd.Series(np.abs(values).mean(axis=0), index=who).groupby(level=0).sum()
    inter = np.asarray(explainer.shap_interaction_values(Z[: min(len(Z), 300)]))
    inter = inter[1] if inter.ndim == 4 else inter
    strength = np.abs(inter).mean(axis=0)
    pairs: dict[tuple[str, str], float] = {}
    for i in range(len(who)):
        for j in range(i + 1, len(who)):
            a, b = sorted((who[i], who[j]))
            if a != b:
                pairs[(a, b)] = pairs.get((a, b), 0.0) + 2 * strength[i, j]  # the matrix splits it in two
    table = pd.DataFrame([{"a": a, "b": b, "mean_abs_interaction": v} for (a, b), v in pairs.items()])
    return per_input.reindex(inputs, fill_value=0.0), table.sort_values("mean_abs_interaction", ascending=False,
                                                                          ignore_index=True)


def fold_scores(X: pd.DataFrame, y: np.ndarray, definitions: dict, splits, metric: str, seed: int) -> np.ndarray:
    """The quick model's score on each validation fold."""
    return np.array([METRICS[metric](y[va], quick_model(definitions, seed).fit(X.iloc[tr], y[tr])
                                     .predict_proba(X.iloc[va])[:, 1]) for tr, va in splits])


def change_bound(scores: np.ndarray, base: np.ndarray) -> tuple[float, float]:
    """(mean change against every input, its standard error) from the paired per-fold changes; one
    holdout slice has no spread to measure, so its error is 0."""
    d = scores - base
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0


def prune(X: pd.DataFrame, y: np.ndarray, definitions: dict, splits, *, metric: str, budget_s: float,
          tolerance: float, step: float, shap_sample: int, seed: int) -> Pruning:
    """Rank, then eliminate the weakest inputs block by block (a block whose change, less one standard
    error, costs more than `tolerance` is halved and retried; a single input that does ends the
    search), within `budget_s`."""
    start = time.monotonic()
    inputs = [f["name"] for f in definitions["features"]]
    mi = mutual_information(X, y, definitions, seed)
    full = quick_model(definitions, seed).fit(X, y)
    sh, pairs = shap_figures(full, X, inputs, shap_sample, seed)
    ranking = pd.DataFrame({"feature": inputs, "mutual_info": mi.reindex(inputs).to_numpy(),
                            "mean_abs_shap": sh.to_numpy()})
    ranking["rank"] = ((ranking["mutual_info"].rank(ascending=False) + ranking["mean_abs_shap"].rank(ascending=False))
                       / 2).rank(method="first").astype(int)
    ranking = ranking.sort_values("rank", ignore_index=True)
    base_folds = fold_scores(X, y, definitions, splits, metric, seed)
    base = float(base_folds.mean())
    history = [{"round": 0, "n_features": len(inputs), "tried": "", "cv_mean": base, "cv_std": float(base_folds.std()),
                "change": 0.0, "change_se": 0.0, "accepted": True}]
    kept, final = list(ranking["feature"]), base
    block = max(1, int(np.ceil(step * len(kept))))
    while len(kept) > 1 and time.monotonic() - start < budget_s:
        block = min(block, len(kept) - 1)
        trial = kept[:-block]
        defs = {**definitions, "features": [f for f in definitions["features"] if f["name"] in trial]}
        folds = fold_scores(X, y, defs, splits, metric, seed)
        score = float(folds.mean())
        change, se = change_bound(folds, base_folds)
        ok = change - se >= -tolerance
        history.append({"round": len(history), "n_features": len(trial), "tried": ", ".join(kept[-block:]),
                        "cv_mean": score, "cv_std": float(folds.std()), "change": change, "change_se": se,
                        "accepted": ok})
        if ok:
            kept, final = trial, score
            block = max(1, int(np.ceil(step * len(kept))))
        elif block > 1:
            block //= 2
        else:
            break
    pruned = [f for f in inputs if f not in kept]
    return Pruning(ranking, pd.DataFrame(history), [f for f in inputs if f in kept], pruned, base, final, pairs)
