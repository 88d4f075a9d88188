"""The production API: canary and shadow, cache, the inference log, ids from the online store, the
frozen /v1 contract, explanations, metrics, body limits and TLS."""

import datetime as dt
import ipaddress
import shutil
import socket
import ssl
import threading
import time

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from mining.catalog import Catalog, member
from mining.deploy.api import Settings, create_app
from mining.deploy.bundle import input_schema, pack, verify_scorer
from mining.deploy.cache import PredictionCache
from mining.deploy.contract import BreakingChange, breaking_changes, freeze, held_contract, openapi_of
from mining.deploy.inference_log import InferenceLog, pseudonymiser, read_log
from mining.deploy.routing import CANARY, route
from mining.deploy.scoring import Served
from mining.features.online import OnlineStore
from mining.reports import read_json, write_json
from mining.train.candidates import build_candidate

FEATURES = [
    {"name": "n_events_30d", "kind": "numeric", "encoding": "none", "missing_share": 0.0, "min": 0.0,
     "description": "events in 30 days"},
    {"name": "income", "kind": "numeric", "encoding": "none", "missing_share": 0.1, "min": 10.0, "description": "income"},
    {"name": "plan", "kind": "categorical", "encoding": "onehot", "missing_share": 0.0, "description": "plan"},
]
EXTRA = {"name": "tenure", "kind": "numeric", "encoding": "none", "missing_share": 0.0, "min": 0.0, "description": "tenure"}
RECORD = {"n_events_30d": 1.0, "income": 50.0, "plan": "basic"}


def training_rows(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"n_events_30d": rng.poisson(3, n).astype(float), "income": rng.normal(50, 10, n),
                      "plan": rng.choice(["basic", "plus", "pro"], n), "tenure": rng.integers(0, 60, n).astype(float)})
    X.loc[X.sample(frac=0.1, random_state=seed).index, "income"] = np.nan
    y = ((X["n_events_30d"] < 2) | (X["tenure"] < 5)).astype(int)
    return X, y


def make_bundle(folder, version, features=FEATURES, model_name="lightgbm", previous=None):
    """An approved bundle of a fitted model, its compiled scorer verified as deploy does."""
    defs = {"features": features, "imputation": {}, "roles": {"id": "customer_id"}}
    X, y = training_rows()
    cols = [f["name"] for f in features]
    settings = {"n_estimators": 50, "num_leaves": 7} if model_name == "lightgbm" else {}
    model = build_candidate(model_name, settings, defs, seed=0, early_stopping_rounds=10).fit(X[cols], y)
    inputs = input_schema(defs, X[cols], previous)
    pack(folder, model, {"task": "classification", "model_version": version, "model_type": model_name,
                         "threshold": 0.5, "id_column": "customer_id", "inputs": inputs,
                         "scorer": verify_scorer(model, inputs, X[cols])},
         {"model_version": version, "automatic_checks_passed": True})
    return folder


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    live = make_bundle(tmp_path_factory.mktemp("live"), "live0000001")
    candidate = make_bundle(tmp_path_factory.mktemp("cand"), "cand0000002", model_name="logreg")
    return live, candidate


def logged(tmp_path, **settings):
    url = f"sqlite:///{tmp_path / 'served.db'}"
    log = InferenceLog(url)
    return Settings(log=log, pseudonym=pseudonymiser("NO_SUCH_ENV_FOR_TESTS", tmp_path / "pseudonym.key"),
                    **settings), url


def test_the_canary_gets_its_share_of_ids_within_a_point_and_each_id_sticks():
    ids = [f"C{i:06d}" for i in range(10_000)]
    routes = [route(i, 0.05, True, False) for i in ids]
    assert abs(routes.count(CANARY) / len(ids) - 0.05) <= 0.01
    assert routes == [route(i, 0.05, True, False) for i in ids]  # sticky: the same id, the same model
    assert set(route(i, 0.05, False, False) for i in ids[:100]) == {"live"}  # no candidate, no canary
    assert set(route(i, 0.05, True, True) for i in ids[:100]) == {"live"}  # shadow never answers


