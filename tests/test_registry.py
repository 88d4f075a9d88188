import json

from mining.catalog import Catalog
from mining.enterprise.registry import lineage_record, register, registry_stage, versions
from mining.lineage import content_hash

META = {"model": "lightgbm", "task": "classification", "model_sha256": "ab" * 32, "features_sha256": "cd" * 32,
        "code": {"commit": "0123abc", "dirty": False}}


def test_versions_are_registered_with_lineage_and_older_ones_archived(tmp_path):
    cat = Catalog(tmp_path)
    interim = cat["interim"]
    interim.mkdir(parents=True)
    cat["ingest_lineage"].write_text(json.dumps({"sources": [{"uri": "a.csv", "sha256": "ef" * 32}],
                                                 "counts": {"entities": {"rows_in": 3}}}))
    (interim / "entities.parquet").write_bytes(b"rows")
    lin = lineage_record(META, {"train": {"time_budget_s": 120}}, tmp_path, {"roc_auc": 0.84})
    assert lin["model"]["version"] == "abab" * 3 and lin["data"]["sha256"] == content_hash(interim)
    assert lin["data"]["sources"][0]["uri"] == "a.csv" and lin["params"]["train"]["time_budget_s"] == 120
    db = cat["registry_db"]
    register(db, "churn", "v1", "staging", lin)
    register(db, "churn", "v2", "staging", {**lin, "model": {**lin["model"], "version": "v2"}})
    table = versions(db, "churn").set_index("version")
    assert table.loc["v1", "stage"] == "archived" and table.loc["v2", "stage"] == "staging"
    assert table.loc["v2", "git_commit"] == "0123abc" and table.loc["v2", "data_sha256"] == content_hash(interim)
    register(db, "churn", "v2", "staging", lin)  # re-registering a version refreshes it, no duplicate
    assert len(versions(db, "churn")) == 2


def test_a_version_enters_staging_only_when_governance_checks_passed():
    assert registry_stage({"automatic_checks_passed": True}) == "staging"
    assert registry_stage({"automatic_checks_passed": False}) == "blocked"
