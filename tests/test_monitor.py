"""The monitoring loop's parts on known inputs: traffic scenarios, replay through a loopback API,
windows and their alerts, the retrain and promotion rules, releases, retention, the feedback table."""

import json
import os
import tarfile
from datetime import datetime, timedelta, timezone

import httpx
import numpy as np
import pandas as pd
import pytest

from mining.catalog import Catalog, member
from mining.deploy import releases
from mining.deploy.api import Settings, create_app
from mining.deploy.inference_log import InferenceLog, pseudonymiser, read_log
from mining.deploy.keys import KeyStore
from mining.deploy.server import running
from mining.features.feedback import ensure, with_feedback, write_rows
from mining.monitor.decision import retrain_decision
from mining.monitor.feedback import read_feedback, read_scored, with_outcomes, write_feedback
from mining.monitor.promotion import PROMOTE, REJECT, WAIT, promotion_decision, shadow_pairs
from mining.monitor.protected import read_protected, write_protected
from mining.monitor.retention import actions, apply_retention
from mining.monitor.traffic import (TrafficError, broken_input, days_of, new_category_input, replay,
                                    seasonal_columns, shifted_share)
from mining.monitor.windows import Baseline, auc_standard_error, over_windows, runs, window_of
from mining.reports import write_json
from tests.test_serving import make_bundle

INPUTS = {"x": {"type": "number", "nullable": False, "range": [-5.0, 5.0], "n_unique": 1000, "missing_share": 0.0},
          "amount_sum_30d": {"type": "number", "nullable": True, "range": [0.0, 500.0], "n_unique": 1000,
                             "missing_share": 0.0},
          "plan": {"type": "string", "nullable": False, "categories": ["a", "b", "c"], "n_unique": 3,
                   "missing_share": 0.0}}
CFG = {"days": 14, "start_day": 7, "per_day": 40, "batch": 10, "rate": 5000, "end": "2026-03-08", "ramp_days": 7,
       "label_delay_days": 14, "seasonal": {"period_days": 28, "amplitude": 0.5, "columns": None},
       "broken": {"column": None, "mode": "auto"}, "new_category": {"column": None, "value": "zz", "share": 0.5}}
MON = {"window": "weekly", "min_labels": 50, "psi_threshold": 0.2, "max_drifted_share": 0.15, "max_prediction_psi": 0.2,
       "max_auc_drop": 0.05, "drift": {"p_value": 0.05, "distance_threshold": 0.1},
       "quality": {"null_column_share": 0.95, "max_missing_increase": 0.1, "min_rows": 20, "max_out_of_range_share": 0.05,
                   "max_unseen_share": 0.01, "min_volume_ratio": 0.5},
       "retrain": {"every_days": 180, "min_feedback": 10}}
DEFS = {"features": [{"name": "x", "kind": "numeric"}, {"name": "amount_sum_30d", "kind": "numeric"},
                     {"name": "plan", "kind": "categorical"}]}


def population(n, seed, shift=0.0, prefix="c"):
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1, n)
    return pd.DataFrame({"_id": [f"{prefix}{seed}-{i}" for i in range(n)], "x": x,
                         "amount_sum_30d": rng.gamma(2, 20, n) * (1 + shift), "plan": rng.choice(["a", "b", "c"], n),
                         "_target": (rng.random(n) < 1 / (1 + np.exp(-2 * x))).astype(int)})


def scenario_days(scenario, cfg=CFG):
    clean, shifted = population(2000, 1), population(2000, 2, shift=1.5, prefix="s")
    seasonal = seasonal_columns(cfg["seasonal"], INPUTS, "amount", ["x"])
    broken = broken_input(cfg["broken"], INPUTS, ["amount_sum_30d", "x", "plan"])
    return dict(days_of(scenario, cfg, clean, shifted, INPUTS, seasonal, broken,
                        new_category_input(cfg["new_category"], INPUTS), seed=0))


