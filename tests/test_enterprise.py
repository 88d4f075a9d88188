"""The enterprise stage's parts: the warehouse's star schema (appended across runs, idempotent on a
rerun, the consumer's view on the latest load; on SQLite and on the local PostgreSQL) and what the
search budget bought."""

import re
import uuid
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from mining.enterprise.warehouse import publish, redacted, warehouse_url

DAY1, DAY2 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc), datetime(2026, 3, 9, 9, tzinfo=timezone.utc)
KPIS = pd.DataFrame([{"stage": "evaluate", "kpi": "roc_auc", "value": 0.85, "threshold": None, "status": "info"},
                     {"stage": "gate", "kpi": "holdout ROC AUC", "value": 0.85, "threshold": 0.7, "status": "pass"}])


def scores(n: int, seed: int, when: datetime) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    s = rng.random(n)
    return pd.DataFrame({"id": [f"c{i}" for i in range(n)], "score": s, "flagged": s >= 0.7, "scored_at": when})


def version(v: str) -> dict:
    return {"model_version": v, "name": "churn", "task": "classification", "model_type": "lightgbm", "threshold": 0.7,
            "git_commit": "abc", "data_sha256": "d" * 64}


def counts(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as con:
            return [tuple(r) for r in con.execute(sa.text(sql)).all()]
    finally:
        engine.dispose()


def two_runs(url: str) -> None:
    """Run 1 loaded twice on one day (a rerun), run 2 a week later with another model version."""
    first = publish(url, scores(300, 0, DAY1), KPIS, version("v1"), "classification", "customer_scores", DAY1)
    assert first == {"fact_scores": 300, "fact_kpis": 2, "customer_scores": 300}
    again = publish(url, scores(300, 1, DAY1), KPIS, version("v1"), "classification", "customer_scores",
                    DAY1.replace(hour=15))
    assert again == first  # replaced, not duplicated
    second = publish(url, scores(250, 2, DAY2), KPIS, version("v2"), "classification", "customer_scores", DAY2)
    assert second == {"fact_scores": 250, "fact_kpis": 2, "customer_scores": 250}
    assert counts(url, "SELECT model_version, date_key, COUNT(*) FROM fact_scores GROUP BY model_version, date_key "
                       "ORDER BY model_version") == [("v1", 20260302, 300), ("v2", 20260309, 250)]
    assert counts(url, "SELECT DISTINCT model_version FROM customer_scores") == [("v2",)]
    assert counts(url, "SELECT date_key, weekday, iso_week FROM dim_date ORDER BY date_key") == [
        (20260302, "Monday", 10), (20260309, "Monday", 11)]
    assert counts(url, "SELECT model_version, first_loaded_at FROM dim_model_version ORDER BY model_version") == [
        ("v1", "2026-03-02T09:00:00+00:00"), ("v2", "2026-03-09T09:00:00+00:00")]  # a rerun keeps the first load
    assert counts(url, "SELECT COUNT(*) FROM load_log") == [(3,)]
    # every fact row joins its dimensions (a BI tool's star join loses nothing)
    assert counts(url, "SELECT COUNT(*) FROM fact_scores f JOIN dim_model_version m ON f.model_version = m.model_version "
                       "JOIN dim_date d ON f.date_key = d.date_key JOIN dim_segment s ON f.segment_key = s.segment_key") \
        == [(550,)]
    flagged = counts(url, "SELECT s.segment, COUNT(*) FROM fact_scores f JOIN dim_segment s ON f.segment_key = s.segment_key "
                          "WHERE f.model_version = 'v2' GROUP BY s.segment ORDER BY s.segment")
    assert dict(flagged)["flagged"] == int((scores(250, 2, DAY2)["score"] >= 0.7).sum())


def test_the_star_schema_appends_runs_and_a_rerun_replaces_its_own_rows(tmp_path):
    url = warehouse_url("sqlite:///wh/warehouse.sqlite", tmp_path)
    assert url == f"sqlite:///{tmp_path}/wh/warehouse.sqlite"
    engine = sa.create_engine(url)
    with engine.begin() as con:  # the earlier layout: the output as a table, replaced each run
        pd.DataFrame({"id": ["old"], "score": [0.1]}).to_sql("customer_scores", con, index=False)
    engine.dispose()
    two_runs(url)
    assert redacted("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"


def test_a_segmenter_s_view_has_the_charter_s_segment_columns(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    out = pd.DataFrame({"id": ["a", "b", "c"], "segment": [0, 1, 1], "segment_name": ["young", "loyal", "loyal"],
                        "scored_at": DAY1})
    row = version("s1") | {"task": "segmentation", "threshold": None}
    assert publish(url, out, KPIS, row, "segmentation", "customer_segments", DAY1)["customer_segments"] == 3
    assert counts(url, "SELECT * FROM customer_segments ORDER BY id") == [
        ("a", 0, "young", "s1", "2026-03-02T09:00:00Z"), ("b", 1, "loyal", "s1", "2026-03-02T09:00:00Z"),
        ("c", 1, "loyal", "s1", "2026-03-02T09:00:00Z")]
    assert counts(url, "SELECT segment_key, description FROM dim_segment ORDER BY segment_key") == [
        ("s1:0", "young"), ("s1:1", "loyal")]


def test_the_star_schema_on_postgresql(postgres_url):
    schema = f"mining_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_url)
    with admin.begin() as con:
        con.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        url = str(sa.engine.make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
                  .render_as_string(hide_password=False))
        two_runs(url)
    finally:
        with admin.begin() as con:
            con.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_the_budget_curve_counts_every_trial_s_time_and_the_best_completed_score():
    from mining.enterprise.cost import budget_curve, budget_effect
    trials = pd.DataFrame({
        "candidate": ["logreg", "lgbm", "lgbm", "lgbm", "xgb"],
        "state": ["COMPLETE", "COMPLETE", "PRUNED", "COMPLETE", "FAIL"],
        "value": [0.80, 0.83, None, 0.845, None],
        "started_at": ["2026-01-01T00:00:00", "2026-01-01T00:00:02", "2026-01-01T00:00:10", "2026-01-01T00:00:20",
                       "2026-01-01T00:00:05"],
        "duration_s": [2.0, 3.0, 10.0, 5.0, 5.0]})
    curve = budget_curve(trials)
    assert curve["seconds"].tolist() == [2.0, 5.0, 10.0, 20.0, 25.0]  # in start order: the failed xgb third
    assert curve["best"].tolist() == [0.80, 0.83, 0.83, 0.83, 0.845]
    effect = budget_effect(curve)
    assert effect == {"seconds": 25.0, "best": 0.845, "best_at_half": 0.83, "within": 0.001, "seconds_to_within": 25.0}
    assert budget_effect(curve, within=0.02)["seconds_to_within"] == 5.0


def run_metrics(auc: float, realised: float, drifted: int) -> dict:
    return {"evaluate": {"roc_auc": auc, "pr_auc": auc - 0.3, "precision": 0.5, "recall": 0.5, "brier": 0.08,
                         "fairness": {"gender": {"equalized_odds_difference": 0.05},
                                      "age_band": {"equalized_odds_difference": 0.12},
                                      "region": {"equalized_odds_difference": None}},  # no groups to judge
                         "value_at_threshold": 20_000.0, "ab_lift": -0.2},
            "deploy": {"p95_ms": 12.0},
            "monitor": {"prediction_psi": 0.03, "retrain": drifted > 2, "drifted_features": drifted,
                        "realised_roc_auc": {"2026-01-05": realised - 0.01, "2026-01-12": realised, "2026-01-19": None}}}


def test_the_dashboard_follows_two_runs_from_the_warehouse_and_opens_offline(tmp_path):
    from mining.compute import compute_table
    from mining.enterprise.bi import kpi_table
    from mining.enterprise.dashboard import kpi_history, write_dashboard

    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    gates = [{"gate": "holdout ROC AUC", "measured": 0.85, "threshold": 0.7, "passed": True},
             {"gate": "equalized-odds difference by age_band", "measured": 0.25, "threshold": 0.2, "passed": False}]
    for v, day, (auc, realised, drifted) in (("v1", DAY1, (0.85, 0.83, 1)), ("v2", DAY2, (0.87, 0.80, 4))):
        metrics = run_metrics(auc, realised, drifted)
        compute = compute_table({"train": {"compute": {"wall_s": 200.0, "cpu_s": 360.0, "peak_rss_mb": 900.0}},
                                 "evaluate": {"compute": {"wall_s": 100.0, "cpu_s": 180.0, "peak_rss_mb": 700.0}}}, 0.5)
        output = scores(300, 0, day)
        kpis = kpi_table(metrics, gates, "classification", output, compute)
        k = kpis.set_index(["stage", "kpi"])["value"]
        assert k["evaluate", "max_equalized_odds_difference"] == 0.12 and k["monitor", "realised_roc_auc_latest"] == realised
        assert k["compute", "cost"] == pytest.approx(540 / 3600 * 0.5) and k["output", "flagged"] == output["flagged"].sum()
        publish(url, output, kpis, version(v), "classification", "customer_scores", day)
    publish(url, scores(300, 0, DAY2), kpis, version("v2"), "classification", "customer_scores", DAY2)  # a rerun

    history = kpi_history(url)
    assert history["run"].tolist() == ["2026-03-02 · v1", "2026-03-09 · v2"]
    assert history["evaluate:roc_auc"].tolist() == [0.85, 0.87] and history["gates_failed"].tolist() == [1, 1]
    assert history["monitor:drifted_features"].tolist() == [1, 4]
    page = write_dashboard(tmp_path / "dashboard.html", history, name="churn", problem="Who leaves.",
                           currency="EUR").read_text()
    assert "2026-03-02 · v1" in page and "2026-03-09 · v2" in page and "cost (EUR)" in page
    assert page.count("data:image/png;base64,") == 6  # performance, volume, drift, fairness, value, compute
    assert "<script" not in page and not re.findall(r'(?:src|href)=["\']https?://', page)


def test_the_business_guide_speaks_in_the_run_s_own_figures(tmp_path):
    from mining.enterprise.guide import write_guide
    card = {"metrics": {"precision": 0.514, "precision_ci": [0.48, 0.55], "recall": 0.497, "roc_auc": 0.85, "ece": 0.01},
            "threshold": {"threshold": 0.3123}, "business": {"value_at_operating_threshold": 20750.0},
            "top_features": [{"feature": f} for f in ("complaints_12m", "tenure_months", "num_products")],
            "intended_use": {"problem": "Who leaves.", "decision_owner": "retention lead", "consumer": "CRM",
                             "out_of_scope": ["automated decisions without human review"]},
            "limitations": ["Trained on one bank's customers."]}
    output = scores(1000, 3, DAY1)
    page = write_guide(tmp_path / "guide.html", card, output, "classification", name="churn", version="abc",
                       scored_at="2026-03-02", sensitive=["gender"], monitor_note="stable").read_text()
    flagged = int(output["flagged"].sum())
    assert f"flagged {flagged:,} of 1,000 customers" in page and "at least 0.312" in page
    assert "about 51 really do it (between 48 and 55" in page and "catch about 50" in page
    assert "off by 1.0% on average" in page and "worth about 20,750" in page
    assert "complaints_12m, tenure_months, num_products" in page and "Not for: automated decisions" in page
    assert "gender is not used to score" in page and "<script" not in page

    segments = pd.DataFrame({"id": list("abcd"), "segment": [0, 1, 1, 1], "segment_name": ["young", "loyal", "loyal", "loyal"]})
    seg_card = {"intended_use": {"problem": "Groups.", "decision_owner": "marketing", "consumer": "CRM",
                                 "out_of_scope": "decisions about individuals based on their segment alone"},
                "limitations": ["Descriptive."]}
    page = write_guide(tmp_path / "g2.html", seg_card, segments, "segmentation", name="seg", version="s1",
                       scored_at="2026-03-02", sensitive=[], monitor_note="stable").read_text()
    assert "loyal (75%); young (25%)" in page and "Not for: decisions about individuals" in page
