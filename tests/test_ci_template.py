"""The CI/CD template a team copies: it runs on pull requests, with the project's own commands, and
publishes the reports."""

import re
from pathlib import Path, PurePosixPath

import yaml

from mining.catalog import ARTEFACTS

ROOT = Path(__file__).resolve().parents[1]


def test_the_workflow_tests_runs_the_pipeline_on_pull_requests_and_publishes_reports():
    flow = yaml.safe_load((ROOT / "ci" / "templates" / "github-actions.yml").read_text())
    assert "pull_request" in flow[True]  # YAML 1.1 reads the key `on` as true
    steps = flow["jobs"]["pipeline"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    assert runs[:2] == ["make test", "make repro"]
    targets = set(re.findall(r"^([a-z]+):", (ROOT / "Makefile").read_text(), re.M))
    assert {r.split()[1] for r in runs if r.startswith("make ")} <= targets
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    reports = PurePosixPath(ARTEFACTS["index"].path).parent  # where every report lands
    assert PurePosixPath(upload["with"]["path"]) == reports and upload["if"] == "always()"
    assert flow["jobs"]["pipeline"]["env"]["CI"] == "true"  # server-backed tests run, not skip