def test_sudden_and_gradual_draw_the_shifted_population_from_the_start_day():
    days = scenario_days("sudden")
    assert all(d["_id"].str.startswith("c").all() for k, d in days.items() if k < 7)
    assert all(d["_id"].str.startswith("s").all() for k, d in days.items() if k >= 7)
    assert [shifted_share("gradual", d, 7, 7) for d in (6, 7, 10, 13, 20)] == [0, 1 / 7, 4 / 7, 1, 1]
    gradual = scenario_days("gradual")
    shares = [days_["_id"].str.startswith("s").mean() for days_ in gradual.values()]
    assert shares[:7] == [0.0] * 7 and 0 < shares[7] < 0.35 and shares[13] == 1.0
    quiet = scenario_days("none")
    assert sum(len(d) for d in quiet.values()) == pytest.approx(14 * 40, rel=0.1)
    assert not any(d["_id"].str.startswith("s").any() for d in quiet.values())


def test_seasonal_broken_column_and_new_category_change_only_their_field_from_the_start():
    base, season = scenario_days("none"), scenario_days("seasonal")
    assert np.allclose(season[8]["amount_sum_30d"], base[8]["amount_sum_30d"] * (1 + 0.5 * np.sin(2 * np.pi / 28)))
    assert season[8]["x"].equals(base[8]["x"]) and season[6]["amount_sum_30d"].equals(base[6]["amount_sum_30d"])
    broken = scenario_days("broken-column")  # the top input is nullable: it arrives null
    assert broken[7]["amount_sum_30d"].isna().all() and broken[6]["amount_sum_30d"].notna().all()
    constant = scenario_days("broken-column", CFG | {"broken": {"column": "x", "mode": "auto"}})
    assert constant[9]["x"].eq(-5.0).all()  # not nullable: constant at the training minimum
    new = scenario_days("new-category")
    assert new[6]["plan"].isin(["a", "b", "c"]).all() and 0.3 < new[9]["plan"].eq("zz").mean() < 0.7


def test_a_scenario_naming_what_the_model_lacks_is_refused():
    with pytest.raises(TrafficError, match="seasonal.columns names \\['spend'\\], which are not model inputs"):
        seasonal_columns({"columns": ["spend"]}, INPUTS, None, [])
    with pytest.raises(TrafficError, match="'x' is not a categorical input"):
        new_category_input({"column": "x"}, INPUTS)
    with pytest.raises(TrafficError, match="scenario 'spike'"):
        next(days_of("spike", CFG, population(10, 1), None, INPUTS, [], ("", ""), None, 0))
    with pytest.raises(TrafficError, match="the clean population of 50 rows is used up"):
        list(days_of("none", CFG, population(50, 1), None, INPUTS, [], ("", ""), None, 0))


def replay_server(tmp_path, bundle, scopes=("predict", "replay")):
    keys = KeyStore(f"sqlite:///{tmp_path / 'keys.db'}")
    key = keys.add("traffic", list(scopes))
    url = f"sqlite:///{tmp_path / 'log.db'}"
    settings = Settings(keys=keys, log=InferenceLog(url), pseudonym=pseudonymiser("NO_SUCH_ENV", tmp_path / "p.key"))
    return create_app(bundle, settings=settings), key, url, settings.pseudonym


def test_replayed_requests_are_logged_at_their_replay_time_and_their_outcomes_arrive_later(tmp_path):
    bundle = make_bundle(tmp_path / "bundle", "live0000001")
    app, key, url, pseudo = replay_server(tmp_path, bundle)
    clean = population(200, 3).assign(n_events_30d=lambda d: d["x"].abs().round(), income=50.0,
                                      plan=lambda d: d["plan"].map({"a": "basic", "b": "plus", "c": "pro"}))
    inputs = releases.info(bundle)["inputs"]
    cfg = CFG | {"days": 3, "per_day": 30, "end": "2026-03-03"}
    with running(app) as base, httpx.Client(base_url=base, headers={"X-API-Key": key}) as client:
        sent = list(replay(client, days_of("none", cfg, clean, None, inputs, [], ("", ""), None, 0), inputs, cfg,
                           "test replay", 0))
        write_feedback(url, [{"record_id": pseudo(i), "outcome": int(y), "arrived_at": "2026-03-20T00:00:00.000+00:00"}
                             for _, rows, _ in sent for i, y in zip(rows["_id"], rows["_target"])])
    log = pd.DataFrame(read_log(url))
    assert len(log) == sum(len(rows) for _, rows, _ in sent) and log["purpose"].eq("test replay").all()
    assert log["at"].str[:10].isin(["2026-03-01", "2026-03-02", "2026-03-03"]).all() and log["at"].min() < "2026-03-02"
    scored = read_scored(url)
    assert with_outcomes(scored, read_feedback(url, pd.Timestamp("2026-03-10", tz="UTC")))["target"].isna().all()
    known = with_outcomes(scored, read_feedback(url, pd.Timestamp("2026-03-21", tz="UTC")))
    assert known["target"].notna().all() and set(known["target"]) == {0, 1}


