"""The model's preprocessing, built from feature definitions so that it is fitted inside each fold.

Imputation and encodings that learn from the data (group medians, target encoding) live in the
model pipeline, not in the feature table: cross-validation then refits them per fold (no leakage),
and the serving bundle applies exactly what training applied.
"""

from __future__ import annotations

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler, TargetEncoder

from mining.features.impute import GroupMedianImputer
from mining.features.interactions import Interactions


def _as_text(X):
    """Categoricals as plain strings with a visible 'missing' level (pandas 3 `str`-safe)."""
    return X.astype(object).where(X.notna(), "missing").astype(str)


def categorical_inputs(definitions: dict) -> list[str]:
    """The inputs encoded as categories (one-hot or target): what a native-categorical model takes as codes."""
    return [f["name"] for f in definitions["features"] if f.get("encoding") in ("onehot", "target")]


def build_preprocessor(definitions: dict, *, scale: bool, seed: int, native: bool = False) -> Pipeline:
    """Domain imputation, the declared interactions, then per-kind encoding: numeric / one-hot /
    target-encoded. `native`: every categorical input as one integer code instead (rare levels
    pooled, unseen ones -1), in the first columns, for models that split on categories themselves
    (LightGBM's categorical splits, CatBoost's ordered target statistics)."""
    feats = definitions["features"]
    interactions = definitions.get("interactions") or {}
    numeric = [f["name"] for f in feats if f["kind"] == "numeric"] + list(interactions)
    onehot = [f["name"] for f in feats if f.get("encoding") == "onehot"]
    target = [f["name"] for f in feats if f.get("encoding") == "target"]
    num_steps = [SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)]
    if scale:
        num_steps.append(StandardScaler())
    transformers = [("num", make_pipeline(*num_steps), numeric)]
    if native:
        codes = make_pipeline(FunctionTransformer(_as_text, feature_names_out="one-to-one"),
                              OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, min_frequency=5))
        transformers = [("cat", codes, categorical_inputs(definitions)), *transformers]
        onehot = target = []
    if onehot:
        transformers.append(("onehot", make_pipeline(
            FunctionTransformer(_as_text, feature_names_out="one-to-one"),
            OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5, sparse_output=False)), onehot))
    if target:
        te = [FunctionTransformer(_as_text, feature_names_out="one-to-one"),
              TargetEncoder(target_type="binary", random_state=seed)]
        if scale:
            te.append(StandardScaler())
        transformers.append(("target", make_pipeline(*te), target))
    columns = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=True)
    return Pipeline([("domain_impute", GroupMedianImputer(definitions.get("imputation") or {})),
                     ("interactions", Interactions(interactions)),
                     ("encode", columns)])
