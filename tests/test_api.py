import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mining.catalog import member
from mining.deploy.api import create_app
from mining.deploy.bundle import records_of
from mining.deploy.bundle import input_schema, pack
from mining.reports import write_json
from mining.train.candidates import build_candidate

DEFS = {"features": [
    {"name": "n_events_30d", "kind": "numeric", "encoding": "none", "missing_share": 0.0, "min": 0.0,
     "description": "events in 30 days"},
    {"name": "income", "kind": "numeric", "encoding": "none", "missing_share": 0.1, "min": 10.0, "description": "income"},
    {"name": "plan", "kind": "categorical", "encoding": "onehot", "missing_share": 0.0, "description": "plan"},
], "imputation": {}, "roles": {"id": "customer_id"}}


def approved_bundle(d):
    """A classifier bundle in folder `d`, approved for its version abc123."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"n_events_30d": rng.poisson(3, 300).astype(float), "income": rng.normal(50, 10, 300),
                      "plan": rng.choice(["basic", "plus"], 300)})
    y = (X["n_events_30d"] < 2).astype(int)
    model = build_candidate("logreg", {}, DEFS, seed=0, n_jobs=1, class_weight=None).fit(X, y)
    pack(d, model, {"task": "classification", "model_version": "abc123", "model_type": "logreg", "threshold": 0.5,
                    "id_column": "customer_id", "inputs": input_schema(DEFS)},
         {"model_version": "abc123", "automatic_checks_passed": True})
    return d


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    return TestClient(create_app(approved_bundle(tmp_path_factory.mktemp("bundle"))))


def test_valid_request_is_scored(client):
    r = client.post("/v1/predict", json={"records": [{"n_events_30d": 0, "income": None, "plan": "basic"},
                                                     {"n_events_30d": 9, "income": 60.5, "plan": "new-plan"}],
                                         "ids": ["c1", "c2"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"] == "abc123"
    p1, p2 = body["predictions"]
    assert p1["id"] == "c1" and p1["score"] > p2["score"] and p1["flagged"] and not p2["flagged"]


@pytest.mark.parametrize("record, field, problem", [
    ({"n_events_30d": "many", "income": 1.0, "plan": "basic"}, "n_events_30d", "valid number"),
    ({"n_events_30d": -1, "income": 1.0, "plan": "basic"}, "n_events_30d", "greater than or equal to 0"),
    ({"income": 1.0, "plan": "basic"}, "n_events_30d", "Field required"),
    ({"n_events_30d": None, "income": 1.0, "plan": "basic"}, "n_events_30d", "valid number"),
    ({"n_events_30d": 1, "income": 1.0, "plan": "basic", "ssn": "x"}, "ssn", "Extra inputs are not permitted"),
])
def test_bad_record_gets_a_422_naming_the_field(client, record, field, problem):
    r = client.post("/v1/predict", json={"records": [record]})
    assert r.status_code == 422
    errors = r.json()["detail"]
    assert any(e["loc"][-1] == field and problem in e["msg"] for e in errors), errors


def test_empty_batch_is_refused_and_health_answers(client):
    assert client.post("/v1/predict", json={"records": []}).status_code == 422
    assert client.get("/v1/health").json() == {"status": "ok", "model_version": "abc123"}
    assert "/v1/predict" in client.get("/openapi.json").json()["paths"]


def test_records_of_turns_nan_into_null():
    recs = records_of(pd.DataFrame({"a": [1.0, np.nan], "b": ["x", None]}))
    assert recs == [{"a": 1.0, "b": "x"}, {"a": None, "b": None}]


@pytest.mark.parametrize("approval, message", [
    (None, "no governance approval: model abc123 is not served"),
    ({"model_version": "abc123", "automatic_checks_passed": False, "status": "blocked",
      "failed_gates": ["equalized-odds difference by senior_citizen"]}, "governance blocked model abc123"),
    ({"model_version": "zzz999", "automatic_checks_passed": True}, "the approval is for model zzz999, not abc123"),
])
def test_a_bundle_without_a_passing_approval_for_its_model_is_refused(client, tmp_path, approval, message):
    import shutil

    from mining.deploy.bundle import NotApproved

    bundle = tmp_path / "bundle"
    shutil.copytree(client.app.state.bundle_dir, bundle)
    (bundle / member("serving_approval")).unlink()
    if approval is not None:
        write_json(bundle / member("serving_approval"), approval)
    with pytest.raises(NotApproved, match=message):
        create_app(bundle)
