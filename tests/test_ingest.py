import gzip
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from mining.catalog import Catalog, member
from mining.data.files import IngestError, read_file
from mining.ingest import schema as sch
from tests.conftest import params_root

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
    df = read_file(f).frame
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


def test_a_nan_in_a_required_number_is_missing_and_a_range_check_still_holds_for_the_rest():
    raw = pl.DataFrame({"_source": ["s"] * 4, "_row": [1, 2, 3, 4], "x": [1.0, float("nan"), None, -2.0],
                        "y": [None, 1.0, 2.0, 3.0]})
    checked = sch.validate_table(raw, {"x": {"type": "float", "required": True, "min": 0},
                                       "y": {"type": "float", "max": 2}}, "t", "s")
    reasons = dict(zip(checked.quarantine["row"], checked.quarantine["reasons"]))
    assert reasons == {2: "missing:x", 3: "missing:x", 4: "range:x (< 0); range:y (> 2)"}
    assert checked.valid["_row"].to_list() == [1]


def test_missing_required_column_names_the_file_and_column(tmp_path):
    f = write_csv(tmp_path / "c.csv", "id,income\na,1\n")
    with pytest.raises(IngestError, match=r"c\.csv: required column\(s\) \['age'\] missing"):
        sch.validate(read_file(f).frame, SCHEMA, "customers", str(f))


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
    assert read_file(tmp_path / "c.csv.gz").frame["_row"].tolist() == [2, 3]
    pd.DataFrame({"id": ["a"], "age": [3]}).to_parquet(tmp_path / "c.parquet")
    assert read_file(tmp_path / "c.parquet").frame["_row"].tolist() == [1]
    (tmp_path / "c.jsonl").write_text('{"id": "a", "age": 3}\n{"id": "b", "age": 4}\n')
    assert read_file(tmp_path / "c.jsonl").frame["id"].tolist() == ["a", "b"]


def test_inferred_schema_quarantines_the_odd_value_out():
    df = pd.DataFrame({"_source": "s", "_row": range(1, 41), "n": [str(i) for i in range(39)] + ["n/a"],
                       "when": ["2024-01-01"] * 40})
    schema = sch.infer_schema(df)
    assert schema["n"]["type"] == "int" and schema["when"]["type"] == "datetime"
    res = sch.validate(df, schema, "t", "s")
    assert res.quarantine["reasons"].tolist() == ["type:n (expected int)"]


def test_a_date_that_does_not_exist_is_quarantined_not_rolled_over():
    df = pd.DataFrame({"_source": "s", "_row": [1, 2, 3], "when": ["2025-02-28T10:00:00", "2025-02-30T10:00:00",
                                                                    "2025-03-02 10:00"]})
    res = sch.validate(df, {"when": {"type": "datetime"}}, "t", "s")
    assert res.quarantine["row"].tolist() == [2] and res.quarantine["reasons"].tolist() == ["type:when (expected datetime)"]
    assert res.valid["when"].tolist() == [pd.Timestamp("2025-02-28 10:00"), pd.Timestamp("2025-03-02 10:00")]


@pytest.mark.parametrize("invalid", [False, True])  # True: Arrow's fast ISO cast refuses the block, polars reads it
def test_times_read_the_same_whether_the_fast_iso_pass_takes_the_block_or_not(invalid):
    from datetime import datetime

    values = ["2025-03-01T10:20:30", "2025-03-01 10:20:30", "2025-03-01T10:20:30.250", "2025-03-01T10:20:30+02:00",
              "2025-03-01", "yesterday", None] + ["2025-02-30T00:00:00"] * invalid
    expected = [datetime(2025, 3, 1, 10, 20, 30), datetime(2025, 3, 1, 10, 20, 30),
                datetime(2025, 3, 1, 10, 20, 30, 250_000), datetime(2025, 3, 1, 8, 20, 30),  # offsets: to UTC
                datetime(2025, 3, 1), None, None] + [None] * invalid
    assert (sch._iso_seconds(pl.Series(values)) is None) == invalid
    assert sch._datetime(pl.Series("t", values)).to_list() == expected


def test_whole_numbers_keep_every_digit_and_blanks_around_a_number_are_ignored():
    df = pd.DataFrame({"_source": "s", "_row": range(1, 7),
                       "n": ["9007199254740993", " 42 ", "3.0", "1e3", "3.5", None],
                       "x": ["0.1", " 2.5", "n/a", "1e-3", "7", None]})
    res = sch.validate(df, {"n": {"type": "int"}, "x": {"type": "float"}}, "t", "s")
    assert res.quarantine["row"].tolist() == [3, 5]
    assert res.quarantine["reasons"].tolist() == ["type:x (expected float)", "type:n (expected int)"]
    assert res.valid["n"].tolist()[:3] == [9007199254740993, 42, 1000]  # 2**53 + 1 is not rounded to a float
    assert res.valid["x"].tolist()[:3] == [0.1, 2.5, 0.001]


def test_unknown_type_in_schema_is_refused():
    df = pd.DataFrame({"_source": "s", "_row": [1], "a": [1]})
    with pytest.raises(IngestError, match="unknown type"):
        sch.validate(df, {"a": {"type": "integer"}}, "t", "s")


def test_wrong_delimiter_is_named(tmp_path):
    f = write_csv(tmp_path / "semi.csv", "id;age;income\na;30;1\n")
    with pytest.raises(IngestError, match=r"semi\.csv: header 'id;age;income' has one column when split on ',' "
                                          r"but several on ';'; set data.delimiter"):
        read_file(f)
    assert read_file(f, delimiter=";").frame["age"].tolist() == ["30"]  # text: types are the schema's job


def test_undecodable_bytes_are_located(tmp_path):
    f = tmp_path / "latin.csv"
    f.write_bytes("id,city\na,Zürich\n".encode("latin-1"))
    with pytest.raises(IngestError, match=r"latin\.csv: byte 0xfc at offset 11 is not valid utf-8; set data.encoding"):
        read_file(f)
    assert read_file(f, encoding="latin-1").frame["city"].tolist() == ["Zürich"]


def test_truncated_gzip_stops_the_stage(tmp_path):
    f = tmp_path / "cut.csv.gz"
    whole = gzip.compress(("id,age\n" + "".join(f"c{i},{i}\n" for i in range(5000))).encode())
    f.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(IngestError, match=r"cut\.csv\.gz: gzip stream is truncated or corrupt"):
        read_file(f)


def test_ragged_rows_are_rejected_with_their_line_and_the_rest_keep_theirs(tmp_path):
    f = write_csv(tmp_path / "rag.csv", "id,age,plan\na,30,basic\nb,40\nc,50,plus,extra\nd,60,plus\n")
    read = read_file(f)
    assert read.frame["id"].tolist() == ["a", "d"] and read.frame["_row"].tolist() == [2, 5]
    assert read.rejected["row"].tolist() == [3, 4]
    assert read.rejected["reasons"].tolist() == ["parse: 2 fields, expected 3", "parse: 4 fields, expected 3"]
    assert read.rejected["record"].tolist() == ["b,40", "c,50,plus,extra"]


def test_json_lines_that_do_not_parse_are_rejected_with_their_line(tmp_path):
    f = tmp_path / "log.jsonl"
    f.write_text('{"id": "a", "age": 3}\n{"id": "b", "age": \n\n[1, 2]\n{"id": "c"}\n')
    read = read_file(f)
    assert read.frame["id"].tolist() == ["a", "c"] and read.frame["_row"].tolist() == [1, 5]
    assert read.rejected["row"].tolist() == [2, 4]
    assert read.rejected["reasons"].iloc[0].startswith("parse: not JSON")
    assert read.rejected["reasons"].iloc[1] == "parse: a JSON line must be an object"


def test_a_file_with_no_parseable_row_stops_the_stage(tmp_path):
    f = tmp_path / "junk.jsonl"
    f.write_text("not json\nnor this\n")
    with pytest.raises(IngestError, match=r"junk\.jsonl: none of its 2 rows could be parsed \(first: line 1"):
        read_file(f)


