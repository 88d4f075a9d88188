import numpy as np
import pandas as pd
import pytest

from mining.stats import baseline, feature_drift, psi, score_drift

DEFS = {"features": [{"name": "x", "kind": "numeric"}, {"name": "c", "kind": "categorical"}]}


def frame(n, shift=0.0, mobile=0.3, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(shift, 1, n),
                         "c": rng.choice(["mobile", "branch"], n, p=[mobile, 1 - mobile])})


def test_psi_is_zero_for_the_same_distribution_and_grows_with_shift():
    assert psi([0.5, 0.5], [0.5, 0.5]) == pytest.approx(0)
    assert psi([0.5, 0.5], [0.9, 0.1]) > 0.5


def test_shifted_features_are_flagged_and_stable_ones_are_not():
    base = baseline(frame(5000), DEFS)
    same = feature_drift(base, frame(5000, seed=1), 0.2).set_index("feature")
    assert not same["drifted"].any() and same["psi"].max() < 0.05
    moved = feature_drift(base, frame(5000, shift=1.0, mobile=0.7, seed=2), 0.2).set_index("feature")
    assert moved.loc["x", "drifted"] and moved.loc["c", "drifted"]
    assert moved.loc["x", "ks_pvalue"] < 1e-6


def test_new_levels_and_missing_values_count_as_drift():
    base = baseline(frame(2000), DEFS)
    cur = frame(2000, seed=3)
    cur.loc[:999, "c"] = "kiosk"
    cur.loc[:999, "x"] = np.nan
    d = feature_drift(base, cur, 0.2).set_index("feature")
    assert d.loc["c", "drifted"] and d.loc["x", "missing_share_change"] == pytest.approx(0.5)


def test_score_drift_measures_psi_and_the_mean_shift():
    rng = np.random.default_rng(0)
    ref = rng.beta(2, 8, 5000)
    sd = score_drift(ref, np.clip(ref + 0.15, 0, 1))
    assert sd["psi"] > 0.2 and sd["mean_shift"] == pytest.approx(0.15, abs=0.01)
    assert score_drift(ref, ref)["psi"] == pytest.approx(0.0, abs=1e-9)


def test_prediction_drift_follows_the_model_kind():
    from mining.stats import prediction_drift

    seg = prediction_drift("segmentation", np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]))
    assert seg["reference_shares"] == [0.5, 0.5] and seg["current_shares"] == [0.25, 0.75]
    assert seg["mean_shift"] == pytest.approx(0.25) and seg["psi"] > 0
    rng = np.random.default_rng(0)
    ref = rng.beta(2, 8, 2000)
    assert prediction_drift("classification", ref, ref)["psi"] == pytest.approx(0, abs=1e-9)
