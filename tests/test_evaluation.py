"""The evaluation's parts on inputs whose answer is known: intervals, the operating point,
calibration, error clusters, robustness, fairness, A/B analysis."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from mining.catalog import Catalog
from mining.evaluate.calibration import Calibrated, Calibration, choose_calibration, ece, fit_calibration
from mining.evaluate.errors import error_clusters
from mining.evaluate.metrics import choose_threshold, holdout_intervals
from mining.stats import bootstrap_ci


def scores_and_labels(n: int, seed: int = 0, power: float = 1.0):
    """Scores that are true probabilities, raised to `power` (1: calibrated)."""
    rng = np.random.default_rng(seed)
    p = rng.beta(1.2, 4, n)
    return (rng.random(n) < p).astype(int), p ** power


def test_bootstrap_interval_covers_the_figure_and_narrows_with_rows():
    y, s = scores_and_labels(4000)
    lo, hi = bootstrap_ci(roc_auc_score, y, s, n_boot=300, seed=1, strata=y)
    assert lo < roc_auc_score(y, s) < hi
    lo_small, hi_small = bootstrap_ci(roc_auc_score, y[:400], s[:400], n_boot=300, seed=1, strata=y[:400])
    assert hi_small - lo_small > 1.8 * (hi - lo)


def test_holdout_intervals_name_every_headline_figure():
    y, s = scores_and_labels(2000)
    ci = holdout_intervals(y, s, 0.4, n_boot=200, seed=0)
    assert set(ci) == {"roc_auc_ci", "pr_auc_ci", "precision_ci", "recall_ci", "brier_ci"}
    assert all(lo <= hi for lo, hi in ci.values())


def test_operating_point_that_flags_almost_no_one_is_a_no_go():
    # a ~5 % base rate where the score barely ranks: only the very top row is a sure positive
    rng = np.random.default_rng(3)
    y = (rng.random(5000) < 0.05).astype(int)
    s = rng.random(5000) * 0.5 + 0.01 * y
    s[np.argmax(s)], y[np.argmax(s)] = 1.0, 1
    out = choose_threshold(y, s, min_precision=0.5, min_flagged_share=0.01)
    assert out["verdict"] == "no-go" and not out["meets_floor"]
    assert out["oof_flagged"] >= 50 and out["oof_precision"] < 0.5
    assert "best reachable is precision" in out["reason"] and "flagging" in out["reason"]
    # without the support requirement the single sure row would have 'met' the floor
    assert choose_threshold(y, s, 0.5, 0.0)["oof_flagged"] < 50


def test_operating_point_that_reaches_the_floor_is_a_go():
    y, s = scores_and_labels(5000)
    out = choose_threshold(y, s, min_precision=0.5, min_flagged_share=0.01)
    assert out["verdict"] == "go" and out["oof_precision"] >= 0.5 and out["oof_flagged_share"] >= 0.01


def test_ece_is_near_zero_for_a_calibrated_score_and_large_for_a_skewed_one():
    y, s = scores_and_labels(20000)
    assert ece(y, s) < 0.015
    y, s = scores_and_labels(20000, power=3)
    assert ece(y, s) > 0.08


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibration_brings_a_miscalibrated_score_down_and_survives_json(method):
    y, s = scores_and_labels(20000, power=3, seed=2)
    cal = fit_calibration(method, y[:10000], s[:10000])
    assert ece(y[10000:], cal.apply(s[10000:])) < 0.3 * ece(y[10000:], s[10000:])
    again = Calibration.from_dict(cal.to_dict())
    assert np.allclose(again.apply(s), cal.apply(s))


def test_choice_keeps_a_calibrated_score_and_fixes_a_skewed_one():
    y, s = scores_and_labels(8000, seed=4)
    cal, table, _ = choose_calibration(y, s, ["sigmoid", "isotonic"], folds=5, seed=0, bins=10, min_brier_gain=1e-4)
    assert cal.method == "none" and table["chosen"].sum() == 1
    y, s = scores_and_labels(8000, power=3, seed=4)
    cal, table, crossed = choose_calibration(y, s, ["sigmoid", "isotonic"], folds=5, seed=0, bins=10,
                                             min_brier_gain=1e-4)
    assert cal.method != "none"
    assert ece(y, crossed) < 0.3 * ece(y, s)


def test_calibrated_model_ships_the_mapped_score():
    X = pd.DataFrame({"x": np.linspace(-3, 3, 200)})
    y = (X["x"] + np.random.default_rng(0).normal(size=200) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    cal = Calibration("sigmoid", {"a": 0.5, "b": 0.1})
    wrapped = Calibrated(model, cal)
    assert np.allclose(wrapped.predict_proba(X)[:, 1], cal.apply(model.predict_proba(X)[:, 1]))
    assert list(wrapped.classes_) == [0, 1]


def planted_weak_segment(n: int = 6000, seed: int = 0):
    """x decides the label everywhere except region 'north', where the label is a coin flip."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n),
                          "region": rng.choice(["north", "south", "east", "west"], size=n)})
    y = (frame["x"] + 0.3 * rng.normal(size=n) > 0).astype(int).to_numpy().copy()
    north = (frame["region"] == "north").to_numpy()
    y[north] = rng.integers(0, 2, north.sum())
    defs = {"features": [{"name": "x", "kind": "numeric"}, {"name": "z", "kind": "numeric"},
                         {"name": "region", "kind": "categorical"}]}
    return frame, y, defs