def test_stage_counts_reconcile_with_parse_failures_quarantined(tmp_path):
    from mining.ingest.pipeline import ingest
    from mining.params import load_params

    root = params_root(tmp_path)  # schema contracts stay out of the checkout's data/
    good = "".join(f"{i},{'Yes' if i % 3 else 'No'},{i / 2}\n" for i in range(10, 50))
    f = write_csv(tmp_path / "t.csv", "rid,label,x\n1,Yes,1.5\n2,No\n3,No,abc\n4,Yes,2.5\n1,No,3\n" + good)
    params = load_params({"data.source": str(f), "data.target": "label", "data.id_column": "rid",
                          "data.sensitive_features": [], "ingest.max_quarantine_share": 1.0}, root)
    res = ingest(params, {"task": {"type": "classification"}}, tmp_path / "interim")
    c = res.counts["entities"]
    assert (c["rows_in"], c["rows_valid"], c["rows_quarantined"]) == (45, 42, 3)
    q = res.quarantine.set_index("row")["reasons"].to_dict()
    assert q == {3: "parse: 2 fields, expected 3", 4: "type:x (expected float)", 6: "duplicate:rid"}
    assert res.check_counts["entities/parse"] == 1


def test_outlier_rules():
    from mining.ingest.outliers import fences_of

    s = pl.Series([10.0, 11, 9, 10, 12, 10, 11, 9, 500, None])
    for method, k in (("iqr", 3.0), ("mad", 3.5)):
        lo, hi = fences_of(s, method, k)
        assert lo < 9 and 12 < hi < 500, method
    assert fences_of(pl.Series([1.0] * 5), "mad", 3) is None  # constant: nothing is an outlier
    with pytest.raises(ValueError, match="expected iqr or mad"):
        fences_of(s, "zscore", 3)


def test_outliers_can_be_sent_to_quarantine(tmp_path):
    from mining.ingest.pipeline import ingest
    from mining.params import load_params

    root = params_root(tmp_path)  # schema contracts stay out of the checkout's data/
    rows = "".join(f"{i},{'Yes' if i % 3 else 'No'},{50 + i % 7}\n" for i in range(60))
    f = write_csv(tmp_path / "o.csv", "rid,label,x\n" + rows + "99,No,100000\n")
    over = {"data.source": str(f), "data.target": "label", "data.id_column": "rid", "data.sensitive_features": [],
            "ingest.max_quarantine_share": 1.0}
    kept = ingest(load_params(over, root), {"task": {"type": "classification"}}, tmp_path / "interim")
    assert kept.counts["entities"]["rows_quarantined"] == 0  # default: flagged, kept
    moved = ingest(load_params({**over, "ingest.outliers.action": "quarantine"}, root),
                   {"task": {"type": "classification"}}, tmp_path / "interim")
    assert moved.quarantine["reasons"].tolist() == ["outlier:x (iqr, k=3.0)"]
    assert moved.counts["entities"] == {"rows_in": 61, "rows_valid": 60, "rows_quarantined": 1}


def test_schema_contract_versions_changes_by_policy(tmp_path):
    from mining.ingest.contract import accept, resolve

    reg = tmp_path / "schemas"
    v1 = {"id": {"type": "string", "required": True}, "age": {"type": "int"}, "plan": {"type": "category"}}
    first = resolve(reg, "entities", v1, "warn", "a.csv")
    assert first.version == 1 and not (reg / "entities.json").exists()  # stored only once accepted
    accept(first)
    same = resolve(reg, "entities", v1, "fail", "b.csv")
    assert same.version == 1 and same.pending == []
    v2 = {"id": {"type": "string"}, "age": {"type": "float"}, "device": {"type": "category"}}
    with pytest.raises(IngestError, match=r"schema of entities changed against version 1 \(added: \['device'\]; "
                                          r"removed: \['plan'\]\) and ingest.schema_policy is fail"):
        resolve(reg, "entities", v2, "fail", "c.jsonl")
    evolved = resolve(reg, "entities", v2, "warn", "c.jsonl")
    assert evolved.version == 2 and evolved.warnings and evolved.diff["retyped"] == {}  # int -> float widens
    assert evolved.schema["device"]["required"] is False and evolved.schema["plan"]["retired"]
    accept(evolved)
    retyped = resolve(reg, "entities", {**v2, "age": {"type": "datetime"}}, "add", "d.jsonl")
    assert retyped.diff["retyped"] == {"age": ["int", "datetime"]} and retyped.schema["age"]["type"] == "int"
    assert any("quarantined" in w for w in retyped.warnings)
    history = json.loads((reg / "entities.json").read_text())["versions"]
    assert [h["version"] for h in history] == [1, 2] and history[1]["diff"]["added"] == ["device"]


def test_a_later_run_is_checked_against_the_first_accepted_schema(tmp_path):
    from mining.ingest.pipeline import ingest
    from mining.params import load_params

    root = params_root(tmp_path)  # schema contracts stay out of the checkout's data/
    first = "".join(f'{{"rid": {i}, "label": "{"Yes" if i % 3 else "No"}", "x": {i}}}\n' for i in range(40))
    later = "".join(f'{{"rid": {i}, "label": "No", "x": {i}, "channel": "app"}}\n' for i in range(40, 80))
    (tmp_path / "day1.jsonl").write_text(first)
    (tmp_path / "day2.jsonl").write_text(later)
    charter = {"task": {"type": "classification"}}

    def params(source, policy):
        return load_params({"data.source": str(tmp_path / source), "data.target": "label", "data.id_column": "rid",
                            "data.sensitive_features": [], "ingest.schema_policy": policy,
                            "ingest.max_quarantine_share": 1.0}, root)

    assert ingest(params("day1.jsonl", "fail"), charter, tmp_path / "interim").contract.version == 1
    with pytest.raises(IngestError, match=r"added: \['channel'\]"):
        ingest(params("day2.jsonl", "fail"), charter, tmp_path / "interim")
    res = ingest(params("day2.jsonl", "add"), charter, tmp_path / "interim")
    assert res.contract.version == 2 and res.table("entities")["channel"].eq("app").all()


def test_personal_columns_are_pseudonymised_consistently_across_tables(monkeypatch):
    from mining.ingest.privacy import pseudonymise, pseudonymiser

    entities = pl.Series("customer_id", ["C1", "C2", None])
    events = pl.Series("customer_id", ["C2", "C2", "C1"])
    monkeypatch.delenv("TEST_PSEUDO_KEY", raising=False)
    with pytest.raises(IngestError, match=r"\$TEST_PSEUDO_KEY is not set"):
        pseudonymiser("TEST_PSEUDO_KEY")
    monkeypatch.setenv("TEST_PSEUDO_KEY", "k1")
    fn = pseudonymiser("TEST_PSEUDO_KEY")
    ent, ev = pseudonymise(entities, fn).to_list(), pseudonymise(events, fn).to_list()
    assert ent[0] == ev[2] and ent[1] == ev[0] and ent[2] is None and len(ent[0]) == 32 and "C1" not in ent[0]
    monkeypatch.setenv("TEST_PSEUDO_KEY", "k2")
    assert pseudonymise(pl.Series(["C1"]), pseudonymiser("TEST_PSEUDO_KEY"))[0] != ent[0]  # another key


def test_ingest_pseudonymises_unless_the_charter_allows(tmp_path, monkeypatch):
    from mining.ingest.pipeline import ingest
    from mining.params import load_params

    root = params_root(tmp_path)  # schema contracts stay out of the checkout's data/
    f = write_csv(tmp_path / "p.csv", "rid,email,label\n" + "".join(f"{i},u{i}@x.org,{'Yes' if i % 2 else 'No'}\n"
                                                                   for i in range(30)))
    monkeypatch.setenv("MINING_PSEUDONYM_KEY", "secret")
    params = load_params({"data.source": str(f), "data.target": "label", "data.id_column": "rid",
                          "data.sensitive_features": [], "ingest.pseudonymise.columns": ["email", "rid"]}, root)
    res = ingest(params, {"task": {"type": "classification"}, "personal_data_allowed": ["rid"]}, tmp_path / "interim")
    ent = res.table("entities")
    assert res.pseudonymised == {"entities": ["email"]}
    assert not ent["email"].str.contains("@").any() and ent["email"].is_unique
    assert ent["rid"].tolist() == list(range(30))  # allowed by the charter: left as is


