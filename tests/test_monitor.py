"""The monitor stage's later window and its decisions, on known inputs."""

from pathlib import Path

import pandas as pd
import pytest

from mining.monitor.decision import auc_drop, retrain_decision
from mining.monitor.production import demo_window
from mining.params import load_params

ROOT = Path(__file__).resolve().parents[1]
CHARTER = {"task": {"type": "classification"}, "personal_data_allowed": []}
RULES = {"psi_threshold": 0.2, "max_drifted_share": 0.15, "max_prediction_psi": 0.2, "max_auc_drop": 0.05}


def test_the_production_window_respects_the_runs_overrides():
    """`mining run monitor --set ...` values reach the later window (they were once re-read from disk)."""
    params = load_params({"data.demo.n_customers": 300, "monitor.production.months_later": 6,
                          "data.events.cutoff": "2026-03-01"}, ROOT)
    frame, about = demo_window(params, CHARTER)
    assert 250 <= len(frame) <= 300  # re-sent duplicates and bad rows are quarantined, not scored
    assert about["cutoff"] == "2026-09-01"
    assert about["quality"]["rows_in"] > len(frame) and about["quality"]["rows_quarantined"] > 0


def test_auc_drop_is_only_computed_when_outcomes_are_in():
    assert auc_drop(0.84, 0.78) == pytest.approx(0.06)
    assert auc_drop(0.84, None) is None and auc_drop(None, 0.8) is None


@pytest.mark.parametrize("drifted, psi, drop, reasons", [
    ([False] * 10, 0.05, 0.0, []),
    ([True] * 2 + [False] * 8, 0.05, None, ["max_drifted_share"]),
    ([False] * 10, 0.05, 0.06, ["max_auc_drop"]),
    ([True] * 10, 0.5, 0.2, ["max_drifted_share", "max_prediction_psi", "max_auc_drop"]),
])
def test_retrain_rules_name_the_params_key_they_breach(drifted, psi, drop, reasons):
    d = retrain_decision(pd.DataFrame({"drifted": drifted}), {"psi": psi}, drop, RULES)
    assert d["retrain"] == bool(reasons)
    assert [r for r in reasons if any(r in text for text in d["reasons"])] == reasons and len(d["reasons"]) == len(reasons)


def test_realised_auc_waits_for_both_outcomes():
    import numpy as np

    from mining.monitor.decision import realised_auc

    assert realised_auc(pd.Series([0, 1, 0, 1]), np.array([0.1, 0.9, 0.2, 0.8])) == 1.0
    assert realised_auc(pd.Series([0, 0, 0]), np.array([0.1, 0.2, 0.3])) is None
    assert realised_auc(None, np.array([0.1])) is None