def test_error_clusters_find_the_planted_weak_segment():
    frame, y, defs = planted_weak_segment()
    pred = (frame["x"] > 0).astype(int).to_numpy()  # the model learnt x, cannot learn the coin
    clusters = error_clusters(frame, defs, y, pred, seed=0)
    assert clusters, "no error cluster found"
    worst = clusters[0]
    assert "region = north" in worst["rule"]
    assert worst["error_rate"] > 0.4 and worst["lift"] > 2
    assert 1000 < worst["size"] < 2000  # about a quarter of 6,000 rows
    assert {"size", "error_rate", "description"} <= set(worst)


def test_error_clusters_need_enough_errors():
    frame, y, defs = planted_weak_segment(200)
    assert error_clusters(frame, defs, y, y.copy()) == []


def biased_predictions(n: int = 4000, seed: int = 0):
    """Group b is flagged at half group a's rate for the same labels."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"sex": rng.choice(["a", "b"], n, p=[0.6, 0.4]), "band": rng.choice(["young", "old"], n)})
    y = (rng.random(n) < 0.3).astype(int)
    p_flag = np.where(y == 1, 0.7, 0.1) * np.where(frame["sex"] == "b", 0.5, 1.0)
    return frame, y, (rng.random(n) < p_flag).astype(int)


def test_fairness_report_flags_a_four_fifths_breach_with_intervals_and_intersections():
    from mining.evaluate.fairness import fairness_report
    frame, y, pred = biased_predictions()
    tables, summaries = fairness_report(y, pred, frame, ["sex", "band", "absent"], n_boot=40, seed=0)
    assert set(tables) == {"sex", "band", "sex x band"}
    sex = summaries["sex"]
    assert sex["reference_group"] == "a"
    assert 0.4 < sex["four_fifths"]["min"] < 0.6 and not sex["four_fifths"]["passed"]
    lo, hi = sex["demographic_parity_difference_ci"]
    assert lo < sex["demographic_parity_difference"] < hi and lo > 0.05
    assert summaries["band"]["four_fifths"]["passed"]
    t = tables["sex"]
    assert all(a <= r <= b for (a, b), r in zip(t["selection_rate_ci"], t["selection_rate"]))
    assert len(tables["sex x band"]) == 4 and "sex=a & band=old" in set(tables["sex x band"]["group"])


def test_robustness_curves_degrade_with_noise_and_start_clean():
    from mining.evaluate.robustness import auc_by_noise, drop_at, robustness_curves
    frame, y, defs = planted_weak_segment(3000)
    score = lambda f: 1 / (1 + np.exp(-3 * f["x"].astype(float).fillna(0).to_numpy()))  # noqa: E731
    curves = robustness_curves(score, frame, defs, y, 0.5, [0.1, 0.5, 1.0], seed=7)
    assert set(curves["kind"]) == {"noise", "category_flip", "missing"}
    noise = auc_by_noise(curves)
    assert noise["0"] > noise["0.1"] > noise["1"] and drop_at(curves, "noise", 0.1) > 0
    assert curves.query("kind == 'category_flip'")["auc_drop"].abs().max() < 1e-9  # the score ignores region
    missing = curves.query("kind == 'missing' and level == 0.5").iloc[0]
    assert 0.2 < missing["flip_rate"] < 0.3  # half the x values gone: about half of those flip
    with pytest.raises(KeyError, match="evaluate.robustness.levels"):
        drop_at(curves, "noise", 0.2)


def test_fast_parity_figures_match_fairlearn():
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

    from mining.evaluate.fairness import parity_difference, odds_difference
    frame, y, pred = biased_predictions(1000, seed=5)
    codes = pd.factorize(frame["sex"])[0]
    assert np.isclose(parity_difference(y, pred, codes), demographic_parity_difference(y, pred, sensitive_features=frame["sex"]))
    assert np.isclose(odds_difference(y, pred, codes), equalized_odds_difference(y, pred, sensitive_features=frame["sex"]))


def unfair_world(n: int = 4000, seed: int = 0):
    """Group a's scores run high whatever the label: equalized odds fails at one threshold."""
    rng = np.random.default_rng(seed)
    g = rng.choice(["a", "b"], n)
    y = (rng.random(n) < 0.3).astype(int)
    x = 1.2 * y + 0.8 * (g == "a") + rng.normal(0, 0.6, n)
    frame = pd.DataFrame({"x": x, "w": rng.normal(size=n), "sex": g})
    defs = {"features": [{"name": "x", "kind": "numeric", "encoding": "none"},
                         {"name": "w", "kind": "numeric", "encoding": "none"}]}
    return frame, y, g, defs


