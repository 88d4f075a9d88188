"""Nothing lost, nothing leaked: redaction, atomic artefacts, one writer at a time, approved serving."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import nbformat
import numpy as np
import pandas as pd
import pytest

from mining import atomic
from mining.catalog import Catalog, member
from mining.deploy.bundle import NotApproved, write_bundle
from mining.ingest.stream import read_published
from mining.evaluate.calibration import Calibration
from mining.evaluate.results import write_shipped
from mining.locks import Busy, held
from mining.reports import read_json, write_json
from mining.runner import StageFailed, run_stage
from mining.secrets import SecretError, expand_env, literal_password, redact, redact_text
from mining.train.candidates import build_candidate
from tests.conftest import notebook
from tests.test_stream import SCHEMA, drop

ROOT = Path(__file__).resolve().parents[1]
VERSION = "abc123def456"


@pytest.mark.parametrize("text, shown", [
    ("postgresql+psycopg://etl:hunter22@db:5432/crm", "postgresql+psycopg://etl:***@db:5432/crm"),
    ("see https://ghp_tok3n@github.example/x for it", "see https://***@github.example/x for it"),
    ("s3://b/k.parquet?X-Amz-Signature=abc123&part=1", "s3://b/k.parquet?X-Amz-Signature=***&part=1"),
    ("postgresql://etl:${PGPASSWORD}@db/crm", "postgresql://etl:${PGPASSWORD}@db/crm"),
    ("sqlite:///data/warehouse/warehouse.sqlite", "sqlite:///data/warehouse/warehouse.sqlite"),
])
def test_urls_lose_their_credentials_wherever_they_appear(text, shown):
    assert redact_text(text) == shown
    assert redact({"a": [text], "n": 3}) == {"a": [shown], "n": 3}


def test_the_value_of_a_secret_environment_variable_is_masked_anywhere(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "expanded-Secret-1")
    assert redact_text("connected with expanded-Secret-1 as password") == "connected with *** as password"


def test_literal_passwords_are_told_apart_from_environment_references():
    assert literal_password("postgresql://u:pw@h/db") and literal_password("https://tok@h/x")
    assert not literal_password("postgresql://u:${PGPASSWORD}@h/db") and not literal_password("postgresql://u@h/db")


def test_only_credential_variables_expand_into_a_url(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "pw")
    monkeypatch.setenv("MINING_ENCRYPTION_KEY", "ab" * 32)
    assert expand_env("postgresql://u:${PGPASSWORD}@h/db") == "postgresql://u:pw@h/db"
    with pytest.raises(SecretError, match=r"may not name \$\{MINING_ENCRYPTION_KEY\}"):
        expand_env("https://h/x?k=${MINING_ENCRYPTION_KEY}")


def test_a_killed_write_leaves_the_previous_file_whole(tmp_path):
    path = atomic.write_text(tmp_path / "card.json", '{"v": 1}')
    with pytest.raises(RuntimeError), atomic.writing(path) as tmp:
        tmp.write_text('{"v": 2, "half')
        raise RuntimeError("killed")
    assert path.read_text() == '{"v": 1}' and [p.name for p in tmp_path.iterdir()] == ["card.json"]


def test_a_folder_is_published_whole_by_one_exchange(tmp_path):
    live = tmp_path / "serving"
    live.mkdir()
    (live / "m.bin").write_text("old")
    staging = atomic.staging_dir(live)
    (staging / "m.bin").write_text("new")
    atomic.publish_dir(staging, live)
    assert (live / "m.bin").read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["serving"]


ROWS = pd.DataFrame({"x": np.random.default_rng(1).normal(size=50)})  # training and check rows of the bundle


def approved_project(root: Path, approved: bool = True) -> dict:
    """The artefacts deploy reads: a fitted model, its threshold, its card and its approval."""
    cat = Catalog(root)
    defs = {"features": [{"name": "x", "kind": "numeric", "encoding": "none", "missing_share": 0.0,
                          "description": "x", "min": -3.0}], "imputation": {}, "roles": {"id": None}}
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=200)})
    cat["candidate"].mkdir(parents=True)
    joblib.dump(build_candidate("logreg", {}, defs, seed=0).fit(X, (X["x"] > 0).astype(int)), cat["model"])
    write_json(cat["threshold"], {"threshold": 0.5})
    write_json(cat["charter"], {"name": "churn", "high_risk": False})
    write_shipped(root, Calibration("sigmoid", {"a": 1.0, "b": 0.0}))  # the identity on the log-odds
    write_json(cat["model_card_json"], {"gates": [{"gate": "holdout ROC AUC", "passed": True}]})
    write_json(cat["approval"], {"model_version": VERSION, "automatic_checks_passed": approved, "status": "x",
                                 "failed_gates": [] if approved else ["equalized-odds difference by age_band"]})
    return defs


def test_only_an_approved_model_is_bundled_and_a_failed_deploy_keeps_the_served_bundle(tmp_path, monkeypatch):
    defs = approved_project(tmp_path)
    meta = {"model_sha256": VERSION + "0" * 52, "model": "logreg", "task": "classification"}
    bundle = write_bundle(tmp_path, defs, meta, ROWS, ROWS)
    before = {p.name: p.read_bytes() for p in bundle.iterdir()}
    assert read_json(bundle / member("serving_approval"))["model_version"] == VERSION

    def killed(model):
        raise OSError("No space left on device")

    monkeypatch.setattr("mining.deploy.bundle.for_serving", killed)
    with pytest.raises(OSError, match="No space left"):
        write_bundle(tmp_path, defs, meta, ROWS, ROWS)
    monkeypatch.undo()
    write_json(Catalog(tmp_path)["approval"], {"model_version": VERSION, "automatic_checks_passed": False,
                                               "status": "blocked", "failed_gates": ["eo by age_band"]})
    with pytest.raises(NotApproved, match=rf"governance blocked model {VERSION}"):
        write_bundle(tmp_path, defs, meta, ROWS, ROWS)
    assert {p.name: p.read_bytes() for p in bundle.iterdir()} == before  # still the approved bundle, whole
    assert sorted(p.name for p in bundle.parent.iterdir()) == ["candidate", "evaluation", "serving"]


def test_a_second_holder_of_a_lock_is_told_who_holds_it(tmp_path):
    with held(tmp_path / "train.lock", "stage train"):
        with pytest.raises(Busy, match=r"stage train is already running \(pid \d+\)"):
            with held(tmp_path / "train.lock", "stage train"):
                pass


def test_two_concurrent_stream_runs_publish_every_record_exactly_once(tmp_path):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    for i in range(12):
        drop(inbox, f"{i:03d}.jsonl", i * 50, 50)
    script = textwrap.dedent(f"""
        from pathlib import Path
        from mining.ingest.stream import run_batch
        from tests.test_stream import SCHEMA
        for _ in range(6):
            run_batch(Path({str(inbox)!r}), Path({str(out)!r}), SCHEMA, max_files=2)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT) for _ in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    rows = read_published(out)
    assert len(rows) == 600 and rows["seq"].nunique() == 600  # each record once, none lost
    assert SCHEMA  # the feed's declared fields


