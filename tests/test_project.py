from pathlib import Path

import pytest

from mining.project import ParamsError, load_params, parse_override, project_root

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