def test_threshold_optimizer_on_scores_narrows_equalized_odds():
    from mining.evaluate.mitigation import outcome, threshold_optimizer
    frame, y, g, _ = unfair_world()
    s = 1 / (1 + np.exp(-(frame["x"].to_numpy() - 1)))
    to = threshold_optimizer(y[:2000], s[:2000], g[:2000], seed=0)
    after = to.predict(pd.DataFrame({"score": s[2000:]}), sensitive_features=g[2000:], random_state=0)
    before = outcome("before", y[2000:], (s[2000:] >= 0.5).astype(int), g[2000:])
    mitigated = outcome("after", y[2000:], after, g[2000:])
    assert before["equalized_odds_difference"] > 0.2
    assert mitigated["equalized_odds_difference"] < 0.5 * before["equalized_odds_difference"]


def test_fair_mixture_is_a_servable_pipeline_within_its_bound():
    from mining.deploy.compiled import compile_model
    from mining.deploy.bundle import records_of
    from mining.evaluate.mitigation import fair_mixture, outcome
    frame, y, g, defs = unfair_world()
    X = frame[["x", "w"]]
    model = fair_mixture(X[:3000], y[:3000], g[:3000], defs, bound=0.02, seed=0)
    s = model.predict_proba(X[3000:])[:, 1]
    plain = LogisticRegression().fit(X[:3000], y[:3000]).predict_proba(X[3000:])[:, 1]
    before = outcome("before", y[3000:], (plain >= 0.5).astype(int), g[3000:], plain)
    after = outcome("after", y[3000:], (s >= 0.5).astype(int), g[3000:], s)
    assert after["equalized_odds_difference"] < before["equalized_odds_difference"] - 0.1
    assert after["accuracy"] < before["accuracy"] + 0.01  # fairness is not free here
    compiled = compile_model(model)  # deploy's compiled scorer reads the same pipeline
    assert np.allclose(compiled.scores(records_of(X[3000:3050])), s[:50])


@pytest.mark.parametrize("ship,before,after,shipped", [
    ("none", 0.4, 0.1, False), ("exponentiated_gradient", 0.1, 0.1, True), ("auto", 0.1, 0.05, False),
    ("auto", 0.4, 0.1, True), ("auto", 0.4, 0.3, False)])
def test_the_mitigated_model_ships_only_when_asked_or_needed(ship, before, after, shipped):
    from mining.evaluate.mitigation import ship_mitigated
    assert ship_mitigated(ship, 0.2, before, after)[0] is shipped


def test_unknown_mitigation_choice_is_refused_by_name():
    from mining.evaluate.mitigation import ship_mitigated
    with pytest.raises(ValueError, match="evaluate.fairness.ship 'threshold'"):
        ship_mitigated("threshold", 0.2, 0.3, 0.1)


