"""Every source kind behind read_source: folder, SQLite, DuckDB, PostgreSQL, fsspec URL."""

import sqlite3
from pathlib import Path

import duckdb
import fsspec
import pandas as pd
import pytest
import sqlalchemy as sa

from mining.data.files import IngestError
from mining.data.sources import read_source

ROWS = pd.DataFrame({"id": ["a", "b", "c"], "age": [30, 40, 50]})


def test_folder_of_partitioned_files(tmp_path):
    for month, part in (("2026-01", ROWS.head(2)), ("2026-02", ROWS.tail(1))):
        d = tmp_path / "src" / f"month={month}"
        d.mkdir(parents=True)
        part.to_csv(d / "part.csv", index=False)
    (tmp_path / "src" / "README.txt.bak").write_text("ignored")
    read, lineage = read_source("src", tmp_path)
    assert read.frame["id"].tolist() == ["a", "b", "c"]
    assert read.frame["month"].tolist() == ["2026-01", "2026-01", "2026-02"]
    assert read.frame["_source"].str.endswith("part.csv").all() and read.frame["_row"].tolist() == [2, 3, 2]
    assert lineage["files"] == 2 and len(lineage["sha256"]) == 64
    (tmp_path / "empty").mkdir()
    with pytest.raises(IngestError, match="folder holds no .csv, .parquet or .jsonl file"):
        read_source("empty", tmp_path)


def test_a_file_read_once_is_hashed_as_a_second_read_would_hash_it(tmp_path):
    from mining.data.files import iter_file
    from mining.lineage import content_hash, file_hasher

    text = "".join(f'{{"id": "r{i}", "n": {i}}}\n' for i in range(3000))  # a last line without its newline, too
    for name, data in (("log.jsonl", text), ("log.csv", "id,n\n" + "".join(f"r{i},{i}\n" for i in range(3000))),
                       ("tail.jsonl", text.rstrip("\n"))):
        (tmp_path / name).write_text(data)
        read, lineage = read_source(name, tmp_path)  # blocks of 32 MB: one; small blocks below
        assert lineage["sha256"] == content_hash(tmp_path / name) and lineage["rows"] == len(read.frame) == 3000
        digest = file_hasher(tmp_path / name)
        assert sum(c.table.num_rows for c in iter_file(tmp_path / name, block_bytes=1000, digest=digest)) == 3000
        assert digest.hexdigest() == content_hash(tmp_path / name), name
    ROWS.to_parquet(tmp_path / "t.parquet")  # read by Parquet's reader, not as bytes: hashed apart
    assert read_source("t.parquet", tmp_path)[1]["sha256"] == content_hash(tmp_path / "t.parquet")
    with pytest.raises(ValueError, match="hash it apart"):
        next(iter_file(tmp_path / "t.parquet", digest=file_hasher(tmp_path / "t.parquet")))


def test_sqlite_query(tmp_path):
    with sqlite3.connect(tmp_path / "crm.db") as con:
        ROWS.to_sql("customers", con, index=False)
    read, lineage = read_source("sqlite:///crm.db", tmp_path, query="SELECT * FROM customers WHERE age > 35")
    assert read.frame["id"].tolist() == ["b", "c"] and read.frame["_row"].tolist() == [1, 2]
    assert lineage["query"].startswith("SELECT") and lineage["rows"] == 2
    with pytest.raises(IngestError, match="needs data.query"):
        read_source("sqlite:///crm.db", tmp_path)
    with pytest.raises(IngestError, match=r"sqlite:///crm.db: query failed: .*no such table: nope"):
        read_source("sqlite:///crm.db", tmp_path, query="SELECT * FROM nope")
    with pytest.raises(IngestError, match="the query returned no rows"):
        read_source("sqlite:///crm.db", tmp_path, query="SELECT * FROM customers WHERE age > 99")