def test_the_replay_time_needs_the_replay_scope_and_an_offset(tmp_path):
    bundle = make_bundle(tmp_path / "bundle", "live0000001")
    app, key, _, _ = replay_server(tmp_path, bundle, scopes=("predict",))
    body = {"records": [{"n_events_30d": 1.0, "income": 50.0, "plan": "basic"}]}
    with running(app) as base:
        refused = httpx.post(f"{base}/v1/predict", json=body,
                             headers={"X-API-Key": key, "X-Replay-Time": "2026-01-01T00:00:00+00:00"})
        naive = httpx.post(f"{base}/v1/predict", json=body, headers={"X-API-Key": key, "X-Replay-Time": "2026-01-01T00:00:00"})
        plain = httpx.post(f"{base}/v1/predict", json=body, headers={"X-API-Key": key})
    assert refused.status_code == 403 and "needs the replay scope" in refused.json()["detail"]
    assert naive.status_code == 422 and "UTC offset" in naive.text
    assert plain.status_code == 200


def weekly(frame_per_week, start="2026-01-05"):
    """Scored rows: week k's frame at midday of its days."""
    out = []
    for k, rows in enumerate(frame_per_week):
        days = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(k * 7 + np.arange(len(rows)) % 7, unit="D") + pd.Timedelta(hours=12)
        out.append(rows.assign(at=days))
    return pd.concat(out, ignore_index=True)


def baseline(reference):
    scores = 1 / (1 + np.exp(-2 * reference["x"].to_numpy()))
    return Baseline(reference=reference, definitions=DEFS, inputs=INPUTS, holdout_scores=scores,
                    holdout_target=reference["_target"].to_numpy(), threshold=0.5)


def scored_frame(rows, labelled=True):
    s = 1 / (1 + np.exp(-2 * (rows["x"].to_numpy())))
    return rows.assign(score=s, target=rows["_target"].astype(float) if labelled else np.nan)


def test_drift_is_named_in_the_window_it_starts_and_quiet_windows_raise_nothing():
    reference = population(3000, 0)
    weeks = [scored_frame(population(600, 10 + k)) for k in range(4)] + \
            [scored_frame(population(600, 20 + k, shift=1.0)) for k in range(2)]
    windows, tests, alerts = over_windows(weekly(weeks), baseline(reference), MON, pd.Timestamp("2026-03-01", tz="UTC"))
    assert list(windows["window"]) == ["2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26", "2026-02-02", "2026-02-09"]
    assert windows["drifted_features"].tolist()[:4] == [0, 0, 0, 0] and not [a for a in alerts if a["window"] < "2026-02-02"]
    drift = {a["feature"]: a for a in alerts if a["kind"] == "feature_drift"}
    assert set(drift) == {"x", "amount_sum_30d"}
    assert all(a["window"] == "2026-02-02" and a["last_window"] == "2026-02-09" and a["windows"] == 2 for a in drift.values())
    assert any(a["kind"] == "prediction_drift" and a["window"] == "2026-02-02" for a in alerts)
    assert windows["realised_roc_auc"].notna().all() and windows["estimated_roc_auc"].between(0.6, 0.95).all()
    assert set(tests["window"]) == set(windows["window"]) and {"limit", "psi"} <= set(tests.columns)


