"""The MLflow model registry: versions registered with their lineage, signature and input example;
the champion alias moved only past the gates and the review board; rollback; the API on the alias."""

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import joblib
import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mining import reviews
from mining.catalog import Catalog, member
from mining.cli import main
from mining.deploy import releases
from mining.deploy.bundle import lineage_of, write_bundle
from mining.deploy.registry import CHALLENGER, CHAMPION, RegistryError, open_registry
from mining.deploy.server import OVERRIDES_ENV, app_from_env
from mining.enterprise.registration import register_blocked, register_run
from mining.lineage import content_hash
from mining.reports import read_json, write_json
from mining.train.candidates import build_candidate
from tests.conftest import params_root
from tests.test_safety import ROWS, approved_project

ROLES = ["model risk officer", "data protection officer"]
LINEAGE = {"git_commit": "0123abcdef", "git_dirty": False, "data_sha256": "ef" * 32, "features_sha256": "cd" * 32,
           "params_sha256": "12" * 32, "metrics": {"roc_auc": 0.84, "precision": 0.51}}


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project root (params only) with deploy's inputs for a one-feature logistic regression."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    root = params_root(tmp_path)
    defs = approved_project(root)
    return root, defs


def build(project, version: str, slope: float = 1.0, reviewers=()) -> str:
    """Deploy's bundle for model `version`: a logistic regression on x, its direction set by `slope`."""
    root, defs = project
    cat = Catalog(root)
    X = pd.DataFrame({"x": np.random.default_rng(0).normal(size=200)})
    joblib.dump(build_candidate("logreg", {}, defs, seed=0).fit(X, (slope * X["x"] > 0).astype(int)), cat["model"])
    write_json(cat["approval"], {"model_version": version, "automatic_checks_passed": True, "status": "approved",
                                 "failed_gates": [], "reviewers": list(reviewers)})
    meta = {"model_sha256": version + "0" * 52, "model": "logreg", "task": "classification"}
    write_bundle(root, defs, meta, ROWS, ROWS, lineage=LINEAGE)
    return version


def built(project, version: str, reviewers=()) -> Path:
    build(project, version, reviewers=reviewers)
    return Catalog(project[0])["serving"]


def test_a_version_is_registered_once_with_its_lineage_signature_and_input_example(project, monkeypatch):
    root, _ = project
    version = build(project, "aaaa00000001")
    assert releases.ensure_champion(root) == version
    reg = open_registry(root)
    number = reg.version_of(version)
    tags = reg.tags(number)
    assert tags["git_commit"] == "0123abcdef" and tags["data_sha256"] == "ef" * 32 and tags["params_sha256"] == "12" * 32
    assert tags["metric.roc_auc"] == "0.84" and tags["gates"] == "1 passed" and tags["governance"] == "approved"
    assert tags["model_card_sha256"] == content_hash(Catalog(root)["model_card_json"])
    assert tags["bundle_sha256"] == content_hash(releases.bundle_dir(root, version))
    releases.keep(root, Catalog(root)["serving"], "the same build again")  # a rerun registers nothing new
    assert reg.numbers() == [number] and reg.alias(CHAMPION) == number
    monkeypatch.setenv("MLFLOW_TRACKING_URI", reg.uri)  # as a user outside the API would load it
    model = mlflow.pyfunc.load_model(f"models:/{reg.name}@{CHAMPION}")
    assert model.metadata.get_input_schema().input_names() == ["x"]
    assert model.metadata.get_output_schema().input_names() == ["score"]
    example = json.loads((Catalog(root)["serving"] / member("serving_example")).read_text())
    assert len(example) == 5 and model.metadata.saved_input_example_info is not None
    served = joblib.load(Catalog(root)["serving"] / member("serving_model"))
    assert np.allclose(model.predict(ROWS).to_numpy(), served.predict_proba(ROWS)[:, 1])


def test_the_enterprise_stage_registers_each_run_once_and_moves_no_alias(project):
    root, defs = project
    build(project, "aaaa00000001")
    meta = {"model_sha256": "aaaa00000001" + "0" * 52, "model": "logreg", "task": "classification"}
    first = register_run(root, {}, meta, defs, ROWS, {"status": "approved"}, [])
    assert first == {"version": "aaaa00000001", "number": "1", "aliases": [], "status": "registered"}
    assert register_run(root, {}, meta, defs, ROWS, {"status": "approved"}, []) == first  # a rerun
    assert releases.champion_dir(root) == Catalog(root)["serving"]  # no release yet: the pipeline's bundle


def test_the_bundle_carries_the_lineage_of_code_data_params_and_metrics(project):
    root, _ = project
    cat = Catalog(root)
    cat["interim"].mkdir(parents=True)
    (cat["interim"] / "entities.parquet").write_bytes(b"rows")
    write_json(cat["ingest_lineage"], {"sources": [{"uri": "a.csv", "sha256": "ef" * 32}]})
    write_json(cat["model_card_json"], {"gates": [], "metrics": {"roc_auc": 0.84, "roc_auc_ci": [0.8, 0.9]}})
    meta = {"code": {"commit": "0123abc", "dirty": True}, "features_sha256": "cd" * 32}
    lin = lineage_of(root, {"train": {"time_budget_s": 120}}, meta)
    assert lin["data_sha256"] == content_hash(cat["interim"]) and lin["sources"] == [{"uri": "a.csv", "sha256": "ef" * 32}]
    assert lin["metrics"] == {"roc_auc": 0.84} and lin["git_dirty"] is True and len(lin["params_sha256"]) == 64
    assert lineage_of(root, {"train": {"time_budget_s": 60}}, meta)["params_sha256"] != lin["params_sha256"]


