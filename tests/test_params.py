from pathlib import Path

import pytest

from mining.params import ParamsError, load_params, parse_override, project_root
from tests.conftest import params_root

ROOT = Path(__file__).resolve().parents[1]


def test_override_values_are_read_as_yaml():
    assert parse_override("data.source=x.csv") == ("data.source", "x.csv")
    assert parse_override("train.cv_folds=3") == ("train.cv_folds", 3)
    assert parse_override("data.time_column=null") == ("data.time_column", None)
    assert parse_override("data.sensitive_features=[a, b]") == ("data.sensitive_features", ["a", "b"])


@pytest.mark.parametrize("bad, message", [
    ("data.source", "expected FILE.KEY=VALUE"),
    ("source=x.csv", "key must be FILE.KEY"),
])
def test_malformed_override_is_refused(bad, message):
    with pytest.raises(ParamsError, match=message):
        parse_override(bad)


def test_overrides_change_one_key_of_one_file():
    p = load_params({"data.source": "x.csv"}, ROOT)
    assert p["data"]["source"] == "x.csv"
    assert p["data"]["target"] == load_params(root=ROOT)["data"]["target"]


def test_nested_override():
    p = load_params({"data.events.cutoff": "2026-04-01"}, ROOT)
    assert p["data"]["events"]["cutoff"] == "2026-04-01"


def test_unknown_key_or_file_is_named():
    with pytest.raises(ParamsError, match="unknown key 'sourse'"):
        load_params({"data.sourse": "x.csv"}, ROOT)
    with pytest.raises(ParamsError, match="no params/nodata.yaml"):
        load_params({"nodata.source": "x.csv"}, ROOT)


def test_root_is_found_from_the_notebooks_folder():
    assert project_root(ROOT / "notebooks") == ROOT


@pytest.mark.parametrize("override, message", [
    ({"train.tune_top_k": "five"}, r"params/train.yaml with overrides: tune_top_k: expected a valid integer \(got 'five'\)"),
    ({"train.validation.folds_below_rows": {10000: 1}},
     r"params/train.yaml with overrides: validation.folds_below_rows.10000: expected greater than or equal to 2"),
    ({"train.candidates.lightgbm.portfolio": [{"n_estimators": 10}]},
     r"candidates.lightgbm: .*portfolio\[0\]: n_estimators not in the space"),
    ({"train.candidates.logreg.space.C": {"low": 10, "high": 1}},
     r"params/train.yaml with overrides: candidates.logreg.space.C: .*low 10 must be below high 1"),
    ({"train.candidates.logreg.space.C": {"low": 0.1}}, r"candidates.logreg.space.C.high: missing"),
    ({"project.kpis.min_precision": 1.5}, r"params/project.yaml with overrides: kpis.min_precision: expected less than or equal to 1"),
    ({"ingest.schema_policy": "ignore"}, r"params/ingest.yaml with overrides: schema_policy: expected 'add', 'warn' or 'fail'"),
    ({"features.use_sensitive": "yes"}, r"params/features.yaml with overrides: use_sensitive: expected a valid boolean"),
])
def test_a_wrong_type_or_value_is_refused_naming_file_key_and_expectation(override, message):
    with pytest.raises(ParamsError, match=message):
        load_params(override, ROOT)


def test_a_typo_or_a_missing_key_in_a_params_file_is_named_before_any_work(tmp_path):
    root = params_root(tmp_path)
    path = root / "params" / "train.yaml"
    path.write_text(path.read_text().replace("tune_top_k:", "tune_topk:"))
    with pytest.raises(ParamsError, match=r"params/train.yaml: tune_top_k: missing.*; tune_topk: unknown key"):
        load_params(root=root)
    (root / "params" / "extra.yaml").write_text("a: 1\n")
    path.write_text((ROOT / "params" / "train.yaml").read_text())
    with pytest.raises(ParamsError, match=r"no schema for params/extra.yaml"):
        load_params(root=root)


def test_a_date_written_unquoted_is_kept_as_iso_text():
    import datetime

    assert load_params({"data.events.cutoff": datetime.date(2026, 4, 1)}, ROOT)["data"]["events"]["cutoff"] == "2026-04-01"


def test_derived_params_keep_the_runs_own_overrides():
    base = load_params({"data.demo.n_customers": 300}, ROOT)
    later = base.with_overrides({"data.events.cutoff": "2026-04-01"})
    assert later["data"]["demo"]["n_customers"] == 300 and later["data"]["events"]["cutoff"] == "2026-04-01"
    assert base["data"]["events"]["cutoff"] == "2026-01-01"