def test_duckdb_query(tmp_path):
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        con.execute("CREATE TABLE customers AS SELECT * FROM ROWS")
    read, _ = read_source("duckdb:///wh.duckdb", tmp_path, query="SELECT id, age FROM customers ORDER BY id")
    assert read.frame["age"].tolist() == [30, 40, 50]
    with pytest.raises(IngestError, match="DuckDB file .* not found"):
        read_source("duckdb:///nope.duckdb", tmp_path, query="SELECT 1")


def test_credentials_come_from_the_environment_and_stay_out_of_lineage(tmp_path, monkeypatch):
    with sqlite3.connect(tmp_path / "crm.db") as con:
        ROWS.to_sql("customers", con, index=False)
    monkeypatch.setenv("MINING_DB_CRM", "crm.db")
    read, lineage = read_source("sqlite:///${MINING_DB_CRM}", tmp_path, query="SELECT * FROM customers")
    assert len(read.frame) == 3 and lineage["uri"] == "sqlite:///${MINING_DB_CRM}"
    monkeypatch.delenv("MINING_DB_CRM")
    with pytest.raises(IngestError, match=r"needs \$\{MINING_DB_CRM\} but it is not set in the environment"):
        read_source("sqlite:///${MINING_DB_CRM}", tmp_path, query="SELECT 1")


def test_a_url_may_not_expand_the_projects_own_keys_or_other_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("MINING_ENCRYPTION_KEY", "ab" * 32)
    monkeypatch.setenv("HOME_SECRET", "x")
    for name in ("MINING_ENCRYPTION_KEY", "HOME_SECRET"):
        with pytest.raises(IngestError, match=rf"a URL may not name \$\{{{name}\}}: only database, object-store"):
            read_source(f"postgresql://u@h/db?key=${{{name}}}", tmp_path, query="SELECT 1")


def test_fsspec_url_is_read_like_a_local_file(tmp_path):
    with fsspec.open("memory://bucket/customers.parquet", "wb") as fh:
        ROWS.to_parquet(fh)
    read, lineage = read_source("memory://bucket/customers.parquet", tmp_path)
    assert read.frame["id"].tolist() == ["a", "b", "c"]
    assert (read.frame["_source"] == "memory://bucket/customers.parquet").all() and lineage["rows"] == 3
    with pytest.raises(IngestError, match="memory://bucket/missing.csv: object not found"):
        read_source("memory://bucket/missing.csv", tmp_path)


def test_postgresql_query(postgres_url):
    url = postgres_url
    engine = sa.create_engine(url)
    with engine.begin() as con:
        ROWS.to_sql("test_ingest_customers", con, if_exists="replace", index=False)
    try:
        read, lineage = read_source(url, None, query="SELECT * FROM test_ingest_customers ORDER BY id")
        assert read.frame["id"].tolist() == ["a", "b", "c"] and lineage["rows"] == 3
    finally:
        with engine.begin() as con:
            con.execute(sa.text("DROP TABLE test_ingest_customers"))
        engine.dispose()


def test_the_query_runs_on_a_read_only_connection(tmp_path):
    with sqlite3.connect(tmp_path / "crm.db") as con:
        ROWS.to_sql("customers", con, index=False)
    with pytest.raises(IngestError, match=r"query failed: .*readonly"):
        read_source("sqlite:///crm.db", tmp_path, query="DELETE FROM customers RETURNING id")
    with sqlite3.connect(tmp_path / "crm.db") as con:
        assert con.execute("SELECT COUNT(*) FROM customers").fetchone() == (3,)


def test_a_postgresql_query_cannot_write(postgres_url):
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as con:
            con.execute(sa.text("CREATE SEQUENCE IF NOT EXISTS test_ro_seq"))
        with pytest.raises(IngestError, match=r"query failed: .*read-only transaction"):  # a SELECT that writes
            read_source(postgres_url, Path("."), query="SELECT nextval('test_ro_seq') AS x")
    finally:
        with engine.begin() as con:
            con.execute(sa.text("DROP SEQUENCE IF EXISTS test_ro_seq"))
        engine.dispose()
