"""The search spends a budget well as data grow: validation that scales with the rows, a pruner on a
low fidelity, known-good configurations first, a deadline the boosters honour, a stacked ensemble,
CatBoost with native categories."""

import json
import time
from dataclasses import replace

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from mining.evaluate.explain import shap_explanation
from mining.train import deadline
from mining.train.candidates import build_candidate
from mining.train.search import Search, _steps, budget_split
from mining.train.stack import Stack, stack_score
from mining.train.validation import cv_splits, plan
from tests.test_train import COLS, DEFS, run_search, synthetic

RULE = {10000: 5, 50000: 3}


@pytest.mark.parametrize("rows, folds", [(9_999, 5), (10_000, 3), (49_999, 3), (50_000, None), (250_000, None)])
def test_the_folds_shrink_as_the_rows_grow_and_a_holdout_takes_over(rows, folds):
    p = plan(rows, RULE, 0.2)
    assert p.folds == folds
    assert (f"{rows:,} training rows" in p.why) and (("holdout" in p.why) == (folds is None))


def test_a_holdout_slice_is_stratified_and_a_time_holdout_validates_on_the_latest_rows():
    X, y = synthetic(2000)
    scheme, [(tr, va)] = cv_splits(X, y, folds=None, seed=0, holdout_fraction=0.2)
    assert scheme == "stratified holdout (20% of rows)" and len(va) == 400 and not set(tr) & set(va)
    assert abs(y[va].mean() - y[tr].mean()) < 0.01
    X = X.sample(frac=1, random_state=0).reset_index(drop=True)
    scheme, [(tr, va)] = cv_splits(X, y, folds=None, seed=0, time_column="t", gap=10, holdout_fraction=0.25)
    assert scheme.startswith("time holdout") and len(va) == 500 and len(tr) == 1490
    assert X["t"].iloc[tr].max() < X["t"].iloc[va].min()


def holdout_search(**kw) -> Search:
    X, y = synthetic(3000)
    _, splits = cv_splits(X, y, folds=None, seed=0)
    search = run_search(X, y, **kw)
    search.splits = splits
    search.steps, search.fidelity = _steps(splits, y, 0.25, 0)
    return search


def test_on_one_holdout_slice_trials_first_train_on_a_share_and_the_pruner_stops_weak_ones():
    lgb = {"lightgbm": {"defaults": {"n_estimators": 300, "learning_rate": 0.1},
                        "space": {"num_leaves": {"low": 2, "high": 64, "log": True, "type": "int"},
                                  "min_child_samples": {"low": 5, "high": 600, "log": True, "type": "int"}}}}
    search = holdout_search(candidates=lgb, n_trials=14)
    (low, va, final_low), (full, va2, final) = search.steps
    assert not final_low and final and len(low) == pytest.approx(0.25 * len(full), abs=2) and set(low) <= set(full)
    assert (va == va2).all()
    res = search.run()
    fam = res.families.set_index("candidate").loc["lightgbm"]
    assert fam["validation"] == "1 holdout slice, 2 fidelities"
    assert fam["pruned"] >= 1 and fam["complete"] >= 2 and fam["trials"] == 14
    assert res.leaderboard.set_index("candidate").loc["lightgbm", "cv_mean"] > 0.7


def test_the_portfolio_runs_before_tpe_and_each_trial_says_its_phase():
    cands = {"logreg": {"defaults": {"C": 1.0, "max_iter": 500}, "space": {"C": {"low": 0.001, "high": 10.0, "log": True}},
                        "portfolio": [{"C": 0.01}, {"C": 3.0}]}}
    X, y = synthetic(800)
    res = run_search(X, y, candidates=cands, n_trials=5).run()
    t = res.trials.sort_values("trial")
    assert t["phase"].tolist() == ["defaults", "portfolio", "portfolio", "tpe", "tpe"]
    assert [round(json.loads(p)["C"], 3) for p in t["params"][:3]] == [1.0, 0.01, 3.0]
    fam = res.families.set_index("candidate").loc["logreg"]
    assert fam["trials"] == 5 and fam["validation"] == "3 folds" and fam["portfolio_s"] > 0
    assert set(res.budget) >= {"defaults_s", "portfolio_s", "tpe_s", "refit_s", "ensemble_s", "refit_reserve_s"}
    split = budget_split(res.budget, pruning_s=2.0, selection_s=30.0, reference_s=None, time_budget_s=25.0,
                         pruning_share=0.15, tune_top_k=1).set_index("part")
    assert split.loc["portfolio (tuned families)", "seconds"] == res.budget["portfolio_s"]
    assert split.loc["model selection, all told", "note"] == "budget 25 s (120%)"
    assert split.loc["AutoML reference (outside the budget)"].tolist() == [0.0, "off"]