def test_a_canary_answers_its_ids_and_both_versions_are_logged(bundles, tmp_path):
    live, candidate = bundles
    settings, url = logged(tmp_path, canary_share=0.3)
    with TestClient(create_app(live, settings=settings, candidate_dir=candidate)) as client:
        ids = [f"C{i}" for i in range(40)]
        body = {"records": [RECORD] * 40, "ids": ids}
        first = client.post("/v1/predict", json=body, headers={"X-Purpose": "retention list"}).json()["predictions"]
        again = client.post("/v1/predict", json=body).json()["predictions"]
        shares = client.get("/v1/models").json()["models"]
    versions = [p["model_version"] for p in first]
    assert versions == [p["model_version"] for p in again]  # sticky
    assert set(versions) == {"live0000001", "cand0000002"}
    assert [p["model_version"] for p in first] == ["cand0000002" if route(i, 0.3, True, False) == CANARY
                                                   else "live0000001" for i in ids]
    assert [(m["role"], m["traffic_share"], m["scorer"]) for m in shares] == [("live", 0.7, "compiled"),
                                                                           ("canary", 0.3, "compiled")]
    rows = pd.DataFrame(read_log(url))
    assert len(rows) == 80 and set(rows["route"]) == {"live", "canary"}
    assert (rows.groupby("route")["model_version"].first() == pd.Series({"canary": "cand0000002",
                                                                         "live": "live0000001"})).all()
    assert rows["purpose"].iloc[:40].eq("retention list").all() and rows["app"].eq("anonymous").all()
    assert not rows["record_id"].isin(ids).any() and rows["record_id"].str.len().eq(32).all()  # pseudonymised


def test_shadow_scores_the_candidate_after_the_response_and_logs_both(bundles, tmp_path):
    live, candidate = bundles
    settings, url = logged(tmp_path, shadow=True)
    with TestClient(create_app(live, settings=settings, candidate_dir=candidate)) as client:
        r = client.post("/v1/predict", json={"records": [RECORD, dict(RECORD, plan="pro")], "ids": ["a", "b"]})
    assert {p["model_version"] for p in r.json()["predictions"]} == {"live0000001"}
    rows = pd.DataFrame(read_log(url))
    assert sorted(rows["route"]) == ["live", "live", "shadow", "shadow"]
    assert rows["request_id"].nunique() == 1 and set(rows["model_version"]) == {"live0000001", "cand0000002"}
    live_rows, shadow_rows = rows[rows.route == "live"], rows[rows.route == "shadow"]
    assert list(live_rows["features_sha256"]) == list(shadow_rows["features_sha256"])


def test_a_repeated_record_is_a_cache_hit_with_the_same_score(bundles, tmp_path):
    live, _ = bundles
    settings, url = logged(tmp_path, cache=PredictionCache(60, 100))
    with TestClient(create_app(live, settings=settings)) as client:
        a = client.post("/v1/predict", json={"records": [RECORD]}).json()["predictions"][0]
        b = client.post("/v1/predict", json={"records": [RECORD]}).json()["predictions"][0]
        metrics = client.get("/metrics").text
    assert a["score"] == b["score"]
    assert [r["cached"] for r in read_log(url)] == [False, True]
    assert 'mining_api_cache_total{result="hit"} 1.0' in metrics and 'mining_api_cache_total{result="miss"} 1.0' in metrics
    assert 'mining_api_records_scored_total{model_version="live0000001",route="live"} 2.0' in metrics
    assert 'mining_api_request_seconds_bucket{le="0.01",path="/v1/predict"}' in metrics