def _params(tmp_path, source, **over):
    from mining.params import load_params

    root = params_root(tmp_path)  # schema contracts stay out of the checkout's data/
    base = {"data.source": str(source), "data.target": "label", "data.id_column": "rid",
            "data.sensitive_features": [], "ingest.max_quarantine_share": 1.0}
    return load_params({**base, **over}, root)


CHARTER = {"task": {"type": "classification"}}


def test_a_table_with_a_time_column_is_hive_partitioned_by_month_and_lineage_names_everything(tmp_path):
    from mining.ingest.pipeline import ingest

    rows = "".join(f"{i},{'Yes' if i % 2 else 'No'},2024-0{1 + i % 3}-1{i % 9}T08:00:00Z\n" for i in range(30))
    f = write_csv(tmp_path / "t.csv", "rid,label,seen\n" + rows)
    res = ingest(_params(tmp_path, f, **{"data.time_column": "seen"}), CHARTER, tmp_path / "interim")
    parts = sorted(p.name for p in (tmp_path / "interim" / "entities").iterdir() if p.is_dir())
    assert parts == ["seen_month=2024-01", "seen_month=2024-02", "seen_month=2024-03"]
    back = res.table("entities")
    assert len(back) == 30 and sorted(back["rid"]) == list(range(30)) and "seen_month" not in back
    lineage = json.loads((tmp_path / "interim" / member("ingest_lineage")).read_text())
    assert lineage["outputs"]["entities"]["rows"] == 30 and len(lineage["outputs"]["entities"]["sha256"]) == 64
    assert lineage["sources"][0]["rows"] == 30 and lineage["params"]["data"]["time_column"] == "seen"
    assert lineage["schema_contracts"]["entities"]["version"] == 1


def test_duplicates_and_line_numbers_hold_across_chunks(tmp_path):
    from mining.data.files import iter_csv

    body = "".join(f"r{i},x{i}\n" for i in range(200)) + "r5,again\nbroken\n" + "r300,y\n"
    f = write_csv(tmp_path / "k.csv", "id,v\n" + body)
    chunks = list(iter_csv(f, block_bytes=256))  # many small blocks
    assert len(chunks) > 5
    frame = pd.concat([c.frame for c in chunks if len(c.frame)], ignore_index=True)
    rejected = pd.concat([c.rejected for c in chunks], ignore_index=True)
    assert frame["_row"].tolist() == list(range(2, 203)) + [204] and rejected["row"].tolist() == [203]
    keys = sch.KeyIndex()
    dups = [keys.add(pl.from_arrow(c.table["id"])) for c in chunks if c.table.num_rows]
    flagged = frame.loc[np.concatenate(dups), "_row"].tolist()
    assert flagged == [202]  # "r5" again, seen 6 blocks earlier


def test_a_unique_text_column_is_profiled_from_the_footers_exactly(tmp_path):
    import pyarrow.parquet as pq

    from mining.ingest.profile import profile_files

    pq.write_table(pa.table({"k": ["a", None, "c"], "v": [1.0, 2.0, 3.0]}), tmp_path / "1.parquet")
    pq.write_table(pa.table({"v": [4.0]}), tmp_path / "2.parquet")  # an older file without the column
    files = [tmp_path / "1.parquet", tmp_path / "2.parquet"]
    exact = profile_files(files, unique=["k"]).set_index("column")
    read = profile_files(files).set_index("column")
    assert exact.loc["k", "n_unique"] == 2 and exact.loc["k", "missing_share"] == read.loc["k", "missing_share"] == 0.5
    assert exact.loc["v", "max"] == read.loc["v", "max"] == 4.0  # other columns as before


def test_blocks_end_at_newlines_and_lose_no_byte_plain_or_gzip(tmp_path):
    import gzip

    from mining.data.files import _text_blocks, lines_in

    text = b"".join(b"x" * (i % 7) + b",%d\n" % i for i in range(40)) + b"last line, no newline"
    plain, packed = tmp_path / "t.csv", tmp_path / "t.csv.gz"
    plain.write_bytes(text)
    packed.write_bytes(gzip.compress(text))
    for size in (1, 5, 16, 64, len(text), 10 * len(text)):
        for path in (plain, packed):
            blocks = list(_text_blocks(path, size))
            assert b"".join(b for _, b in blocks) == text + b"\n", (path.name, size)
            assert all(bytes(b).endswith(b"\n") and lines_in(b) == bytes(b).count(b"\n") for _, b in blocks)
            assert [o for o, _ in blocks] == list(np.cumsum([0] + [len(b) for _, b in blocks[:-1]]))
    (tmp_path / "empty.csv").write_bytes(b"")
    assert list(_text_blocks(tmp_path / "empty.csv", 16)) == []


def test_json_log_that_gains_a_field_lands_in_one_table_under_two_schema_versions(tmp_path):
    from mining.ingest.pipeline import ingest

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "2024-01.jsonl").write_text("".join(
        f'{{"rid": {i}, "label": "{"Yes" if i % 2 else "No"}", "x": {i}}}\n' for i in range(20)))
    (logs / "2024-02.jsonl").write_text("".join(
        f'{{"rid": {i}, "label": "No", "x": {i}, "device": "ios"}}\n' for i in range(20, 40)))
    with pytest.raises(IngestError, match=r"2024-02\.jsonl: schema of entities changed against version 1 "
                                          r"\(added: \['device'\]\) and ingest.schema_policy is fail"):
        ingest(_params(tmp_path, logs, **{"ingest.schema_policy": "fail"}), CHARTER, tmp_path / "interim")
    res = ingest(_params(tmp_path, logs, **{"ingest.schema_policy": "warn"}), CHARTER, tmp_path / "interim")
    assert res.contract.version == 2 and res.contract.diff["added"] == ["device"]
    assert any("2024-02.jsonl" in w and "version 2" in w for w in res.contract.warnings)
    from mining.ingest.store import files as store_files, read_table

    both = read_table(tmp_path / "interim" / "entities", res.schema["entities"], keep=("_schema_version",))
    assert both.groupby("_schema_version").size().to_dict() == {1: 20, 2: 20}
    assert both.loc[both["_schema_version"] == 1, "device"].isna().all()
    assert (both.loc[both["_schema_version"] == 2, "device"] == "ios").all()
    from mining.ingest.profile import profile_files

    assert res.profiles["entities"].usable  # the profile was taken as the blocks were written
    profile = pd.read_csv(tmp_path / "interim" / member("profile"))
    read = profile_files(store_files(tmp_path / "interim" / "entities"), unique=["rid"]).assign(table="entities")
    pd.testing.assert_frame_equal(profile, pd.read_csv(io.StringIO(read.to_csv(index=False))))
    assert profile.set_index("column").loc["device", "missing_share"] == 0.5
    history = json.loads((Catalog(params_root(tmp_path))["schemas"] / "entities.json").read_text())["versions"]
    assert [h["version"] for h in history] == [1, 2] and history[1]["diff"]["added"] == ["device"]


def test_a_bad_line_deep_in_a_json_block_costs_only_its_own_line(tmp_path):
    from mining.data.files import _json_block

    lines = [json.dumps({"id": i, "v": i * 1.5}) for i in range(5000)]
    lines[3210] = '{"id": 3210, "v": "n/a"}'  # a type change pyarrow refuses
    lines[4000] = '{"id": 4000, "v": '  # not JSON
    pieces = _json_block(("\n".join(lines) + "\n").encode(), 1, tmp_path / "x.jsonl", "utf-8", True, min_lines=256)
    frame = pd.concat([p.frame for p in pieces], ignore_index=True)
    rejected = pd.concat([p.rejected for p in pieces], ignore_index=True)
    assert rejected["row"].tolist() == [4001] and len(frame) == 4999
    assert frame["_row"].tolist() == [n for n in range(1, 5001) if n != 4001]
    assert frame.loc[frame["_row"] == 3211, "v"].item() == "n/a"  # kept for the type check to quarantine


