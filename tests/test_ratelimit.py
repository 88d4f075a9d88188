"""Rate limits per key: 429 with Retry-After, in process and shared through Redis."""

import uuid

import pytest
from fastapi.testclient import TestClient

from mining.deploy.api import create_app
from mining.deploy.keys import KeyStore
from mining.deploy.ratelimit import RateLimit
from tests.test_api import approved_bundle

RECORD = {"n_events_30d": 1, "income": 50.0, "plan": "basic"}


@pytest.fixture
def bundle(tmp_path_factory):
    return approved_bundle(tmp_path_factory.mktemp("bundle"))


def calls(client, key, n):
    return [client.post("/v1/predict", json={"records": [RECORD]}, headers={"X-API-Key": key}) for _ in range(n)]


def test_past_its_limit_a_key_gets_429_with_retry_after_and_other_keys_do_not(tmp_path, bundle):
    keys = KeyStore(f"sqlite:///{tmp_path / 'keys.sqlite'}")
    crm, bi = keys.add("crm", ["predict"]), keys.add("bi", ["predict"])
    client = TestClient(create_app(bundle, keys, RateLimit(3)))
    answers = calls(client, crm, 4)
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60 and "3 per 1 minute" in answers[-1].json()["detail"]
    assert calls(client, bi, 1)[0].status_code == 200  # each key has its own allowance


def test_replicas_share_one_allowance_through_redis(tmp_path, bundle, redis_url):
    keys = KeyStore(f"sqlite:///{tmp_path / 'keys.sqlite'}")
    app_name = f"crm-{uuid.uuid4().hex[:8]}"  # a fresh counter in the shared Redis
    key = keys.add(app_name, ["predict"])
    replicas = [TestClient(create_app(bundle, keys, RateLimit(4, redis_url))) for _ in range(2)]
    statuses = [r.status_code for i in range(6) for r in calls(replicas[i % 2], key, 1)]
    assert statuses == [200, 200, 200, 200, 429, 429]