def test_a_known_lift_gets_an_interval_that_covers_it():
    from mining.evaluate.abtest import bootstrap_lift, two_proportion_test
    rng = np.random.default_rng(0)
    a, b = rng.random(20000) < 0.30, rng.random(20000) < 0.24  # true lift -20 %, difference -0.06
    lift = bootstrap_lift(a, b, seed=1)
    assert lift["lift_ci"][0] < -0.20 < lift["lift_ci"][1] and lift["lift_ci"][1] < 0
    test = two_proportion_test(int(a.sum()), len(a), int(b.sum()), len(b))
    assert test["difference_ci"][0] < -0.06 < test["difference_ci"][1] and test["p_value"] < 1e-6


def test_no_difference_is_not_significant_and_peeking_inflates_errors():
    from mining.evaluate.abtest import peeking_false_positive_rate, two_proportion_test
    assert two_proportion_test(300, 1000, 300, 1000)["p_value"] == pytest.approx(1.0)
    assert peeking_false_positive_rate(1) == pytest.approx(0.05, abs=0.01)
    assert 0.12 < peeking_false_positive_rate(5) < 0.16  # Armitage et al.: 14 % at five looks


def test_sample_size_matches_the_textbook_figure():
    from mining.evaluate.abtest import sample_size
    assert sample_size(0.10, 0.05) == pytest.approx(683, abs=3)  # 10 % -> 15 %, alpha 0.05, power 0.8
    with pytest.raises(ValueError, match="base rate 0.98"):
        sample_size(0.98, 0.05)


def test_simulated_campaign_recovers_its_effect_and_value_peaks_inside():
    from mining.evaluate.abtest import simulate_campaign, value_curve
    y, s = scores_and_labels(40000, seed=9)
    camp = simulate_campaign(y, np.ones(len(y), bool), effect=0.3, treated_share=0.5, seed=0)
    rates = camp.groupby("arm")["left"].mean()
    assert rates["called"] / rates["control"] - 1 == pytest.approx(-0.3, abs=0.05)
    curve = value_curve(y, s, effect=0.3, contact_cost=10, retained_value=100)
    best = curve.loc[curve["value"].idxmax()]
    assert 0 < best["called"] < len(y)  # calling everyone or no one is not the best
    # a customer is worth calling when effect x P(leave) x value > cost: p > 1/3 here
    assert best["threshold"] == pytest.approx(1 / 3, abs=0.03)


def test_backtest_refits_per_window_and_sees_a_decaying_relationship():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mining.evaluate.backtest import backtest
    rng = np.random.default_rng(0)
    n = 6000
    times = pd.Series(pd.date_range("2025-01-01", periods=n, freq="h"))
    x = rng.normal(size=n)
    strength = np.linspace(3, 0, n)  # x predicts less and less as time goes on
    y = (rng.random(n) < 1 / (1 + np.exp(-strength * x))).astype(int)
    out = backtest(make_pipeline(StandardScaler(), LogisticRegression()), pd.DataFrame({"x": x}), y, times, 4)
    assert list(out["window"]) == [1, 2, 3, 4]
    assert out["scored_rows"].sum() == pytest.approx(n * 4 / 5, abs=5)
    assert (out["train_rows"].diff().dropna() > 0).all()  # expanding: each window trains on more
    assert out["roc_auc"].iloc[0] > out["roc_auc"].iloc[-1] + 0.15


def test_deploy_ships_what_evaluate_chose_calibrated_or_mitigated(tmp_path):
    from mining.deploy.bundle import records_of, write_bundle
    from mining.deploy.scoring import Served
    from mining.evaluate.mitigation import fair_mixture
    from mining.evaluate.results import write_shipped
    from tests.test_safety import ROWS, VERSION, approved_project
    defs = approved_project(tmp_path)
    meta = {"model_sha256": VERSION + "0" * 52, "model": "logreg", "task": "classification"}
    records = records_of(ROWS.head(20))
    cal = Calibration("sigmoid", {"a": 0.5, "b": -1.0})
    write_shipped(tmp_path, cal)
    served = Served(write_bundle(tmp_path, defs, meta, ROWS, ROWS))
    candidate = joblib.load(Catalog(tmp_path)["model"])
    assert served.scorer == "compiled" and served.info["shipped"]["method"] == "sigmoid"
    assert np.allclose(served.outputs(records), cal.apply(candidate.predict_proba(ROWS.head(20))[:, 1]))

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=300)})
    groups = rng.choice(["a", "b"], 300)
    mitigated = fair_mixture(X, (X["x"] + (groups == "a") > 0.5).astype(int).to_numpy(), groups, defs, bound=0.05, seed=0)
    write_shipped(tmp_path, Calibration(), mitigated, "params evaluate.fairness.ship asks for the mitigated model")
    served = Served(write_bundle(tmp_path, defs, meta, ROWS, ROWS))
    assert served.info["shipped"]["ships"] == "mitigated" and served.scorer == "compiled"
    assert np.allclose(served.outputs(records), mitigated.predict_proba(ROWS.head(20))[:, 1])