def test_a_cell_timeout_still_leaves_a_report(stage_project):
    nbformat.write(notebook("print('started')", "import time\ntime.sleep(30)"),
                   stage_project / "notebooks" / "04_train.ipynb")
    with pytest.raises(StageFailed, match=r"stage train failed in .*Timeout"):
        run_stage("train", stage_project, cell_timeout_s=2)
    html = Catalog(stage_project).report("train").read_text()
    assert "Stage failed" in html and "started" in html
    assert not list(Catalog(stage_project).executed("train").parent.glob(".*.running.ipynb"))


def test_overrides_carrying_a_secret_are_masked_in_the_executed_notebook_and_report(stage_project, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "planted-Secret-42")
    nbformat.write(notebook("import os\nprint(os.environ['PGPASSWORD'], overrides)"),
                   stage_project / "notebooks" / "04_train.ipynb")
    run_stage("train", stage_project, {"data.query": "SELECT 'planted-Secret-42'"})
    cat = Catalog(stage_project)
    for path in (cat.executed("train"), cat.report("train")):
        assert "planted-Secret-42" not in path.read_text() and "***" in path.read_text()


def test_a_stage_already_running_is_named(stage_project):
    nbformat.write(notebook("x = 1"), stage_project / "notebooks" / "04_train.ipynb")
    with held(Catalog(stage_project).lock("train"), "stage train"):
        with pytest.raises(Busy, match=r"stage train is already running \(pid \d+\)"):
            run_stage("train", stage_project)


def test_the_approval_record_json_is_redacted_on_write(tmp_path):
    path = write_json(tmp_path / "x.json", {"source": "postgresql://u:pw@h/db"})
    assert json.loads(path.read_text())["source"] == "postgresql://u:***@h/db"


def test_a_killed_stage_leaves_its_previous_report_and_notebook_whole(stage_project):
    import os
    import signal
    import time

    cat = Catalog(stage_project)
    nb = stage_project / "notebooks" / "04_train.ipynb"
    nbformat.write(notebook("print('first run')"), nb)
    run_stage("train", stage_project)
    before = {p: p.read_bytes() for p in (cat.report("train"), cat.executed("train"))}
    nbformat.write(notebook("print('second run')", "import time\ntime.sleep(60)"), nb)
    script = f"from pathlib import Path\nfrom mining.runner import run_stage\nrun_stage('train', Path({str(stage_project)!r}))"
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    running = cat.executed("train").with_name(".04_train.running.ipynb")
    deadline = time.time() + 60
    while time.time() < deadline and "second run" not in (running.read_text() if running.exists() else ""):
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # the kernel too
    proc.wait()
    assert {p: p.read_bytes() for p in before} == before
    nbformat.write(notebook("print('third run')"), nb)
    run_stage("train", stage_project)  # the killed run's lock went with it
    assert "third run" in cat.report("train").read_text()


def test_ordinary_variables_are_not_taken_for_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("PWD", str(tmp_path))
    monkeypatch.setenv("MINING_ENCRYPTION_KEY", "cd" * 32)
    text = f"report at {tmp_path}/reports/x.html, key {'cd' * 32}"
    assert redact_text(text) == f"report at {tmp_path}/reports/x.html, key ***"
