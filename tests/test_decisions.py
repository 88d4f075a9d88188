"""Every gate and approval rule of the stages, on known inputs (the notebooks only call them)."""

import pytest

from mining.catalog import ARTEFACTS, report
from mining.deploy.latency import latency_gates
from mining.evaluate.decisions import classifier_gates, segmenter_gates
from mining.gates import GateError, enforce
from mining.govern.approval import BLOCKED, READY, approval_decision

KPIS = {"min_roc_auc": 0.7, "min_precision": 0.5, "precision_tolerance": 0.05}


def by_name(gates):
    return {g["gate"]: g for g in gates}


def test_holdout_gates_allow_the_precision_tolerance_and_no_more():
    ok = by_name(classifier_gates({"roc_auc": 0.84, "precision": 0.46}, KPIS))
    assert ok["holdout ROC AUC"]["passed"] and ok["holdout precision at threshold"]["passed"]
    assert ok["holdout precision at threshold"]["threshold"] == pytest.approx(0.45)
    bad = by_name(classifier_gates({"roc_auc": 0.69, "precision": 0.44}, KPIS))
    assert not bad["holdout ROC AUC"]["passed"] and not bad["holdout precision at threshold"]["passed"]
    assert bad["holdout ROC AUC"]["where"].startswith(report("evaluate") + "#")
    with pytest.raises(GateError, match=r"holdout ROC AUC: measured 0.69, required >= 0.7"):
        enforce(classifier_gates({"roc_auc": 0.69, "precision": 0.6}, KPIS))


def test_a_threshold_left_null_is_reported_not_gated():
    gates = classifier_gates({"roc_auc": 0.5, "precision": 0.1}, {**KPIS, "min_roc_auc": None, "min_precision": None})
    assert all(g["passed"] and g["threshold"] is None for g in gates)


def test_segment_shares_must_hold_on_the_holdout():
    assert segmenter_gates(0.02, 0.1)[0]["passed"] and not segmenter_gates(0.15, 0.1)[0]["passed"]


def test_latency_gate_holds_p95_to_the_sla():
    assert latency_gates({"p95_ms": 12.0}, 100)[0]["passed"]
    gate = latency_gates({"p95_ms": 140.0}, 100)[0]
    assert not gate["passed"] and gate["where"] == ARTEFACTS["latency"].path


def test_approval_is_blocked_by_a_failed_gate_or_an_open_finding():
    passed = [{"gate": "eo by gender", "passed": True}]
    failed = [{"gate": "eo by age_band", "passed": False}]
    clean, finding = {"open_findings": []}, {"open_findings": ["zip_code"]}
    assert approval_decision(passed, clean, ["dpo"], "v1")["status"] == READY
    blocked = approval_decision(passed + failed, clean, ["dpo"], "v1")
    assert blocked["status"] == BLOCKED and blocked["failed_gates"] == ["eo by age_band"]
    assert approval_decision(passed, finding, ["dpo"], "v1") | {"reviewers": None} == {"model_version": "v1",
        "status": BLOCKED, "reviewers": None, "automatic_checks_passed": False, "failed_gates": [],
        "open_findings": ["zip_code"]}


def holdout(groups: dict[str, int], seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    g = np.repeat(list(groups), list(groups.values()))
    y = rng.random(len(g)) < 0.3
    return pd.DataFrame({"gender": g, "target": y.astype(int), "flagged": (rng.random(len(g)) < 0.3).astype(int)})


def test_the_bias_audit_fails_closed_on_a_missing_or_unjudgeable_feature():
    from mining.fairness_gates import audit

    kpis = {"max_equalized_odds_difference": 0.2, "max_demographic_parity_difference": None,
            "min_group_size": 100, "min_group_positives": 10}
    pred = holdout({"f": 400, "m": 400})
    _, gates = audit(pred, ["gender"], kpis, where="r")
    assert by_name(gates)["groups large enough to judge by gender"]["passed"]
    _, gates = audit(pred, ["gendr"], kpis, where="r")  # a typo: no column, no silent pass
    with pytest.raises(GateError, match=r"groups large enough to judge by gendr: measured 0, required >= 2"):
        enforce(gates)
    _, gates = audit(holdout({"f": 400, "m": 40}), ["gender"], kpis, where="r")  # one group too small to judge
    assert not by_name(gates)["groups large enough to judge by gender"]["passed"]
    _, gates = audit(holdout({"f": 400, "m": 40}), ["gender"], kpis, report_only=["gender"], where="r")
    reported = by_name(gates)["groups large enough to judge by gender"]
    assert reported["passed"] and reported["threshold"] is None and "report_only" in reported["where"]


def test_a_personal_field_without_a_declared_purpose_blocks_approval():
    from mining.govern.dpia import dpia_gate

    assert dpia_gate({"open_findings": []})["passed"]
    gate_ = dpia_gate({"open_findings": ["senior_citizen"]})
    assert not gate_["passed"] and "senior_citizen" in gate_["where"]
    assert approval_decision([gate_], {"open_findings": ["senior_citizen"]}, ["dpo"], "v1")["status"] == BLOCKED