def test_a_failed_run_leaves_the_previous_output_untouched(tmp_path):
    from mining.ingest.pipeline import ingest

    good = write_csv(tmp_path / "g.csv", "rid,label\n" + "".join(f"{i},{'Yes' if i % 2 else 'No'}\n" for i in range(10)))
    out = tmp_path / "interim"
    ingest(_params(tmp_path, good), CHARTER, out)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    bad = write_csv(tmp_path / "b.csv", "rid,label\n" + "".join(f"x,{i}\n" for i in range(10)))
    with pytest.raises(IngestError, match="quarantined, above ingest.max_quarantine_share"):
        ingest(_params(tmp_path, bad, **{"ingest.max_quarantine_share": 0.1}), CHARTER, out)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert not list(tmp_path.glob(".interim.*.partial"))  # the failed run's staging folder is gone


def test_the_quarantine_can_be_encrypted_at_rest(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from mining.ingest.pipeline import ingest

    f = write_csv(tmp_path / "e.csv", "rid,label,email\n1,Yes,a@x.org\n1,No,b@x.org\n2,No,c@x.org\n")
    params = _params(tmp_path, f, **{"ingest.encryption.quarantine": True})
    monkeypatch.delenv("MINING_ENCRYPTION_KEY", raising=False)
    with pytest.raises(IngestError, match=r"encryption at rest is on but \$MINING_ENCRYPTION_KEY is not set"):
        ingest(params, CHARTER, tmp_path / "interim")
    monkeypatch.setenv("MINING_ENCRYPTION_KEY", "ab" * 32)
    res = ingest(params, CHARTER, tmp_path / "interim")
    path = tmp_path / "interim" / member("quarantine")
    assert b"b@x.org" not in path.read_bytes()
    with pytest.raises(OSError):
        pq.read_table(path)  # no key, no rows
    assert json.loads(res.quarantine["record"].item())["email"] == "b@x.org"
    from mining.ingest.encryption import Keys, read_parquet

    monkeypatch.setenv("MINING_ENCRYPTION_KEY", "cd" * 32)  # a reader holding another key
    with pytest.raises(IngestError, match=r"cannot be decrypted with the key in \$MINING_ENCRYPTION_KEY"):
        read_parquet(path, Keys("MINING_ENCRYPTION_KEY"))


def test_the_tables_can_be_encrypted_at_rest_and_later_stages_read_them_with_the_key(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from mining.ingest import pipeline, store

    rows = "".join(f"{i},{'Yes' if i % 2 else 'No'},{i * 1.5},2024-0{1 + i % 2}-01\n" for i in range(40))
    f = write_csv(tmp_path / "t.csv", "rid,label,x,seen\n" + rows)
    monkeypatch.setenv("MINING_ENCRYPTION_KEY", "ef" * 32)
    params = _params(tmp_path, f, **{"ingest.encryption.tables": True, "data.time_column": "seen",
                                     "ingest.outliers.action": "quarantine"})
    res = pipeline.ingest(params, CHARTER, tmp_path / "interim")
    parts = store.files(tmp_path / "interim" / "entities")
    assert len(parts) == 2
    with pytest.raises(OSError):
        pq.read_table(parts[0])  # no key, no rows
    back = res.table("entities")
    assert sorted(back["rid"]) == list(range(40)) and back["x"].max() == 58.5
    profile = pd.read_csv(tmp_path / "interim" / member("profile")).set_index("column")
    assert float(profile.loc["x", "max"]) == 58.5 and float(profile.loc["rid", "missing_share"]) == 0


def test_a_schema_file_named_in_params_is_the_contract(tmp_path):
    from mining.ingest.pipeline import ingest

    f = write_csv(tmp_path / "s.csv", "rid,label,age\n1,Yes,30\n2,No,7\n3,No,40\n")
    (tmp_path / "contract.yaml").write_text("age: {type: int, min: 18, required: true}\nlabel: {type: category, "
                                            "allowed: ['Yes', 'No']}\n")  # quoted: YAML reads bare Yes as true
    res = ingest(_params(tmp_path, f, **{"data.schema": str(tmp_path / "contract.yaml")}), CHARTER, tmp_path / "i")
    assert res.quarantine["reasons"].tolist() == ["range:age (< 18)"] and res.contracts["entities"].policy == "declared"
    with pytest.raises(IngestError, match=r"data.schema names .*nope.yaml, which does not exist"):
        ingest(_params(tmp_path, f, **{"data.schema": str(tmp_path / "nope.yaml")}), CHARTER, tmp_path / "i")


@pytest.mark.parametrize("policy", ["add", "warn", "fail"])
def test_a_source_without_a_column_the_contract_always_saw_filled_fails_whatever_the_policy(tmp_path, policy):
    """Defect: under `warn`, a CSV lacking a model input was accepted and the pipeline trained on without it."""
    from mining.ingest.pipeline import ingest

    full = pd.DataFrame({"rid": range(30), "label": ["Yes", "No", "No"] * 10, "tenure": range(30),
                         "note": [None, "vip"] * 15})
    full.to_csv(tmp_path / "v1.csv", index=False)
    full.drop(columns=["tenure"]).to_csv(tmp_path / "v2.csv", index=False)
    full.drop(columns=["note"]).to_csv(tmp_path / "v3.csv", index=False)
    assert ingest(_params(tmp_path, tmp_path / "v1.csv"), CHARTER, tmp_path / "interim").contract.version == 1
    over = {"ingest.schema_policy": policy}
    with pytest.raises(IngestError, match=r"v2.csv: required column\(s\) \['tenure'\] missing: the stored contract"):
        ingest(_params(tmp_path, tmp_path / "v2.csv", **over), CHARTER, tmp_path / "interim")
    if policy == "fail":  # an optional column (seen empty) going missing is the policy's to judge
        with pytest.raises(IngestError, match=r"removed: \['note'\]"):
            ingest(_params(tmp_path, tmp_path / "v3.csv", **over), CHARTER, tmp_path / "interim")
    else:
        res = ingest(_params(tmp_path, tmp_path / "v3.csv", **over), CHARTER, tmp_path / "interim")
        assert res.contract.version == 2 and res.totals["rows_valid"] == 30
        assert bool(res.contract.warnings) == (policy == "warn")


def test_a_declared_schemas_required_columns_do_not_bind_a_later_inferred_source(tmp_path):
    """The demo's declared contract is the demo's: pointing the project at other data starts anew (with a warning)."""
    from mining.ingest.pipeline import ingest

    df = pd.DataFrame({"rid": range(20), "label": ["Yes", "No"] * 10, "tenure": range(20)})
    df.to_csv(tmp_path / "a.csv", index=False)
    df.drop(columns=["tenure"]).to_csv(tmp_path / "b.csv", index=False)
    declared = {"rid": {"type": "int", "required": True}, "label": {"type": "category", "required": True},
                "tenure": {"type": "int", "required": True}}
    ingest(_params(tmp_path, tmp_path / "a.csv", **{"data.schema": declared}), CHARTER, tmp_path / "interim")
    res = ingest(_params(tmp_path, tmp_path / "b.csv"), CHARTER, tmp_path / "interim")
    assert res.totals["rows_valid"] == 20 and res.contract.diff["removed"] == ["tenure"] and res.contract.warnings


def test_freshness_costs_a_schedule_at_the_measured_rate(tmp_path):
    from mining.ingest.freshness import bytes_read, schedule_costs
    from mining.params import load_params

    f = write_csv(tmp_path / "e.csv", "rid,label\n1,Yes\n2,No\n")
    (tmp_path / "ev").mkdir()
    g = write_csv(tmp_path / "ev" / "a.jsonl", '{"rid": 1}\n')
    params = _params(tmp_path, f, **{"data.events.source": str(tmp_path / "ev")})
    assert bytes_read(params) == f.stat().st_size + g.stat().st_size
    assert bytes_read(load_params({}, params_root(tmp_path))) is None  # the generated demo: nothing on disk
    costs = schedule_costs(cpu_s=36.0, wall_s=90.0, cpu_hour_price=0.05, currency="USD").set_index("schedule")
    assert costs.loc["hourly", "runs_per_month"] == 720 and costs.loc["hourly", "cpu_hours_per_month"] == 7.2
    assert costs.loc["hourly", "cost_per_month_USD"] == pytest.approx(0.36)
    assert costs.loc["daily", "worst_staleness_h"] == pytest.approx(24.025)


@pytest.mark.parametrize("granularity, folders", [
    ("day", ["t_day=1999-12-31", "t_day=2025-03-07", "t_day=None"]),
    ("month", ["t_month=1999-12", "t_month=2025-03", "t_month=None"]),
    ("year", ["t_year=1999", "t_year=2025", "t_year=None"])])
def test_rows_land_in_the_folder_of_their_date_and_a_missing_time_in_its_own(tmp_path, granularity, folders):

    from mining.ingest import store

    times = pa.array([pd.Timestamp("2025-03-07 23:59:59"), None, pd.Timestamp("1999-12-31"),
                      pd.Timestamp("2025-03-07 00:00:01")], pa.timestamp("us"))
    writer = store.TableWriter(tmp_path / "t", "t", granularity)
    writer.write(pa.table({"id": ["a", "b", "c", "d"], "t": times}), {"id": {"type": "string"}, "t": {"type": "datetime"}}, 1)
    writer.close()
    assert sorted(p.name for p in (tmp_path / "t").iterdir() if p.is_dir()) == folders
    back = store.read_table(tmp_path / "t")
    assert sorted(back["id"]) == ["a", "b", "c", "d"]
    assert sorted(pl.read_parquet(next((tmp_path / "t" / folders[1]).glob("*.parquet")))["id"]) == ["a", "d"]


def test_pieces_parsed_at_once_keep_every_bad_rows_line_and_a_late_bad_bytes_offset(tmp_path):
    from mining.data.files import iter_csv

    lines = [f"r{i},{i}" if i % 97 else f"r{i},{i},extra" for i in range(1, 2001)]  # every 97th row: a field too many
    f = write_csv(tmp_path / "many.csv", "id,v\n" + "\n".join(lines) + "\n")
    chunks = list(iter_csv(f, block_bytes=512, workers=3))
    rejected = pd.concat([c.rejected for c in chunks], ignore_index=True)
    assert rejected["row"].tolist() == [i + 1 for i in range(1, 2001) if i % 97 == 0]  # line = row + header
    assert rejected["record"].iloc[0] == "r97,97,extra"
    rows = np.concatenate([c.table["_row"].to_numpy() for c in chunks if c.table.num_rows])
    assert rows.tolist() == [i + 1 for i in range(1, 2001) if i % 97]

    text = ("id,v\n" + "\n".join(lines[:1500]) + "\n").encode() + "r9,Zürich\n".encode("latin-1")
    (tmp_path / "late.csv").write_bytes(text)
    with pytest.raises(IngestError, match=rf"late\.csv: byte 0xfc at offset {len(text) - 6} is not valid utf-8"):
        list(iter_csv(tmp_path / "late.csv", block_bytes=512, workers=3))


def test_the_key_index_flags_exactly_the_keys_an_earlier_row_had_across_calls():
    rng = np.random.default_rng(0)
    index, seen = sch.KeyIndex(), set()
    for _ in range(20):  # 20 blocks of 500 keys drawn from 3,000, with missing values
        values = rng.integers(0, 3000, 500).astype(str).tolist() + [None] * 3
        expected = []
        for v in values:
            expected.append(v is not None and v in seen)
            seen.update([v] if v is not None else [])
        assert index.add(pl.Series(values)).tolist() == expected
    assert len(index) == len(seen)
    held = index.contains(pl.Series(["0", "2999", "x"]))
    assert held.tolist() == ["0" in seen, "2999" in seen, False]


@pytest.mark.parametrize("drop", [[], [0], [9], [0, 3, 4, 9], list(range(10)), [1, 2, 5, 7, 8]])
def test_rows_are_dropped_exactly_whether_by_slices_or_by_a_filter(drop):
    frame = pl.DataFrame({"i": range(10), "s": [f"v{i}" for i in range(10)]})
    mask = np.isin(np.arange(10), drop)
    kept = [i for i in range(10) if i not in drop]
    for slices in (64, 2):  # a few rows: slices; more than `slices`: a filter
        out = sch.without_rows(frame, mask, slices=slices)
        assert out["i"].to_list() == kept and out["s"].to_list() == [f"v{i}" for i in kept]
        assert out.schema == frame.schema


def test_a_large_key_index_is_searched_range_by_range_and_finds_exactly_what_it_holds():
    rng = np.random.default_rng(2)
    edges = np.array([0, 2**64 - 1, 2**56, 2**56 - 1, 2**57], dtype=np.uint64)  # where the ranges meet
    held = np.concatenate([rng.integers(0, 2**64, 200_000, dtype=np.uint64), edges[::2]])
    index = sch.KeyIndex()
    index.add_hashes(held)
    asked = np.concatenate([rng.choice(held, 3000), rng.integers(0, 2**64, 3000, dtype=np.uint64), edges])
    assert (index.contains_hashes(asked) == np.isin(asked, held)).all()
    for _ in range(2):  # blocks of distinct keys, some held before (twice for the second block): found by the merge
        again = np.unique(asked)
        assert (index.add_hashes(again[::-1]) == np.isin(again[::-1], held)).all()
        held = np.union1d(held, again)
        assert len(index) == len(held) and (index.contains_hashes(held)).all()


@pytest.mark.parametrize("encrypted", [False, True])
def test_a_table_whose_later_files_gained_a_column_reads_whole_into_polars(tmp_path, monkeypatch, encrypted):

    from mining.ingest import store
    from mining.ingest.encryption import Keys

    monkeypatch.setenv("MINING_ENCRYPTION_KEY", "ab" * 32)
    keys = Keys("MINING_ENCRYPTION_KEY") if encrypted else None
    t = pa.array([pd.Timestamp("2025-01-05"), pd.Timestamp("2025-02-05")], pa.timestamp("us"))
    schema = {"id": {"type": "string"}, "t": {"type": "datetime"}, "n": {"type": "float"}}
    writer = store.TableWriter(tmp_path / "t", "t", "month", keys)
    writer.write(pa.table({"_source": ["a", "a"], "_row": [1, 2], "id": ["a", "b"], "t": t}), schema, 1)
    writer.write(pa.table({"_source": ["b", "b"], "_row": [1, 2], "id": ["c", "d"], "t": t, "n": [1.5, None]}),
                 schema, 2)  # the contract's second version: a column added
    writer.close()
    back = store.read_polars(tmp_path / "t", keys=keys).sort("id")
    assert back.columns == ["id", "t", "n"]  # no row origin, schema version or date key
    assert back["id"].to_list() == ["a", "b", "c", "d"] and back["n"].to_list() == [None, None, 1.5, None]
    assert store.read_polars(tmp_path / "t", ["id", "n"], keys=keys).columns == ["id", "n"]


def test_only_columns_with_few_distinct_values_are_dictionary_encoded(tmp_path):
    import pyarrow.parquet as pq

    from mining.ingest import store

    n = 1000
    t = pa.array(pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(n) * 3, unit="h"), pa.timestamp("us"))
    schema = {"id": {"type": "string"}, "kind": {"type": "category"}, "t": {"type": "datetime"}}
    writer = store.TableWriter(tmp_path / "t", "t", "month")
    writer.write(pa.table({"id": [f"e{i}" for i in range(n)], "kind": ["a", "b", "c", "d"] * (n // 4), "t": t}),
                 schema, 1)
    writer.close()
    files = store.files(tmp_path / "t")
    assert len(files) == 5  # 1,000 rows three hours apart: January to May
    meta = pq.ParquetFile(files[0]).metadata
    encodings = {meta.schema.column(i).name: meta.row_group(0).column(i).encodings for i in range(meta.num_columns)}
    assert any("DICTIONARY" in e for e in encodings["kind"])  # 4 values: a dictionary pays
    assert not any("DICTIONARY" in e for e in encodings["id"])  # every value distinct: plain
    assert sorted(store.read_table(tmp_path / "t")["id"]) == sorted(f"e{i}" for i in range(n))


def test_statistics_are_written_for_the_columns_a_reader_filters_or_counts_on(tmp_path):
    import pyarrow.parquet as pq

    from mining.ingest import store
    from mining.ingest.profile import profile_files

    schema = {"id": {"type": "string", "unique": True}, "kind": {"type": "category"}, "note": {"type": "string"},
              "n": {"type": "int"}, "t": {"type": "datetime"}}
    writer = store.TableWriter(tmp_path / "t", "t", "month")
    writer.write(pa.table({"_source": pa.array(["f.csv"] * 3).dictionary_encode(), "_row": [2, 3, 4],
                           "id": ["a", None, "c"], "kind": ["x", "y", "x"], "note": ["p", "q", None], "n": [1, 5, 3],
                           "t": pa.array([pd.Timestamp("2025-01-01")] * 3, pa.timestamp("us"))}), schema, 1)
    writer.close()
    files = store.files(tmp_path / "t")
    group = pq.ParquetFile(files[0]).metadata.row_group(0)
    stats = {group.column(i).path_in_schema: group.column(i).statistics for i in range(group.num_columns)}
    assert (stats["n"].min, stats["n"].max) == (1, 5) and stats["t"].has_min_max and stats["_row"].has_min_max
    assert stats["id"].null_count == 1  # a unique key: counted from the footer by the profile
    assert all(stats[c] is None for c in ("kind", "note", "_source"))  # text: its min and max prune nothing
    profile = profile_files(files, unique={"id"}).set_index("column")
    assert profile.loc["id", "n_unique"] == 2 and profile.loc["note", "missing_share"] == pytest.approx(1 / 3)


def test_later_json_pieces_take_the_one_pass_parse_only_when_nothing_can_be_lost(tmp_path):
    from mining.data.files import _flat_json_block, _json_marks, iter_jsonl

    rows = [{"id": f"r{i}", "n": i, "x": i / 4, "ok": i % 2 == 0, "note": None if i % 3 else 't"q'} for i in range(400)]
    rows[300]["extra"] = 7  # a field the first piece lacks, late in the file
    rows[350]["nested"] = {"a": [1, 2]}
    f = tmp_path / "log.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    chunks = list(iter_jsonl(f, block_bytes=2048))
    assert len(chunks) > 5
    frame = pl.concat([pl.from_arrow(c.table).with_columns(pl.all().cast(pl.Utf8)) for c in chunks], how="diagonal")
    assert frame["_row"].cast(pl.Int64).to_list() == list(range(1, 401))  # every line, in order
    assert frame["n"].cast(pl.Int64).to_list() == list(range(400))  # as numbers or as text: the same values
    assert frame["x"].cast(pl.Float64).to_list() == [i / 4 for i in range(400)]
    assert frame["ok"].to_list() == ["true" if i % 2 == 0 else "false" for i in range(400)]
    assert frame["note"].to_list() == [None if i % 3 else 't"q' for i in range(400)]
    assert frame.filter(pl.col("id") == "r300")["extra"].to_list() == ["7"]
    assert json.loads(frame.filter(pl.col("id") == "r350")["nested"].item()) == {"a": [1, 2]}

    assert {c.table.schema.field("n").type for c in chunks[1:]} == {pa.int64()}  # whole numbers read as numbers
    fields = {"id": pl.String, "n": pl.String}
    fast = _flat_json_block(b'{"id": "a", "n": 1}\n{"id": "b", "n": null}\n', 5, 2, f, fields)
    assert fast.table["n"].to_pylist() == ["1", None] and fast.table["_row"].to_pylist() == [5, 6]
    whole = {"id": pl.String, "n": pl.Int64}  # what the first piece read as whole numbers: numbers, while they are
    typed = _flat_json_block(b'{"id": "a", "n": 12}\n{"id": "b", "n": null}\n', 1, 2, f, whole)
    assert typed.table["n"].to_pylist() == [12, None]
    for other, kept in ((b'"x"', "x"), (b"2.5", "2.5"), (b"true", "true"), (b"1" * 20, "1" * 20)):
        mixed = _flat_json_block(b'{"id": "a", "n": 12}\n{"id": "b", "n": ' + other + b"}\n", 1, 2, f, whole)
        assert mixed.table["n"].to_pylist() == ["12", kept], other  # anything else: the piece is read as text
    for refused in (b'{"id": "a", "n": 1, "new": 2}\n',  # a field the first piece lacked
                    b'{"id": "a", "n": [1]}\n', b'{"id": "a", "n": {"m": 1}}\n',  # nested values
                    b'{"id" : "a"}\n',  # a space before the colon: keys cannot be counted
                    b'{"id": "a", "id": "b"}\n',  # a key twice
                    b'\n{"id": "a"}\n', b'{"id": "a"\n'):  # a blank line, a line that does not parse
        assert _flat_json_block(refused, 1, refused.count(b"\n"), f, fields) is None, refused
    assert _flat_json_block(b'{"id": "a", "n": 1, "new": null}\n', 1, 1, f, fields) is not None  # nothing to lose
    assert _flat_json_block(b'{"id": "a", "n": 1, "new": "x"}\n', 1, 1, f, whole) is None
    text = f.read_bytes()  # counted in slices of every size, a quote and what follows it often falling apart
    marks = {_json_marks(text, step) for step in (1, 2, 3, 7, 64, 1000, len(text))}
    assert marks == {(text.count(b"{"), text.count(b'":'), False)}
    assert _json_marks(b'{"a" :1}\n', 4) == (1, 0, True) and _json_marks(b'{"a"\t:1}\n', 4)[2]


@pytest.mark.parametrize("numbers", [False, True])
def test_pieces_parsed_with_the_first_take_its_heads_fields_and_lose_nothing_the_head_did_not_show(
        tmp_path, monkeypatch, numbers):
    import mining.data.files as files

    rows = [{"id": f"r{i}", "x": i, "amount": i + 0.5} for i in range(600)]
    for i in (10, 50, 70):  # after the head: a fraction where the head had whole numbers, a word in a float field
        rows[i]["x"], rows[i + 1]["amount"] = i + 0.25, "n/a"
    for i in (12, 55):  # a field the head lacked, in the first piece and in the next one
        rows[i]["extra"] = f"e{i}"
    f = tmp_path / "log.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setattr(files, "HEAD_BYTES", 200)  # the head: the first four lines
    chunks = list(files.iter_jsonl(f, block_bytes=2048, workers=3, numbers=numbers))
    assert len(chunks) > 5
    frame = pl.concat([pl.from_arrow(c.table).with_columns(pl.all().cast(pl.Utf8)) for c in chunks], how="diagonal")
    assert frame["_row"].cast(pl.Int64).to_list() == list(range(1, 601))
    assert frame["x"].cast(pl.Float64).to_list() == [r["x"] for r in rows]
    kept = frame["amount"] if "_unread" not in frame.columns else frame["amount"].fill_null(
        frame["_unread"].map_elements(lambda t: json.loads(t)["amount"], return_dtype=pl.Utf8))
    assert kept.to_list() == [str(r["amount"]) for r in rows]
    assert frame.filter(pl.col("extra").is_not_null())["id"].to_list() == ["r12", "r55"]


def _odd_log(path: Path, lines: int = 3000) -> Path:
    """A JSON log whose float field holds, now and then, what is not a number, and whose codes are digits in quotes."""
    rng = np.random.default_rng(11)
    odd = ['"n/a"', '"12.5"', "true", "null", '"7"', "1e3", "3", "-0.0", '""', '"-4.25"']
    out = []
    for i in range(lines):
        amount = f"{rng.random() * 100:.2f}" if i < 200 or rng.random() > 0.02 else odd[rng.integers(len(odd))]
        qty = str(rng.integers(1, 9)) if i < 200 or rng.random() > 0.01 else ['"x"', "2.5", "null", '"4"'][i % 4]
        line = f'{{"id":"e{i}","code":"{rng.integers(100, 999)}","amount":{amount},"qty":{qty}}}'
        out.append(line if i < 200 or rng.random() > 0.005 else f'{{"id":"e{i}","code":"1","qty":1}}')
    path.write_text("\n".join(out) + "\n")
    return path


def test_a_float_field_read_as_numbers_types_and_quarantines_as_its_text_would(tmp_path):
    """With `numbers` (as ingest reads), later pieces read a float field as floats: formatting each number as
    text and parsing it back was a quarter of a piece's parse. A value that is not a number (a word, a quoted
    number, a flag) is kept as its text beside the column, and the checks find the same valid rows, the same
    quarantined rows and reasons as when every such field is read as text."""
    from mining.data.files import UNREAD, iter_jsonl

    f = _odd_log(tmp_path / "log.jsonl")
    schema = {"id": {"type": "string", "required": True, "unique": True}, "code": {"type": "string"},
              "amount": {"type": "float", "required": True}, "qty": {"type": "int"}}

    def checked(numbers: bool):
        chunks, keys, valid, quarantined = list(iter_jsonl(f, block_bytes=8192, numbers=numbers)), {}, [], []
        for c in chunks:
            res = sch.validate_table(pl.from_arrow(c.table), schema, "events", str(f), keys, absent="null")
            valid.append(res.valid.select(list(schema)))
            quarantined.append(res.quarantine)
        return chunks, pl.concat(valid), pd.concat(quarantined, ignore_index=True)

    text_chunks, text_valid, text_bad = checked(False)
    chunks, valid, bad = checked(True)
    assert all(not c.numbers for c in text_chunks) and all(UNREAD not in c.table.column_names for c in text_chunks)
    assert sum(c.numbers == {"amount"} for c in chunks) > len(chunks) // 2  # digits in quotes stay text
    assert any(UNREAD in c.table.column_names for c in chunks)
    assert all(c.table.schema.field("code").type != pa.float64() for c in chunks)
    assert valid.equals(text_valid) and len(valid) > 2500
    assert bad[["row", "reasons"]].equals(text_bad[["row", "reasons"]]) and len(bad) > 30
    records = bad.set_index("row")["record"].map(json.loads)
    word = bad.loc[bad["reasons"].str.contains("type:amount"), "row"].iloc[0]
    assert records[word]["amount"] in ("n/a", "true", "")  # the value as written, not a null
    gz = tmp_path / "log.jsonl.gz"  # a block of a compressed file is not read again: no number read there
    gz.write_bytes(gzip.compress(f.read_bytes()))
    assert not any(c.numbers for c in iter_jsonl(gz, block_bytes=8192, numbers=True))


def test_a_number_read_gives_way_to_text_where_a_float_cannot_be_shown_lossless(tmp_path):
    from mining.data.files import UNREAD, _flat_json_block

    f, fields = tmp_path / "x.jsonl", {"id": pl.String, "n": pl.Float64}
    mixed = _flat_json_block(b'{"id":"a","n":1.5}\n{"id":"b","n":"x"}\n{"id":"c","n":null}\n{"id":"d"}\n', 1, 4, f, fields)
    assert mixed.numbers == {"n"} and mixed.table["n"].to_pylist() == [1.5, None, None, None]
    assert mixed.table[UNREAD].to_pylist() == [None, '{"n": "x"}', None, None]  # null and absent are not values
    long = _flat_json_block(b'{"id":"a","n":12345678901234567891}\n{"id":"b","n":1.5}\n', 1, 2, f, fields)
    assert not long.numbers and long.table["n"].to_pylist() == ["12345678901234567891", "1.5"]  # every digit kept
    many = "".join(f'{{"id":"r{i}","n":"w{i}"}}\n' for i in range(100)).encode()  # gaps on most lines: read as text
    assert _flat_json_block(many, 1, 100, f, fields).table["n"].to_pylist()[:2] == ["w0", "w1"]
    assert _flat_json_block(b'{"id":"a","n":1.5,"new":2}\n', 1, 1, f, fields) is None  # a key it does not know


def test_a_cluster_blocks_keys_hold_the_values_the_reader_kept_as_text():
    """Under Dask a block's keys are hashed apart from its checks: a key the number read kept as text ("12.5"
    in quotes) is among them, typed as the check types it, or a later block repeating it would pass."""
    from mining.data.files import UNREAD
    from mining.ingest.partitions import block_keys

    table = pa.table({"_row": [1, 2, 3], "k": [1.5, None, None], UNREAD: [None, '{"k": "12.5"}', None]})
    keys = block_keys(table, {"k": {"type": "float", "unique": True}})
    assert np.array_equal(keys["k"], sch.distinct_sorted(sch.KeyIndex.hashes(pl.Series([1.5, 12.5]))))


def test_ingest_reads_a_field_as_text_where_the_contract_does_not_type_it_as_a_number(tmp_path):
    """A declared contract may type a field of numbers as text (codes): those blocks are read again as text,
    so that 3 stays "3" (a float read would write "3.0")."""
    from mining.data.files import iter_jsonl
    from mining.ingest import store
    from mining.ingest.contract import Resolved
    from mining.ingest.pipeline import _blocks, _TableRun

    f = _odd_log(tmp_path / "log.jsonl")
    declared = {"id": {"type": "string"}, "amount": {"type": "string"}, "qty": {"type": "int"}}
    quarantine = store.QuarantineWriter(tmp_path / "q.parquet")
    for contract, numbers in ((declared, frozenset()), ({**declared, "amount": {"type": "float"}}, {"amount"})):
        run = _TableRun()
        chunks = list(iter_jsonl(f, block_bytes=8192, numbers=True))
        blocks = list(_blocks("events", iter(chunks), lambda _: Resolved(contract, 1, policy="declared"), quarantine, run))
        assert any(c.numbers for c in chunks) and run.rows_in == 3000
        assert {t.schema.field("amount").type for t, _, _ in blocks[1:]} == ({pa.float64()} if numbers else {pa.string_view()})
    text = pl.concat([pl.from_arrow(c.table).select("amount") for c in list(iter_jsonl(f, block_bytes=8192))[1:]])
    run = _TableRun()
    blocks = list(_blocks("events", iter_jsonl(f, block_bytes=8192, numbers=True),
                          lambda _: Resolved(declared, 1, policy="declared"), quarantine, run))
    assert pl.concat([pl.from_arrow(t).select("amount") for t, _, _ in blocks[1:]]).equals(text)  # "3", not "3.0"
    assert "3" in text["amount"].to_list()
    quarantine.close()


def test_a_json_log_with_a_byte_that_is_not_utf8_stops_at_its_offset_and_utf8_text_reads(tmp_path):
    from mining.data.files import iter_jsonl

    good = "".join(f'{{"rid": {i}, "city": "{"Zürich" if i % 2 else "Bern"}"}}\n' for i in range(40)).encode()
    (tmp_path / "ok.jsonl").write_bytes(good)
    frame = pd.concat([c.frame for c in iter_jsonl(tmp_path / "ok.jsonl", block_bytes=256)], ignore_index=True)
    assert len(frame) == 40 and frame["city"].tolist()[:2] == ["Bern", "Zürich"]
    bad = good + b'{"rid": 40, "city": "Z\xfcrich"}\n'
    (tmp_path / "bad.jsonl").write_bytes(bad)
    at = bad.index(b"\xfc")
    with pytest.raises(IngestError, match=rf"bad\.jsonl: byte 0xfc at offset {at} is not valid utf-8"):
        list(iter_jsonl(tmp_path / "bad.jsonl", block_bytes=256))


def test_distinct_sketch_is_exact_below_its_size_and_close_above_whatever_the_pieces():
    from mining.ingest.distinct import K, DistinctSketch

    def count(*pieces: pl.Series) -> int:
        sketch = DistinctSketch()
        for piece in pieces:
            sketch.update(piece)
        return sketch.count()

    assert count(pl.Series([f"c{i % 1000}" for i in range(50_000)] + [None])) == 1000
    assert count(pl.Series([], dtype=pl.Int64)) == 0
    rng = np.random.default_rng(7)
    many = pl.Series(rng.integers(0, 300_000, 1_000_000))  # ~289 k distinct, each seen ~3 times
    exact, whole = many.n_unique(), count(many)
    assert count(*(many.slice(s, 70_001) for s in range(0, len(many), 70_001))) == whole and exact > K
    assert abs(whole - exact) / exact < 0.02


def test_quartiles_selected_in_place_and_fences_match_pandas():
    from mining.ingest.outliers import fences, fences_of, quantiles, robust_summary

    rng = np.random.default_rng(3)
    x = np.round(rng.lognormal(3, 1, 10_001), 2)
    qs = (0.0, 0.1, 0.25, 0.5, 0.75, 0.999, 1.0)
    assert quantiles(x.copy(), qs) == pytest.approx(pd.Series(x).quantile(list(qs)).tolist())
    assert quantiles(np.array([4.0]), (0.75,)) == [4.0] and quantiles(np.array([1.0, 3.0]), (0.5,)) == [2.0]
    q1, q3 = pd.Series(x).quantile([0.25, 0.75])
    a = x.copy()
    median, limits = robust_summary(a, "iqr", 3.0)
    assert median == pytest.approx(np.median(x)) and limits == pytest.approx(fences("iqr", 3.0, np.nan, q1, q3))
    assert sorted(a) == sorted(x)  # reordered, nothing lost
    assert fences_of(pl.Series(x), "iqr", 3.0) == pytest.approx(fences("iqr", 3.0, np.nan, q1, q3))
    med = np.median(x)
    mad = np.median(np.abs(x - med))
    assert fences_of(pa.chunked_array([x[:5000], x[5000:]]), "mad", 3.5) == pytest.approx(
        fences("mad", 3.5, med, mad, mad))


def test_the_profile_reads_pieces_across_files_whose_types_differ(tmp_path):
    import pyarrow.parquet as pq

    from mining.ingest import store
    from mining.ingest.outliers import fences_of
    from mining.ingest.profile import profile_files

    rng = np.random.default_rng(5)
    v = np.round(rng.normal(50, 5, 3000), 1)
    v[[10, 2500]] = [500.0, -400.0]
    t = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 86_400, 3000), "s")
    pq.write_table(pa.table({"v": pa.array(np.round(v[:1000]).astype("int64")), "c": [f"k{i % 40}" for i in range(1000)],
                             "t": pa.array(t[:1000], pa.timestamp("us"))}), tmp_path / "1.parquet")
    pq.write_table(pa.table({"v": pa.array(list(v[1000:]) + [np.nan]), "c": [None] * 2001,
                             "t": pa.array(list(t[1000:]) + [None], pa.timestamp("us"))}), tmp_path / "2.parquet")
    files = [tmp_path / "1.parquet", tmp_path / "2.parquet"]
    schema = store.unified_schema(files)
    with pytest.raises(pl.exceptions.PolarsError):  # int and float files: polars does not promote
        list(store.column_batches(files, "v", schema))
    pieces = list(store.column_batches(files, "c", schema, rows=700, arrow=True))
    assert sum(map(len, pieces)) == 3001 and max(map(len, pieces)) <= 700
    profile = profile_files(files).set_index("column")
    every = np.concatenate([np.round(v[:1000]), v[1000:]])
    lo, hi = fences_of(pl.Series(every), "iqr", 3.0)
    assert profile.loc["v", "outliers"] == ((every < lo) | (every > hi)).sum() == 2
    assert profile.loc["v", "median"] == pytest.approx(np.median(every))
    assert (profile.loc["v", "min"], profile.loc["v", "max"]) == (-400.0, 500.0)  # NaN: missing, not a number
    assert profile.loc["v", "missing_share"] == pytest.approx(1 / 3001)
    assert profile.loc["c", "n_unique"] == 40 and profile.loc["c", "missing_share"] == pytest.approx(2001 / 3001)
    assert profile.loc["t", "min"] == str(t.min()) and profile.loc["t", "n_unique"] == len(set(t))


def _block(rng: np.random.Generator, start: int, n: int, device: bool) -> pl.DataFrame:
    amount = np.round(rng.lognormal(3, 1, n), 2)
    amount[::97] = np.nan
    frame = pl.DataFrame({
        "_source": pl.Series(["log.jsonl"] * n, dtype=pl.Categorical), "_row": np.arange(start, start + n),
        "id": [None if i % 501 == 0 else f"e{i}" for i in range(start, start + n)],
        "customer": [f"c{v}" for v in rng.integers(0, 30_000, n)],  # past the sketch's 16,384: estimated
        "kind": rng.choice(["buy", "refund", None], n).tolist(),
        "t": pl.Series((np.datetime64("2025-01-01T00:00:00") + rng.integers(0, 86_400 * 365, n).astype("timedelta64[s]"))
                       .astype("datetime64[us]")),
        "amount": amount, "qty": pl.Series(rng.integers(1, 10, n)).scatter([3, 7], None)})
    return frame.with_columns(pl.Series("device", rng.choice(["ios", "web"], n))) if device else frame


def test_the_profile_taken_as_blocks_are_written_equals_the_files_profile(tmp_path):
    from mining.ingest import store
    from mining.ingest.partitions import as_arrow
    from mining.ingest.profile import StreamProfile, profile_files

    schema = {"id": {"type": "string", "unique": True}, "customer": {"type": "string"}, "kind": {"type": "category"},
              "t": {"type": "datetime"}, "amount": {"type": "float"}, "qty": {"type": "int"}}
    rng = np.random.default_rng(3)
    writer, streamed, customers = store.TableWriter(tmp_path / "t", "t", "month"), StreamProfile(), set()
    for i, start in enumerate(range(0, 60_000, 12_000)):  # a field gained from the third block on
        block = _block(rng, start, 12_000, device=i >= 2)
        customers.update(block["customer"])
        version = {**schema, "device": {"type": "category"}} if i >= 2 else schema
        writer.write(as_arrow(block), version, 1 + (i >= 2))
        streamed.add(block, version)
    writer.close()
    files = store.files(tmp_path / "t")
    read = profile_files(files, unique=["id"])
    got = streamed.frame(files, "iqr", 3.0, unique=["id"])
    pd.testing.assert_frame_equal(got, read)
    row = got.set_index("column")
    assert row.loc["device", "missing_share"] == pytest.approx(0.4) and row.loc["id", "n_unique"] == 60_000 - 120
    assert abs(row.loc["customer", "n_unique"] / len(customers) - 1) < 0.02 and len(customers) > 20_000
    assert row.loc["qty", "missing_share"] == pytest.approx(10 / 60_000)
    assert streamed.frame(files, "iqr", 3.0) is None  # `id` not known unique: the stream counted it, the files differ


def test_a_streamed_profile_that_cannot_stand_for_the_files_gives_way_to_reading_them(tmp_path):
    from mining.ingest import store
    from mining.ingest.partitions import as_arrow
    from mining.ingest.profile import StreamProfile

    rng = np.random.default_rng(4)
    block = _block(rng, 0, 2_000, device=False)
    writer, streamed = store.TableWriter(tmp_path / "t", "t", "month"), StreamProfile()
    writer.write(as_arrow(block), {}, 1)
    streamed.add(block, {})
    writer.close()
    files = store.files(tmp_path / "t")
    assert streamed.frame(files, "iqr", 3.0) is not None
    extra = store.TableWriter(tmp_path / "u", "t", "month")  # a file the stream did not see
    extra.write(as_arrow(block), {}, 1)
    extra.close()
    assert streamed.frame([*files, *store.files(tmp_path / "u")], "iqr", 3.0) is None
    retyped = StreamProfile()  # a column whose type changed between blocks
    retyped.add(block, {})
    retyped.add(block.with_columns(pl.col("qty").cast(pl.Float64)), {})
    assert retyped.frame(files, "iqr", 3.0) is None
    small = StreamProfile()
    small.VALUES_BUDGET = 1_000  # number values past the budget are not held
    small.add(block, {})
    assert small.frame(files, "iqr", 3.0) is None and not small.tallies
