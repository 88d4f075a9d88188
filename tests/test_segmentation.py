import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import make_blobs

from mining.deploy.api import create_app
from mining.deploy.bundle import records_of
from mining.deploy.bundle import input_schema, pack
from mining.evaluate.segments import composition, separation, share_stability
from mining.fairness_gates import audit_segments
from mining.train.segment import profiles, search_segments

DEFS = {"features": [{"name": f"x{i}", "kind": "numeric", "encoding": "none", "missing_share": 0.0,
                      "description": f"x{i}"} for i in range(3)] +
                    [{"name": "plan", "kind": "categorical", "encoding": "onehot", "missing_share": 0.0,
                      "description": "plan"},
                     {"name": "zip", "kind": "categorical", "encoding": "target", "missing_share": 0.0,
                      "description": "zip"}],
        "imputation": {}, "roles": {"id": "id"}}


@pytest.fixture(scope="module")
def blobs():
    X, labels = make_blobs(n_samples=900, centers=[[0, 0, 0], [6, 6, 0], [0, 6, 6]], cluster_std=1.0, random_state=0)
    rng = np.random.default_rng(0)
    df = pd.DataFrame(X, columns=["x0", "x1", "x2"]).assign(
        plan=rng.choice(["a", "b"], len(X)), zip=rng.choice([f"z{i}" for i in range(200)], len(X)),
        gender=np.where(labels == 0, "F", rng.choice(["F", "M"], len(X))), id=[f"c{i}" for i in range(len(X))])
    return df, labels


def test_the_number_of_segments_is_found_in_the_data(blobs):
    df, labels = blobs
    seg = search_segments(df[["x0", "x1", "x2", "plan", "zip"]], DEFS, k_min=2, k_max=6, methods=["kmeans", "gmm"],
                          sample=900, seed=0)
    assert seg.k == 3
    assert set(seg.candidates["method"]) == {"kmeans", "gmm"} and len(seg.candidates) == 10
    assert seg.candidates["bic"].notna().sum() == 5
    agreement = pd.crosstab(seg.labels, labels).max(axis=1).sum() / len(labels)
    assert agreement > 0.95
    assert "zip" not in str(seg.model[0].get_feature_names_out())  # high-cardinality field left out
    prof = profiles(df, seg.labels, DEFS)
    assert prof["customers"].sum() == len(df) and prof["name"].str.contains("high|low").all()


def test_stability_composition_and_separation(blobs):
    df, labels = blobs
    assert share_stability(labels[:450], labels[450:], 3)["psi"] < 0.05
    table, gap = composition(labels, df["gender"])
    assert gap > 0.3  # segment 0 is all F by construction
    assert set(table["group"]) == {"F", "M"}
    sep = separation(df, labels, DEFS)
    assert sep.loc[0, "importance"] > 0.7


def test_segment_audit_gates_on_the_charter_limit(blobs):
    df, labels = blobs
    pred = df.assign(segment=labels)
    kpis = {"min_group_size": 50, "max_demographic_parity_difference": 0.2}
    table, gates = audit_segments(pred, ["gender"], kpis, where="r")
    gap = {g["gate"]: g for g in gates}["largest segment-share gap by gender"]
    assert not gap["passed"] and gap["measured"] > 0.3
    assert {g["gate"]: g for g in gates}["groups large enough to judge by gender"]["passed"]
    assert (table["status"] == "fail").any()
    _, open_gates = audit_segments(pred, ["gender"], {**kpis, "max_demographic_parity_difference": None}, where="r")
    assert all(g["passed"] for g in open_gates)
    _, typo = audit_segments(pred, ["gendr"], kpis, where="r")
    assert [(g["gate"], g["passed"]) for g in typo] == [("groups large enough to judge by gendr", False)]


def test_the_api_serves_segments(tmp_path, blobs):
    df, _ = blobs
    seg = search_segments(df[["x0", "x1", "x2", "plan", "zip"]], DEFS, k_min=3, k_max=3, methods=["kmeans"],
                          sample=500, seed=0)
    pack(tmp_path, seg.model, {"task": "segmentation", "model_version": "s1", "model_type": "kmeans-k3",
                               "threshold": None, "id_column": "id", "inputs": input_schema(DEFS)},
         {"model_version": "s1", "automatic_checks_passed": True})
    client = TestClient(create_app(tmp_path))
    recs = records_of(df[["x0", "x1", "x2", "plan", "zip"]].head(3))
    r = client.post("/v1/predict", json={"records": recs, "ids": ["a", "b", "c"]})
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert [p["segment"] for p in preds] == seg.model.predict(df.head(3)[["x0", "x1", "x2", "plan", "zip"]]).tolist()
    assert "score" not in preds[0]
    assert client.post("/v1/predict", json={"records": recs, "ids": ["a"]}).status_code == 422
