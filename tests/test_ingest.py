import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from mining.ingest import schema as sch
from mining.ingest.sources import IngestError, read_file

SCHEMA = {
    "id": {"type": "string", "required": True, "unique": True},
    "age": {"type": "int", "required": True, "min": 18, "max": 120},
    "income": {"type": "float", "min": 0},
    "plan": {"type": "category", "allowed": ["basic", "plus"]},
    "joined": {"type": "datetime"},
    "active": {"type": "bool"},
}


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_every_failing_row_is_quarantined_with_every_reason(tmp_path):
    f = write_csv(tmp_path / "c.csv", (
        "id,age,income,plan,joined,active\n"
        "a,30,100.5,basic,2024-01-02,true\n"        # line 2: valid
        "b,abc,50,plus,2024-01-03,no\n"             # 3: age not an int
        "c,15,-1,gold,2024-01-04,yes\n"             # 4: age < 18, income < 0, plan not allowed
        "a,40,10,basic,2024-01-05,1\n"              # 5: duplicate id
        "d,,10,basic,not a date,0\n"                # 6: age missing, joined unparseable
        "e,50,,plus,2024-02-01T10:00:00+02:00,f\n"  # 7: valid, time zone normalised to UTC
    ))
    df = read_file(f)
    res = sch.validate(df, SCHEMA, "customers", str(f))
    assert len(res.valid) + len(res.quarantine) == len(df) == 6
    assert res.valid["id"].tolist() == ["a", "e"]
    reasons = dict(zip(res.quarantine["row"], res.quarantine["reasons"]))
    assert reasons[3] == "type:age (expected int)"
    assert reasons[4] == "range:age (< 18); range:income (< 0); allowed:plan"
    assert reasons[5] == "duplicate:id"
    assert reasons[6] == "missing:age; type:joined (expected datetime)"
    assert (res.quarantine["source"] == str(f)).all()
    assert json.loads(res.quarantine.set_index("row").loc[4, "record"])["plan"] == "gold"
    assert res.valid.loc[1, "joined"] == pd.Timestamp("2024-02-01 08:00:00")
    assert res.check_counts["range:age (< 18)"] == 1


def test_missing_required_column_names_the_file_and_column(tmp_path):
    f = write_csv(tmp_path / "c.csv", "id,income\na,1\n")
    with pytest.raises(IngestError, match=r"c\.csv: required column\(s\) \['age'\] missing"):
        sch.validate(read_file(f), SCHEMA, "customers", str(f))


@pytest.mark.parametrize("content, message", [
    ("", "file is empty"),
    ("id,age\n", "has a header but no rows"),
])
def test_whole_file_problems_stop_with_the_file_name(tmp_path, content, message):
    f = write_csv(tmp_path / "bad.csv", content)
    with pytest.raises(IngestError, match=rf"bad\.csv: .*{message}"):
        read_file(f)


def test_missing_file_and_unknown_type(tmp_path):
    with pytest.raises(IngestError, match="nope.csv: file not found"):
        read_file(tmp_path / "nope.csv")
    f = write_csv(tmp_path / "x.xlsx", "a")
    with pytest.raises(IngestError, match="unknown file type"):
        read_file(f)


def test_gzip_parquet_and_jsonl_sources_keep_row_origin(tmp_path):
    with gzip.open(tmp_path / "c.csv.gz", "wt") as fh:
        fh.write("id,age\na,30\nb,40\n")
    assert read_file(tmp_path / "c.csv.gz")["_row"].tolist() == [2, 3]
    pd.DataFrame({"id": ["a"], "age": [3]}).to_parquet(tmp_path / "c.parquet")
    assert read_file(tmp_path / "c.parquet")["_row"].tolist() == [1]
    (tmp_path / "c.jsonl").write_text('{"id": "a", "age": 3}\n{"id": "b", "age": 4}\n')
    assert read_file(tmp_path / "c.jsonl")["id"].tolist() == ["a", "b"]


def test_inferred_schema_quarantines_the_odd_value_out():
    df = pd.DataFrame({"_source": "s", "_row": range(1, 41), "n": [str(i) for i in range(39)] + ["n/a"],
                       "when": ["2024-01-01"] * 40})
    schema = sch.infer_schema(df)
    assert schema["n"]["type"] == "int" and schema["when"]["type"] == "datetime"
    res = sch.validate(df, schema, "t", "s")
    assert res.quarantine["reasons"].tolist() == ["type:n (expected int)"]


def test_unknown_type_in_schema_is_refused():
    df = pd.DataFrame({"_source": "s", "_row": [1], "a": [1]})
    with pytest.raises(IngestError, match="unknown type"):
        sch.validate(df, {"a": {"type": "integer"}}, "t", "s")