def test_promotion_is_refused_for_a_failing_gate_and_without_the_review_boards_approvals(project):
    root, defs = project
    cat = Catalog(root)
    build(project, "aaaa00000001")
    releases.ensure_champion(root)
    # a model whose holdout gate failed: registered (listed, with its lineage), never promoted
    cat["interim"].mkdir(parents=True)
    write_json(cat["ingest_lineage"], {"sources": []})
    write_json(cat["model_card_json"], {"gates": [], "metrics": {"roc_auc": 0.61}})
    failed = [{"gate": "holdout ROC AUC >= 0.7", "passed": False}]
    blocked = register_blocked(root, {}, {"model_sha256": "bbbb00000002" + "0" * 52, "model": "logreg",
                                          "task": "classification", "code": {"commit": None}, "features_sha256": ""},
                               defs, ROWS, {"status": "blocked"}, failed)
    reg = open_registry(root)
    assert blocked["status"] == "blocked" and reg.tags(blocked["number"])["gates"] == "failed: holdout ROC AUC >= 0.7"
    with pytest.raises(RegistryError, match=r"model bbbb00000002 failed its evaluation gates \['holdout ROC AUC >= 0.7'\]"):
        releases.promote(root, "by hand", "bbbb00000002")
    # a high-risk use case: the challenger needs every reviewer's approval of its card
    write_json(cat["model_card_json"], {"gates": [{"gate": "holdout ROC AUC", "passed": True}]})
    releases.start_shadow(root, built(project, "cccc00000003", ROLES), "new build")
    write_json(cat["charter"], {"name": "churn", "high_risk": True})
    with pytest.raises(RegistryError, match="model cccc00000003 is a high-risk use case.*not promoted"):
        releases.promote(root, "better in shadow")
    assert releases.state(root)["champion"] == "aaaa00000001"
    card = read_json(releases.bundle_dir(root, "cccc00000003") / member("serving_info"))["model_card_sha256"]
    for role in ROLES:
        reviews.record(cat["reviews"], model_version="cccc00000003", reviewer="R", role=role, decision="approve",
                       conditions=None, card_sha256=card, roles=ROLES)
    assert releases.promote(root, "better in shadow")["champion"] == "cccc00000003"
    assert (reg.alias(CHAMPION), reg.alias(CHALLENGER)) == (reg.version_of("cccc00000003"), None)


def test_rollback_restores_the_previous_champion_and_the_api_serves_it(project, monkeypatch):
    root, _ = project
    cat = Catalog(root)
    build(project, "aaaa00000001")
    releases.ensure_champion(root)
    releases.start_shadow(root, built(project, "dddd00000004"), "retrained")
    releases.promote(root, "better in shadow")
    monkeypatch.setenv("MINING_PROJECT_ROOT", str(root))
    monkeypatch.setenv(OVERRIDES_ENV, json.dumps({"deploy.auth": False}))

    def served() -> str:
        with TestClient(app_from_env()) as client:
            return client.get("/v1/model").json()["model_version"]

    assert served() == "dddd00000004"
    monkeypatch.chdir(root)
    assert main(["models", "rollback", "--reason", "complaints about the new scores"]) == 0
    st = releases.state(root)
    assert st["champion"] == "aaaa00000001" and served() == "aaaa00000001"
    assert [(e["event"], e["version"]) for e in st["history"]][-2:] == [("rolled back", "dddd00000004"),
                                                                        ("restored", "aaaa00000001")]
    with pytest.raises(RegistryError, match="has no previous champion"):
        releases.rollback(root, "again")
    # a pinned version by number; the served copy checked against its registered sha256
    monkeypatch.setenv(OVERRIDES_ENV, json.dumps({"deploy.auth": False, "deploy.serves": "2"}))
    assert served() == "dddd00000004"
    (releases.bundle_dir(root, "aaaa00000001") / member("serving_info")).write_text("{}")
    with pytest.raises(RegistryError, match="differs from the registry's .* refusing to serve them"):
        releases.champion_dir(root)
    shutil.rmtree(releases.bundle_dir(root, "aaaa00000001"))  # gone from disk: fetched again from the registry
    assert releases.version_of(releases.champion_dir(root)) == "aaaa00000001"
    assert main(["models", "archive", "aaaa00000001", "--reason", "x"]) == 1  # the champion is not archived
    assert main(["models", "archive", "dddd00000004", "--reason", "superseded"]) == 0
    assert open_registry(root).tags("2")["status"] == "archived" and cat["serving"].exists()


@pytest.fixture
def tracking_server(tmp_path):
    """An MLflow tracking server on a free loopback port, artefacts proxied (as a team would share one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = tmp_path / "server"
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{store}.db",
                             "--artifacts-destination", str(store / "artifacts"), "--serve-artifacts",
                             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("the MLflow tracking server did not start")
            time.sleep(0.5)
    yield url
    subprocess.run(["pkill", "-TERM", "-s", str(proc.pid)], check=False)
    proc.wait(timeout=30)


def test_a_tracking_server_named_by_mlflow_tracking_uri_holds_the_registry(project, tracking_server, monkeypatch):
    root, _ = project
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server)
    build(project, "aaaa00000001")
    releases.ensure_champion(root)
    releases.start_shadow(root, built(project, "dddd00000004"), "retrained")
    releases.promote(root, "better in shadow")
    reg = open_registry(root)
    assert reg.uri == tracking_server and not Catalog(root)["mlflow_db"].exists()  # nothing in the local store
    shutil.rmtree(releases.bundle_dir(root, "aaaa00000001"))  # only the server has it now
    assert releases.rollback(root, "by hand")["champion"] == "aaaa00000001"
    assert releases.version_of(releases.champion_dir(root)) == "aaaa00000001"
