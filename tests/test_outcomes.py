"""Outcomes from operations: read as exported, checked row by row, joined to the logged decisions by
pseudonym, and the realised performance of each model version."""

import pandas as pd
import pytest

from mining.deploy.inference_log import pseudonymiser
from mining.monitor.feedback import read_feedback, with_outcomes
from mining.monitor.outcomes import OutcomeError, import_outcomes, read_outcomes, realised_by_version, validated


def logged(version: str, ids: list[str], scores: list[float], threshold: float, start: str) -> pd.DataFrame:
    return pd.DataFrame({"request_id": [f"{version}-{i}" for i in ids], "route": "live", "model_version": version,
                         "at": pd.date_range(start, periods=len(ids), freq="h", tz="UTC"), "record_id": ids,
                         "score": scores, "decision": ["flagged" if s >= threshold else "not flagged" for s in scores]})


def test_the_realised_auc_per_version_on_a_known_example():
    # v1: positives scored 0.9 and 0.3, negatives 0.8 and 0.2: 3 of the 4 pairs ranked right, AUC 0.75
    v1 = logged("v1", ["a", "b", "c", "d"], [0.9, 0.8, 0.3, 0.2], 0.5, "2026-03-01")
    # v2: every positive above every negative (AUC 1); e has no outcome yet; b scored again (its latest counts)
    v2 = logged("v2", ["e", "f", "g", "h", "b"], [0.7, 0.6, 0.4, 0.1, 0.05], 0.5, "2026-03-02")
    shadow = logged("v3", ["a", "b"], [0.1, 0.9], 0.5, "2026-03-02").assign(route="shadow")  # not a decision made
    outcomes = pd.Series({"a": 1, "b": 0, "c": 1, "d": 0, "f": 1, "g": 0, "h": 0})
    table = realised_by_version(with_outcomes(pd.concat([v1, v2, shadow]), outcomes)).set_index("model_version")
    assert table.index.tolist() == ["v1", "v2"]
    assert table.loc["v1", "realised_roc_auc"] == 0.75 and table.loc["v1", "realised_precision"] == 0.5
    assert table.loc["v1", "realised_recall"] == 0.5 and table.loc["v1", "labelled"] == 4
    assert table.loc["v2", "realised_roc_auc"] == 1.0 and table.loc["v2", "labelled"] == 4
    assert table.loc["v2", "decisions"] == 5 and table.loc["v2", "positives"] == 1


def test_outcomes_are_read_as_exported_and_a_bad_row_is_named(tmp_path):
    good = tmp_path / "outcomes.csv"
    good.write_text("id,outcome,date\nc1,yes,2026-03-01\nc2,0,2026-03-02T10:00:00Z\nc3,TRUE,2026-03-03\n")
    rows, where = read_outcomes(str(good))
    out = validated(rows, where)
    assert out["outcome"].tolist() == [1, 0, 1] and out["date"].dt.tz is not None
    bad = tmp_path / "bad.csv"
    bad.write_text("id,outcome,date\nc1,1,2026-03-01\nc2,maybe,2026-03-02\nc3,1,2026-03-03\n")
    with pytest.raises(OutcomeError, match=r"bad.csv: row 2 \(line 3\), field outcome: 'maybe' is not 1/0"):
        validated(*read_outcomes(str(bad)))
    bad.write_text("id,outcome,when\nc1,1,2026-03-01\n")
    with pytest.raises(OutcomeError, match=r"missing column\(s\) \['date'\]"):
        validated(*read_outcomes(str(bad)))
    bad.write_text("id,outcome,date\n,1,2026-03-01\nc2,1,not a date\n")
    with pytest.raises(OutcomeError, match=r"row 1 \(line 2\), field id"):
        validated(*read_outcomes(str(bad)))
    with pytest.raises(OutcomeError, match="needs --table"):
        read_outcomes("sqlite:///x.db")


def test_imported_outcomes_join_the_log_by_pseudonym_and_unmatched_ones_are_counted(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    pseudonym = pseudonymiser("MINING_TEST_NO_SUCH_KEY", tmp_path / "key")
    outcomes = validated(pd.DataFrame({"id": ["c1", "c2", "zz"], "outcome": ["1", "0", "1"],
                                       "date": ["2026-03-01", "2026-03-02", "2026-03-03"]}), "ops")
    done = import_outcomes(url, outcomes, pseudonym, {pseudonym("c1"), pseudonym("c2")})
    assert done == {"written": 3, "matched": 2, "unmatched": 1}
    stored = read_feedback(url)
    assert stored[pseudonym("c1")] == 1 and stored[pseudonym("c2")] == 0 and "c1" not in stored.index  # no raw id
    assert len(read_feedback(url, pd.Timestamp("2026-03-01T12:00", tz="UTC"))) == 1  # arrived by their date


def test_mining_outcomes_imports_a_file_into_the_live_feedback_table_or_names_the_bad_row(tiny_project):
    from mining.catalog import Catalog
    from mining.sandbox import run

    good = tiny_project / "ops.csv"
    good.write_text("id,outcome,date\nC1,1,2026-03-01\nC2,no,2026-03-02\n")
    out = run(["mining", "outcomes", str(good)], tiny_project).stdout
    assert "outcomes: 2 written to the feedback table, 0 matching a logged decision, 2 not" in out
    assert len(read_feedback(f"sqlite:///{Catalog(tiny_project)['inference_log']}")) == 2
    bad = tiny_project / "bad.csv"
    bad.write_text("id,outcome,date\nC3,1,yesterday\n")
    refused = run(["mining", "outcomes", str(bad)], tiny_project, check=False)
    assert refused.returncode == 1 and "bad.csv: row 1 (line 2), field date: 'yesterday' is not a date" in refused.stderr
