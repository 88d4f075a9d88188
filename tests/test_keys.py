"""API keys and scopes, and a bundle that was changed after deploy."""

import pickle
import time

import pytest
from fastapi.testclient import TestClient

from mining.catalog import member
from mining.cli import main
from mining.deploy.api import Settings, create_app
from mining.deploy.bundle import Tampered
from mining.deploy.keys import KeyRefused, KeyStore
from mining.deploy.server import settings_from
from mining.params import load_params
from tests.conftest import params_root
from tests.test_api import approved_bundle


@pytest.fixture
def keys(tmp_path):
    return KeyStore(f"sqlite:///{tmp_path / 'keys.sqlite'}")


@pytest.fixture
def bundle(tmp_path_factory):
    return approved_bundle(tmp_path_factory.mktemp("bundle"))


RECORD = {"n_events_30d": 1, "income": 50.0, "plan": "basic"}


def test_keys_are_stored_hashed_and_shown_once(keys, tmp_path):
    key = keys.add("crm", ["predict"])
    assert key.startswith("mk_") and len(key) > 40
    assert key.encode() not in (tmp_path / "keys.sqlite").read_bytes()
    assert keys.lookup(key) == ("crm", frozenset({"predict"})) and keys.lookup("mk_nope") is None
    with pytest.raises(KeyRefused, match="already has a key"):
        keys.add("crm", ["predict"])
    with pytest.raises(KeyRefused, match=r"scopes \['delete'\]"):
        keys.add("bi", ["delete"])


def test_no_key_or_an_unknown_key_is_401_and_a_key_outside_its_scope_is_403(keys, bundle):
    predict, explain_only = keys.add("crm", ["predict"]), keys.add("audit", ["explain"])
    client = TestClient(create_app(bundle, keys, settings=Settings(keys_cache_s=0.3)))
    body = {"records": [RECORD]}
    assert client.post("/v1/predict", json=body).status_code == 401
    assert client.post("/v1/predict", json=body, headers={"X-API-Key": "mk_forged"}).status_code == 401
    denied = client.post("/v1/predict", json=body, headers={"X-API-Key": explain_only})
    assert denied.status_code == 403 and "lacks scope 'predict'" in denied.json()["detail"]
    ok = client.post("/v1/predict", json=body, headers={"X-API-Key": predict, "X-Purpose": "retention call list"})
    assert ok.status_code == 200 and 0 <= ok.json()["predictions"][0]["score"] <= 1
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200  # open to probes
    keys.revoke("crm")
    time.sleep(0.35)  # a revoke reaches running servers once their key cache (deploy.keys_cache_s) lapses
    assert client.post("/v1/predict", json=body, headers={"X-API-Key": predict}).status_code == 401


def test_a_model_file_changed_after_deploy_is_refused_and_never_unpickled(bundle, tmp_path):
    class Boom:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    (bundle / member("serving_model")).write_bytes(pickle.dumps(Boom()))
    with pytest.raises(Tampered, match=rf"{member('serving_model')}: sha256 .* differs from the bundle's record"):
        create_app(bundle)
    assert not (tmp_path / "pwned").exists()


def test_the_keys_command_prints_a_key_once(tmp_path, monkeypatch, capsys):
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    shutil.copytree(root / "params", tmp_path / "params")
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.setenv("MINING_PROJECT_ROOT", str(tmp_path))
    assert main(["keys", "add", "crm", "--scopes", "predict,explain"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("mk_")
    assert main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert "crm" in listed and "explain,predict" in listed and key not in listed
    assert main(["keys", "add", "bi", "--scopes", "delete"]) == 1


def test_serve_refuses_to_start_without_a_key_unless_auth_is_off(tmp_path, monkeypatch, capsys, caplog):
    root = params_root(tmp_path)
    monkeypatch.setenv("MINING_PROJECT_ROOT", str(root))
    assert main(["serve", "--set", "deploy.port=1"]) == 1
    assert "no API key yet: create one with `mining keys add APP --scopes predict`" in capsys.readouterr().err
    open_settings = settings_from(load_params({"deploy.auth": False}, root))
    assert open_settings.keys is None and "deploy.auth is false: the API answers anyone" in caplog.text
    open_settings.log.close()