@pytest.mark.parametrize("name, settings", [
    ("lightgbm", {"n_estimators": 100000, "learning_rate": 0.001}),
    ("xgboost", {"n_estimators": 100000, "learning_rate": 0.001}),
    ("catboost", {"iterations": 100000, "learning_rate": 0.001}),
])
def test_a_booster_stops_adding_rounds_when_the_deadline_passes(name, settings):
    X, y = synthetic(1500)
    model = build_candidate(name, settings, DEFS, seed=0, early_stopping_rounds=100000)
    with deadline.until(time.monotonic() + 1.0):
        model.fit(X[COLS], y)
    rounds = model[-1].best_iteration_
    assert 1 <= rounds < 100000
    assert roc_auc_score(y, model.predict_proba(X[COLS])[:, 1]) > 0.6
    with deadline.until(time.monotonic() - 1):  # already past: one round, and still a model
        late = build_candidate(name, settings, DEFS, seed=0, early_stopping_rounds=100000, refit=True).fit(X[COLS], y)
    assert late[-1].best_iteration_ >= 1 and late.predict_proba(X[COLS].head(3)).shape == (3, 2)


def test_a_search_past_its_deadline_stops_trials_as_out_of_time_but_keeps_the_first_model():
    X, y = synthetic(1500)
    slow = {"lightgbm": {"defaults": {"n_estimators": 100000, "learning_rate": 0.002},
                         "space": {"num_leaves": {"low": 3, "high": 31, "type": "int"}}}}
    res = run_search(X, y, candidates=slow, budget=2.0, n_trials=4).run()
    fam = res.families.set_index("candidate").loc["lightgbm"]
    assert fam["complete"] >= 1  # the first trial always completes: the search has a model
    assert res.budget["search_wall_s"] < 60


def test_the_stack_learns_member_weights_on_out_of_fold_scores_and_refits_in_a_backtest():
    X, y = synthetic(1500)
    _, splits = cv_splits(X, y, folds=3, seed=0)
    members, oof = [], {}
    for name in ("logreg", "lightgbm"):
        pipe = build_candidate(name, {"max_iter": 500} if name == "logreg" else {"n_estimators": 200}, DEFS, seed=0)
        o = np.zeros(len(y))
        for tr, va in splits:
            o[va] = clone(pipe).fit(X[COLS].iloc[tr], y[tr]).predict_proba(X[COLS].iloc[va])[:, 1]
        members.append((name, pipe.fit(X[COLS], y)))
        oof[name] = o
    oof["noise"] = np.random.default_rng(0).random(len(y))
    score, stacked_oof = stack_score(oof, y, roc_auc_score, seed=0)
    assert score >= max(roc_auc_score(y, oof[n]) for n in ("logreg", "lightgbm")) - 0.005
    assert not np.isnan(stacked_oof).any()
    stack = Stack.from_fitted(members + [("noise", members[0][1])], oof, y, seed=0)
    assert abs(stack.weights[2]) < 0.2 < max(abs(w) for w in stack.weights[:2])  # noise gets ~no weight
    Xt, yt = synthetic(800, seed=1)
    assert roc_auc_score(yt, stack.predict_proba(Xt[COLS])[:, 1]) > 0.75
    refit = clone(Stack(members=members, folds=3)).fit(X[COLS], y)
    assert roc_auc_score(yt, refit.predict_proba(Xt[COLS])[:, 1]) > 0.75
    exp, note = shap_explanation(stack, Xt[COLS], sample=50, seed=0)
    assert note.startswith("the stack's heaviest member") and exp.values.shape[0] == 50


def test_catboost_takes_the_categories_natively_and_is_explained_with_its_own_tree_shap():
    X, y = synthetic(1500)
    Xt, yt = synthetic(600, seed=1)
    model = build_candidate("catboost", {"iterations": 300, "depth": 4}, DEFS, seed=0, refit=True).fit(X[COLS], y)
    prep = model[:-1].fit(X[COLS], y)
    codes = prep.transform(Xt[COLS].head(5))
    assert model[-1].n_categorical == 2 and (codes[:, :2] == codes[:, :2].round()).all()  # c and h as codes, first
    assert roc_auc_score(yt, model.predict_proba(Xt[COLS])[:, 1]) > 0.75
    exp, note = shap_explanation(model, Xt[COLS], sample=40, seed=0)
    assert note == "the model" and exp.values.shape == (40, codes.shape[1])
    assert exp.feature_names[:2] == ["c", "h"]
    # SHAP values add up to the log-odds CatBoost scores
    Z = prep.transform(Xt[COLS].sample(40, random_state=0))
    p = model[-1].predict_proba(Z)[:, 1]
    assert np.allclose(exp.values.sum(axis=1) + exp.base_values, np.log(p / (1 - p)), atol=1e-4)


def test_a_search_with_catboost_and_native_lightgbm_ranks_them_with_the_rest():
    X, y = synthetic(1200)
    cands = {"logreg": {"defaults": {"max_iter": 500}, "space": {}},
             "lightgbm": {"defaults": {"n_estimators": 300, "categorical": "native"},
                          "space": {"categorical": {"choices": ["encoded", "native"]}}},
             "catboost": {"defaults": {"iterations": 300, "depth": 4}, "space": {}}}
    cfg_res = run_search(X, y, candidates=cands, n_trials=3)
    cfg_res.cfg = replace(cfg_res.cfg, tune_top_k=2)
    res = cfg_res.run()
    board = res.leaderboard.set_index("candidate")
    assert {"logreg", "lightgbm", "catboost", "stack"} <= set(board.index)
    assert board.loc[["lightgbm", "catboost"], "cv_mean"].between(0.7, 1).all()