def test_the_cache_in_redis_is_shared_by_replicas(bundles, tmp_path, redis_url):
    live, _ = bundles
    record = dict(RECORD, income=float(time.time() % 1000))  # fresh features: no entry from earlier runs
    apps = [TestClient(create_app(live, settings=Settings(cache=PredictionCache(60, 10, redis_url))))
            for _ in range(2)]
    first = apps[0].post("/v1/predict", json={"records": [record]}).json()["predictions"][0]["score"]
    second = apps[1].post("/v1/predict", json={"records": [record]}).json()["predictions"][0]["score"]
    assert first == second
    assert 'mining_api_cache_total{result="hit"} 1.0' in apps[1].get("/metrics").text


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_ids_alone_are_scored_from_the_online_store(bundles, tmp_path, store, request):
    live, _ = bundles
    url = f"sqlite:///{tmp_path / 'ids.db'}" if store == "sqlite" else request.getfixturevalue("redis_url")
    online = OnlineStore(url)
    tag = f"{time.time_ns()}"
    rows = pd.DataFrame({"customer_id": [f"a{tag}", f"b{tag}"], "n_events_30d": [0.0, 9.0],
                         "income": [np.nan, 60.0], "plan": ["basic", "pro"]})
    assert online.write(rows, "customer_id", "2026-01-01T00:00:00") == 2
    with TestClient(create_app(live, settings=Settings(online=online))) as client:
        by_id = client.post("/v1/predict", json={"ids": [f"a{tag}", f"b{tag}"]}).json()["predictions"]
        direct = client.post("/v1/predict", json={"records": [
            {"n_events_30d": 0.0, "income": None, "plan": "basic"},
            {"n_events_30d": 9.0, "income": 60.0, "plan": "pro"}]}).json()["predictions"]
        missing = client.post("/v1/predict", json={"ids": [f"a{tag}", "nobody"]})
    assert [p["score"] for p in by_id] == [p["score"] for p in direct]
    assert [p["id"] for p in by_id] == [f"a{tag}", f"b{tag}"]
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]


def test_a_v1_request_still_works_after_a_model_with_an_extra_input(bundles, tmp_path):
    v1 = make_bundle(tmp_path / "v1", "v1000000001")
    v2 = make_bundle(tmp_path / "v2", "v2000000002", features=[*FEATURES, EXTRA],
                     previous=read_json(v1 / member("serving_info"))["inputs"])
    doc1, doc2 = openapi_of(v1), openapi_of(v2)
    assert breaking_changes(doc1, doc2) == []
    assert "tenure" in doc2["components"]["schemas"]["Record"]["properties"]
    with TestClient(create_app(v2)) as client:
        old_style = client.post("/v1/predict", json={"records": [RECORD]})
        new_style = client.post("/v1/predict", json={"records": [dict(RECORD, tenure=2.0)]})
    assert old_style.status_code == 200 and new_style.status_code == 200
    assert old_style.json()["model_version"] == "v2000000002"
    v3 = make_bundle(tmp_path / "v3", "v3000000003", features=FEATURES[:2])  # drops `plan`
    problems = breaking_changes(doc1, openapi_of(v3))
    assert problems == ["input 'plan' removed: /v1 requests that send it would get 422"]


def test_deploy_refuses_a_bundle_that_breaks_v1_and_keeps_the_live_one(tmp_path):
    live = make_bundle(tmp_path / "live", "v1000000001")
    contract = tmp_path / "contract.json"
    freeze(contract, "crm.csv")(live)  # the first deploy: nothing to keep yet
    write_json(contract, {"data_source": "crm.csv", "openapi": read_json(live / member("openapi"))})
    wider = make_bundle(tmp_path / "wider", "v2000000002", features=[*FEATURES, EXTRA],
                        previous=read_json(live / member("serving_info"))["inputs"])
    freeze(contract, "crm.csv")(wider)  # an added optional input keeps every promise
    narrower = make_bundle(tmp_path / "staged", "v3000000003", features=FEATURES[:2])
    with pytest.raises(BreakingChange, match="input 'plan' removed"):
        freeze(contract, "crm.csv")(narrower)
    assert not (narrower / member("openapi")).exists()
    freeze(contract, "other-dataset.parquet")(narrower)  # another source: a new API, not a new version
    assert held_contract(contract, "other-dataset.parquet") is None


def test_explain_gives_the_top_reasons_in_words(bundles):
    live, _ = bundles
    with TestClient(create_app(live)) as client:
        r = client.post("/v1/explain", json={"record": dict(RECORD, n_events_30d=0.0), "top": 2})
        both = client.post("/v1/explain", json={"record": RECORD, "id": "x"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["reasons"]) == 2 and body["reasons"][0]["input"] == "n_events_30d"
    assert body["reasons"][0]["text"].startswith("n_events_30d = 0.0 raises the score")
    assert both.status_code == 422


def test_unseen_categories_are_noted_or_refused_by_param(bundles):
    live, _ = bundles
    odd = {"records": [dict(RECORD, plan="platinum")]}
    with TestClient(create_app(live, settings=Settings(unseen_categories="other"))) as client:
        noted = client.post("/v1/predict", json=odd)
    with TestClient(create_app(live, settings=Settings(unseen_categories="refuse"))) as client:
        refused = client.post("/v1/predict", json=odd)
    assert noted.status_code == 200
    assert noted.json()["predictions"][0]["notes"] == ["plan: 'platinum' was not seen in training: scored as an unknown level"]
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][-1] == "plan"