def test_a_field_broken_mid_week_is_a_critical_alert_in_that_week():
    reference = population(3000, 0)
    weeks = [scored_frame(population(700, 10 + k)) for k in range(3)]
    frame = weekly(weeks)
    late = (frame["at"] >= pd.Timestamp("2026-01-22", tz="UTC"))  # Thursday of the third week on
    frame.loc[late, "amount_sum_30d"] = np.nan
    _, _, alerts = over_windows(frame, baseline(reference), MON, pd.Timestamp("2026-03-01", tz="UTC"))
    critical = [a for a in alerts if a["severity"] == "critical"]
    assert [(a["kind"], a["feature"], a["window"]) for a in critical] == [("null_column", "amount_sum_30d", "2026-01-19")]
    assert critical[0]["detail"].startswith("from 2026-01-22")


def test_a_window_without_enough_outcomes_has_no_realised_figure_and_a_noise_sized_drop_is_no_alert():
    reference = population(3000, 0)
    weeks = [scored_frame(population(600, 10)), scored_frame(population(30, 11))]
    windows, _, alerts = over_windows(weekly(weeks), baseline(reference), MON, pd.Timestamp("2026-03-01", tz="UTC"))
    assert windows["realised_roc_auc"].isna().tolist() == [False, True]
    assert not [a for a in alerts if a["kind"] == "performance_drop"]
    assert auc_standard_error(0.8, 100, 900) == pytest.approx(0.0272, abs=0.0005)  # Hanley & McNeil by hand


def test_runs_merge_consecutive_windows_and_keep_the_start():
    c = lambda w, kind="feature_drift", f="x", sev="warning": {"kind": kind, "feature": f, "window": w, "severity": sev,
                                                               "detail": w}
    found = runs([c("w1"), c("w2"), c("w4"), c("w2", "null_column", "y", "critical")], ["w1", "w2", "w3", "w4"])
    assert [(a["window"], a["last_window"], a["windows"], a["kind"]) for a in found] == [
        ("w1", "w2", 2, "feature_drift"), ("w2", "w2", 1, "null_column"), ("w4", "w4", 1, "feature_drift")]
    assert window_of(pd.Series(pd.to_datetime(["2026-03-04T10:00Z", "2026-03-08T23:59Z"])), "weekly").tolist() == \
        ["2026-03-02", "2026-03-02"]


def test_retrain_reasons_name_their_kind_window_and_params_key():
    windows = pd.DataFrame([
        {"window": "w1", "complete": True, "drifted_share": 0.0, "drifted_feature_names": "", "score_psi": 0.01,
         "estimated_roc_auc": 0.84, "realised_roc_auc": 0.83, "realised_roc_auc_se": 0.01},
        {"window": "w2", "complete": True, "drifted_share": 0.5, "drifted_feature_names": "x, plan", "score_psi": 0.3,
         "estimated_roc_auc": 0.70, "realised_roc_auc": None, "realised_roc_auc_se": None},
        {"window": "w3", "complete": False, "drifted_share": 0.0, "drifted_feature_names": "", "score_psi": 0.0,
         "estimated_roc_auc": 0.70, "realised_roc_auc": None, "realised_roc_auc_se": None}])
    alerts = [{"kind": "feature_drift", "feature": "x", "window": "w2", "last_window": "w2"}]
    d = retrain_decision(windows, alerts, 0.84, MON, champion_age_days=200)
    assert d["retrain"] and d["kinds"] == ["decay", "drift", "schedule"]
    assert "window w2: 50% of inputs drifted: x (since w2), plan (since w2)" in d["reason"]
    assert "monitor.max_prediction_psi=0.2" in d["reason"] and "monitor.retrain.every_days=180" in d["reason"]
    assert "estimated (outcomes not in yet) ROC AUC 0.700" in d["reason"]
    quiet = retrain_decision(windows.iloc[:1], [], 0.84, MON, champion_age_days=10)
    assert quiet == {"retrain": False, "reasons": [], "kinds": [], "reason": None}


