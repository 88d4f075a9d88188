"""The unsupervised path: customer segments by KMeans or a Gaussian mixture, k chosen on the data.

Every (method, k) in the range is fitted; the one with the best silhouette (on a seeded sample,
the same criterion for both methods) is kept, with BIC shown for the mixtures. High-cardinality
categoricals are left out: with no target there is nothing to encode them against, and one-hot
columns by the hundred would swamp the distances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, PowerTransformer

from mining.features.encoding import _as_text
from mining.features.impute import GroupMedianImputer


@dataclass
class Segmentation:
    model: Pipeline  # preprocessing + the chosen clusterer; .predict gives the segment
    candidates: pd.DataFrame  # method, k, silhouette, bic
    method: str
    k: int
    labels: np.ndarray  # segment of each training row


def preprocessor(definitions: dict) -> Pipeline:
    """Numeric inputs imputed and Yeo-Johnson standardised (skewed amounts would dominate otherwise)."""
    feats = definitions["features"]
    numeric = [f["name"] for f in feats if f["kind"] == "numeric"]
    onehot = [f["name"] for f in feats if f.get("encoding") == "onehot"]
    steps = [("num", make_pipeline(SimpleImputer(strategy="median"), PowerTransformer()), numeric)]
    if onehot:
        steps.append(("onehot", make_pipeline(FunctionTransformer(_as_text, feature_names_out="one-to-one"),
                                              OneHotEncoder(handle_unknown="ignore", min_frequency=0.01,
                                                            sparse_output=False)), onehot))
    return Pipeline([("domain_impute", GroupMedianImputer(definitions.get("imputation") or {})),
                     ("encode", ColumnTransformer(steps, remainder="drop"))])


def search_segments(X: pd.DataFrame, definitions: dict, *, k_min: int, k_max: int, methods: list[str],
                    sample: int, seed: int) -> Segmentation:
    prep = preprocessor(definitions).fit(X)
    Z = np.asarray(prep.transform(X), dtype=float)
    rng = np.random.default_rng(seed)
    s = rng.choice(len(Z), size=min(sample, len(Z)), replace=False)
    rows, fitted = [], {}
    for k in range(int(k_min), int(k_max) + 1):
        if "kmeans" in methods:
            km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(Z)
            fitted[("kmeans", k)] = km
            rows.append({"method": "kmeans", "k": k, "silhouette": float(silhouette_score(Z[s], km.labels_[s])),
                         "bic": np.nan, "inertia": float(km.inertia_)})
        if "gmm" in methods:
            gm = GaussianMixture(n_components=k, covariance_type="diag", random_state=seed, n_init=2).fit(Z)
            labels = gm.predict(Z)
            sil = float(silhouette_score(Z[s], labels[s])) if len(np.unique(labels[s])) > 1 else -1.0
            fitted[("gmm", k)] = gm
            rows.append({"method": "gmm", "k": k, "silhouette": sil, "bic": float(gm.bic(Z)), "inertia": np.nan})
    table = pd.DataFrame(rows).sort_values(["silhouette"], ascending=False).reset_index(drop=True)
    method, k = table.loc[0, "method"], int(table.loc[0, "k"])
    clusterer = fitted[(method, k)]
    model = Pipeline([("features", prep), ("model", clusterer)])
    return Segmentation(model, table, method, k, clusterer.predict(Z))


def profiles(frame: pd.DataFrame, labels: np.ndarray, definitions: dict, target: str | None = None,
             top: int = 3) -> pd.DataFrame:
    """Per segment: size, share, the most distinctive inputs (z-score of the segment mean), a name."""
    numeric = [f["name"] for f in definitions["features"] if f["kind"] == "numeric"]
    df = frame.assign(segment=labels)
    mu, sd = df[numeric].mean(), df[numeric].std().replace(0, np.nan)
    rows = []
    for seg, g in df.groupby("segment"):
        z = ((g[numeric].mean() - mu) / sd).dropna()
        strongest = z.abs().sort_values(ascending=False).index[:top]
        row = {"segment": int(seg), "customers": len(g), "share": len(g) / len(df),
               "name": ", ".join(f"{'high' if z[c] > 0 else 'low'} {c}" for c in strongest[:2]),
               "distinctive": "; ".join(f"{c} {z[c]:+.2f} sd" for c in strongest)}
        if target and target in g:
            row["positive_rate"] = float(g[target].mean())
        rows.append(row)
    return pd.DataFrame(rows)