def test_per_group_thresholds_pool_groups_with_one_class_and_decide_unseen_ones():
    from mining.evaluate.mitigation import per_group_decisions, pooled_groups
    frame, y, g, _ = unfair_world(3000)
    g = g.astype(object)
    g[:6], y[:6] = "tiny", 0  # six rows, negatives only: no threshold can be fitted for it alone
    assert pooled_groups(g, y, 10)["tiny"] == pd.Series(g).value_counts().idxmax()  # too small even pooled: joins the largest
    s = 1 / (1 + np.exp(-(frame["x"].to_numpy() - 1)))
    unseen = np.where(np.arange(3000) % 2 == 0, g, "new")
    pred = per_group_decisions(y, s, g, s, unseen, min_positives=10, seed=0)
    assert pred.shape == (3000,) and set(np.unique(pred)) <= {0, 1}


def test_the_business_case_reads_the_simulated_campaign_and_prices_the_threshold():
    from mining.evaluate.abtest import business_case
    y, s = scores_and_labels(20000, seed=3)
    case, curve = business_case(y, s, 0.3, effect=0.3, contact_cost=10, retained_value=100, treated_share=0.5,
                                alpha=0.05, power=0.8, min_effect=0.03, looks=5, n_boot=300, seed=0)
    flagged = s >= 0.3
    assert case["value_at_operating_threshold"] == pytest.approx(y[flagged].sum() * 30 - flagged.sum() * 10)
    assert case["best_value"] == curve["value"].max() >= case["value_at_operating_threshold"]
    assert case["ab_test"]["lift_ci"][0] < -0.3 < case["ab_test"]["lift_ci"][1]
    assert sum(a["count"] for a in case["ab_test"]["arms"]) == flagged.sum()
    assert case["sample_size_per_arm"] > 0 and 0.12 < case["peeking_false_positive_rate"] < 0.16


def test_mitigate_measures_both_remedies_on_the_judged_groups_and_decides_the_shipping():
    from mining.evaluate.mitigation import mitigate
    frame, y, g, defs = unfair_world(4000)
    X = frame[["x", "w"]]
    s = 1 / (1 + np.exp(-(frame["x"].to_numpy() - 1)))
    out = mitigate(X[:3000], y[:3000], s[:3000], g[:3000], X[3000:], y[3000:], s[3000:], (s[3000:] >= 0.5).astype(int),
                   g[3000:], ["a", "b"], defs, model_name="m", bound=0.02, ship="auto", limit=0.2, min_positives=10,
                   min_precision=0.5, min_flagged_share=0.01, n_boot=50, seed=0)
    eo = out["table"]["equalized_odds_difference"].tolist()
    assert len(eo) == 3 and eo[0] > 0.2 and eo[1] < 0.5 * eo[0]  # per-group thresholds narrow the gap
    assert out["ships"] == (eo[2] <= 0.2) and out["threshold_optimizer"].shape == (1000,)


def test_group_rates_and_their_intervals_are_fairlearns_figures():
    """The numpy counts behind the bootstrap equal fairlearn's MetricFrame on every group, those with
    no positives or no negatives included; each interval holds its group's rate."""
    from fairlearn.metrics import MetricFrame

    from mining.evaluate.fairness import RATES, group_rates, group_table
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = int(rng.integers(5, 80))
        y, pred, g = rng.integers(0, 2, n), rng.integers(0, 2, n), rng.choice(list("abcde"), n)
        y[g == "a"], y[g == "b"] = 0, 1  # a: no positives, b: no negatives
        expected = MetricFrame(metrics=RATES, y_true=y, y_pred=pred, sensitive_features=g).by_group
        got = group_rates(y, pred, np.searchsorted(expected.index.to_numpy(), g), len(expected))
        np.testing.assert_allclose(got.T, expected.to_numpy())
    t = group_table(y, pred, g, n_boot=200, seed=0, min_group_size=1)
    for name in RATES:
        assert all(lo <= r <= hi for r, (lo, hi) in zip(t[name], t[f"{name}_ci"])), t[[name, f"{name}_ci"]]
