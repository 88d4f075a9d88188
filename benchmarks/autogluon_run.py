"""AutoGluon on one split, run in AutoGluon's own virtual environment (its pins differ from the lock).

Called by benchmarks/model_quality.py as `AUTOGLUON_PYTHON autogluon_run.py TRAIN TEST TARGET BUDGET SEED`;
prints one JSON object: test ROC AUC, the best model, wall seconds.
Set-up: python3 -m venv benchmarks/.venv-autogluon &&
        benchmarks/.venv-autogluon/bin/pip install "autogluon.tabular[lightgbm,catboost,xgboost]==1.6.3"
"""

import json
import sys
import tempfile
import time

import pandas as pd
from autogluon.tabular import TabularPredictor
from sklearn.metrics import roc_auc_score


def main() -> None:
    train_path, test_path, target, budget, seed = sys.argv[1:6]
    train, test = pd.read_parquet(train_path), pd.read_parquet(test_path)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        predictor = TabularPredictor(label=target, eval_metric="roc_auc", path=tmp, verbosity=0).fit(
            train, presets="medium_quality", time_limit=int(budget), ag_args_fit={"random_seed": int(seed)})
        wall = time.perf_counter() - t0
        scores = predictor.predict_proba(test.drop(columns=[target]))["yes"]  # targets arrive as yes / no
        auc = roc_auc_score(test[target] == "yes", scores)
        print(json.dumps({"auc": float(auc), "best": predictor.model_best, "wall_s": wall,
                          "models": len(predictor.model_names())}))


if __name__ == "__main__":
    main()