def test_a_body_over_the_limit_gets_413_and_probes_answer(bundles):
    live, _ = bundles
    with TestClient(create_app(live, settings=Settings(max_body_bytes=2000))) as client:
        big = client.post("/v1/predict", json={"records": [RECORD] * 100})
        assert big.status_code == 413 and "exceeds 2000" in big.json()["detail"]
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json()["status"] == "ready"


def test_the_log_keeps_every_row_from_concurrent_writers_and_postgres(tmp_path, postgres_url):
    for url in (f"sqlite:///{tmp_path / 'served.db'}", postgres_url):
        logs = [InferenceLog(url) for _ in range(3)]
        before = len(read_log(url))
        row = {"request_id": "r", "at": "2026-01-01T00:00:00", "app": "t", "purpose": None, "model_version": "v",
               "route": "live", "record_id": None, "features_sha256": "0" * 64, "features": "{}", "score": 0.5,
               "decision": "flagged", "cached": False, "latency_ms": 1.0}
        threads = [threading.Thread(target=lambda log=log: [log.write([row] * 7) for _ in range(100)]) for log in logs]
        [t.start() for t in threads]
        [t.join() for t in threads]
        [log.close() for log in logs]
        assert len(read_log(url)) - before == 3 * 100 * 7
        assert sum(log.written for log in logs) == 2100 and not any(log.failed for log in logs)


def self_signed(folder):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


def test_with_a_certificate_the_api_answers_https_only(bundles, tmp_path):
    live, _ = bundles
    cert, key = self_signed(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(live), host="127.0.0.1", port=port, log_level="warning",
                                           ssl_certfile=str(cert), ssl_keyfile=str(key)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        trust = ssl.create_default_context(cafile=str(cert))
        r = httpx.post(f"https://127.0.0.1:{port}/v1/predict", json={"records": [RECORD]}, verify=trust)
        assert r.status_code == 200 and 0 <= r.json()["predictions"][0]["score"] <= 1
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    finally:
        server.should_exit = True
        thread.join(5)


def test_a_logged_decision_is_explained_by_the_model_that_made_it(bundles, tmp_path):
    from mining.deploy.explanation import NoDecision, explain_decision, write_page
    live, _ = bundles
    settings, url = logged(tmp_path)
    root = tmp_path / "project"
    shutil.copytree(live, Catalog(root)["serving"])
    with TestClient(create_app(live, settings=settings)) as client:
        r = client.post("/v1/predict", json={"records": [dict(RECORD, n_events_30d=0.0)], "ids": ["cust-7"]},
                        headers={"X-Purpose": "retention call"})
    assert r.status_code == 200, r.text
    pseudonym = settings.pseudonym("cust-7")
    e = explain_decision(root, url, pseudonym, ["n_events_30d", "plan"])
    served = Served(live)
    assert e["score"] == pytest.approx(r.json()["predictions"][0]["score"]) and e["decision"] == "flagged"
    assert [x["input"] for x in e["reasons"]] == [x["input"] for x in served.explain(e["record"], 5)["reasons"]]
    assert e["reasons"][0]["input"] == "n_events_30d" and e["reasons"][0]["contribution"] > 0  # SHAP's top reason
    best = e["counterfactuals"][0]
    assert best["input"] == "n_events_30d" and best["flips"]  # more activity would have cleared this customer
    assert served.outputs([{**e["record"], "n_events_30d": best["to"]}])[0] < served.threshold
    page = write_page(root, e).read_text()
    assert "Why this decision" in page and "n_events_30d" in page and "cust-7" not in page
    with pytest.raises(NoDecision, match="no decision is logged"):
        explain_decision(root, url, settings.pseudonym("someone-else"), ["plan"])