def pairs(n, gain, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return pd.DataFrame({"target": y.astype(float), "champion_score": y * 0.5 + rng.random(n),
                         "challenger_score": y * (0.5 + gain) + rng.random(n)})


def test_the_promotion_rule_promotes_rejects_or_waits_with_its_reason():
    rule = {"min_labelled": 200, "margin": 0.005}
    win = promotion_decision(pairs(1000, 0.5), [], rule)
    assert win["decision"] == PROMOTE and win["challenger_roc_auc"] > win["champion_roc_auc"] + 0.005
    assert "monitor.promotion.margin=0.005" in win["reason"]
    lose = promotion_decision(pairs(1000, -0.2), [], rule)
    assert lose["decision"] == REJECT and "falls short of monitor.promotion.margin" in lose["reason"]
    wait = promotion_decision(pairs(1000, 0.5).assign(target=lambda d: d["target"].where(d.index < 150)), [], rule)
    assert wait["decision"] == WAIT and wait["labelled"] == 150
    unfair = promotion_decision(pairs(1000, 0.5), [{"gate": "equalized odds difference (gender)", "passed": False},
                                                 {"gate": "ROC AUC", "passed": True}], rule)
    assert unfair["decision"] == REJECT and "fairness gates ['equalized odds difference (gender)']" in unfair["reason"]


def test_shadow_pairs_match_each_record_of_a_request_across_routes():
    scored = pd.DataFrame({"request_id": ["r1"] * 4 + ["r2"], "features_sha256": ["a", "b", "a", "b", "a"],
                           "model_version": ["v1", "v1", "v2", "v2", "v1"], "route": ["live", "live", "shadow", "shadow", "live"],
                           "score": [0.1, 0.2, 0.3, 0.4, 0.5], "target": [1.0, 0.0, 1.0, 0.0, np.nan],
                           "at": pd.Timestamp("2026-01-01", tz="UTC")})
    p = shadow_pairs(scored, "v1", "v2")
    assert p[["champion_score", "challenger_score"]].values.tolist() == [[0.1, 0.3], [0.2, 0.4]]


def bundle_at(folder, version, gates=()):
    """A bundle-shaped folder, its model file a stand-in."""
    folder.mkdir(parents=True)
    write_json(folder / member("serving_info"), {"model_version": version, "task": "classification", "inputs": {}})
    write_json(folder / member("serving_approval"), {"model_version": version, "evaluation_gates": list(gates),
                                                     "automatic_checks_passed": True})
    (folder / member("serving_model")).write_bytes(version.encode())
    return folder


def test_a_release_goes_champion_shadow_promoted_and_the_old_champion_is_retired(tmp_path):
    cat = Catalog(tmp_path)
    write_json(cat["charter"], {"name": "churn", "high_risk": False})
    bundle_at(cat["serving"], "v1")
    assert releases.champion_dir(tmp_path) == cat["serving"]  # before any release: the pipeline's bundle
    assert releases.ensure_champion(tmp_path) == "v1" and releases.champion_dir(tmp_path) == cat["releases"] / "v1"
    with pytest.raises(releases.ReleaseError, match="the champion itself"):
        releases.start_shadow(tmp_path, cat["serving"], "same build")
    releases.start_shadow(tmp_path, bundle_at(tmp_path / "build2", "v2"), "drift")
    assert releases.challenger_dir(tmp_path) == cat["releases"] / "v2"
    releases.promote(tmp_path, "better")
    st = releases.state(tmp_path)
    assert (st["champion"], st["challenger"]) == ("v2", None)
    assert [(e["event"], e["version"]) for e in st["history"]] == [
        ("registered", "v1"), ("released", "v1"), ("registered", "v2"), ("shadow", "v2"), ("promoted", "v2"),
        ("retired", "v1")]
    releases.start_shadow(tmp_path, bundle_at(tmp_path / "build3", "v3"), "drift again")
    releases.reject(tmp_path, "worse")
    assert releases.retired(tmp_path) == ["v1", "v3"] and releases.state(tmp_path)["champion"] == "v2"
    with pytest.raises(releases.ReleaseError, match="no challenger to promote"):
        releases.promote(tmp_path, "nothing")


def test_retention_archives_old_versions_rotates_the_log_deletes_expired_files_and_says_so(tmp_path):
    cat = Catalog(tmp_path)
    write_json(cat["charter"], {"name": "churn", "high_risk": False})
    bundle_at(cat["serving"], "v1")
    releases.ensure_champion(tmp_path)
    for v in ("v2", "v3", "v4"):
        releases.start_shadow(tmp_path, bundle_at(tmp_path / f"b{v}", v), "try")
        releases.promote(tmp_path, "better")  # v1, v2, v3 retired in turn
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = InferenceLog(url)
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    log.write([{"request_id": f"r{i}", "at": (now - timedelta(days=d)).isoformat(timespec="milliseconds"), "app": "a",
                "purpose": None, "model_version": "v4", "route": "live", "record_id": None, "features_sha256": "h",
                "features": "{}", "score": 0.5, "decision": "flagged", "cached": False, "latency_ms": 1.0}
               for i, d in enumerate([200, 150, 120, 10, 1])])
    log.close()
    for d in (120, 10):  # the groups recorded for the bias audit: two features each time
        write_protected(url, [f"p{d}"], pd.DataFrame({"gender": ["f"], "age_band": ["30-39"]}),
                        at=(now - timedelta(days=d)).isoformat(timespec="milliseconds"))
    rules = {"keep_retired": 1, "archived_model_days": 365, "log_days": 90, "archived_log_days": 730}
    done = apply_retention(tmp_path, rules, url, now)
    assert [(a["action"], a["what"]) for a in done] == [
        ("archived", "model v1"), ("archived", "model v2"),
        ("rotated", "1 inference-log rows of 2025-11"), ("rotated", "1 inference-log rows of 2026-01"),
        ("rotated", "1 inference-log rows of 2026-02"), ("deleted", "2 protected-attribute rows")]
    assert read_protected(url).index.tolist() == ["p10"]  # deleted, not archived
    assert not (cat["releases"] / "v1").exists() and (cat["releases"] / "v3").exists()
    with tarfile.open(cat["archive"] / "models" / "v1.tar.gz") as tar:
        assert f"v1/{member('serving_info')}" in tar.getnames()
    assert len(read_log(url)) == 2 and len(pd.read_parquet(cat["archive"] / "inference_log" / "2026-01.parquet")) == 1
    old = cat["archive"] / "inference_log" / "2025-11.parquet"
    os.utime(old, (now.timestamp() - 800 * 86400,) * 2)
    later = apply_retention(tmp_path, rules, url, now + timedelta(days=1))
    assert [(a["action"], a["path"]) for a in later] == [("deleted", str(cat.relative(old)))]
    assert [a["action"] for a in actions(tmp_path)] == ["archived"] * 2 + ["rotated"] * 3 + ["deleted"] * 2
    assert "monitor.retention.archived_log_days=730" in actions(tmp_path)[-1]["reason"]
    assert ("archived", "v1") in [(e["event"], e["version"]) for e in releases.state(tmp_path)["history"]]


def test_labelled_feedback_joins_the_training_split_only(tmp_path):
    frame = pd.DataFrame({"customer_id": ["a", "b"], "x": [1.0, 2.0], "plan": ["a", "b"], "target": [0, 1],
                          "split": ["train", "test"]})
    defs = {"features": [{"name": "x", "kind": "numeric"}, {"name": "plan", "kind": "categorical"}]}
    assert ensure(tmp_path) == 0 and with_feedback(frame, defs, tmp_path, "customer_id")[1] == 0
    write_rows(tmp_path, pd.DataFrame({"record_id": ["p1", "p2"], "scored_at": ["t", "t"], "model_version": ["v1"] * 2,
                                       "target": [1, 0], "x": ["3.5", None], "plan": ["c", "a"]}))
    out, n = with_feedback(frame, defs, tmp_path, "customer_id")
    assert n == 2 and len(out) == 4 and out["split"].tolist() == ["train", "test", "train", "train"]
    assert out["x"].tolist()[2] == 3.5 and np.isnan(out["x"].tolist()[3]) and out["customer_id"].tolist()[2:] == ["p1", "p2"]
    assert ensure(tmp_path) == 2  # the DVC stage keeps what retrain wrote
    write_rows(tmp_path, pd.DataFrame({"record_id": ["p1"], "scored_at": ["t"], "model_version": ["v1"], "target": [1],
                                       "plan": ["c"]}))
    with pytest.raises(ValueError, match="lack the model inputs \\['x'\\]"):
        with_feedback(frame, defs, tmp_path, "customer_id")
    with pytest.raises(ValueError, match="feedback rows lack \\['target'\\]"):
        write_rows(tmp_path, pd.DataFrame({"record_id": ["p1"], "scored_at": ["t"], "model_version": ["v1"]}))
    assert json.dumps(actions(tmp_path)) == "[]"
