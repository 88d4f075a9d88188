"""`compute.backend: dask` on a real LocalCluster of 2 worker processes gives what the local backend
gives: the same valid rows, the same quarantine with the same reasons, the same counts, across
source blocks (a key repeated in a later file, events whose entity failed its checks)."""

import json

import pandas as pd
import pytest

from mining.catalog import member
from tests.conftest import params_root

CHARTER = {"task": {"type": "classification"}}


def _sources(tmp_path):
    ent, ev = tmp_path / "entities", tmp_path / "events"
    ent.mkdir()
    ev.mkdir()
    head = "rid,label,seen,income,email\n"
    rows = lambda ids: "".join(f"{i},{'Yes' if i % 3 == 0 else 'No'},2024-0{1 + i % 3}-1{i % 9},{100 + i}.5,u{i}@x.org\n"
                               for i in ids)
    (ent / "e1.csv").write_text(head + rows(range(20)))
    (ent / "e2.csv").write_text(head + rows(range(20, 40)) + "5,No,2024-02-11,10.0,again@x.org\n"  # a key of e1
                                + "41,No,2024-02-11,abc,u41@x.org\n" + "42,,2024-02-12,1.0,u42@x.org\n"
                                + "43,No,2024-03-01\n")  # income not a number; no label; a ragged row
    (ent / "e3.csv").write_text(head + rows(range(44, 60)) + "25,Yes,2024-01-15,1.0,dup@x.org\n"
                                + "7,Maybe,2024-01-16,xyz,bad@x.org\n")  # a key of e2; a key of e1 that also fails
    events = [{"eid": f"v{i}", "rid": i % 62, "t": f"2024-0{1 + i % 4}-0{1 + i % 9}T10:00:00", "amount": i * 1.5}
              for i in range(120)]  # rid 41, 42 (quarantined entities), 43 (ragged), 60, 61 (none): orphans
    (ev / "a.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events[:60]) + "{not json\n")
    (ev / "b.jsonl").write_text("".join(json.dumps({**e, "channel": "web"}) + "\n" for e in events[60:]))
    return ent, ev


def _ingest(tmp_path, name, backend, ent, ev):
    from mining.ingest.pipeline import ingest
    from mining.params import load_params

    params = load_params({"data.source": str(ent), "data.target": "label", "data.id_column": "rid",
                          "data.time_column": "seen", "data.sensitive_features": [], "data.split_column": None,
                          "data.events.source": str(ev), "data.events.id_column": "rid", "data.events.time_column": "t",
                          "data.events.amount_column": "amount", "data.events.category_column": None,
                          "ingest.pseudonymise.columns": ["email"], "ingest.max_quarantine_share": 1.0,
                          "compute.backend": backend, "compute.local_workers": 2}, params_root(tmp_path / name))
    return ingest(params, CHARTER, tmp_path / name / "interim")


def _sorted(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return df.sort_values(by, ignore_index=True)


def test_ingest_on_a_local_cluster_equals_the_local_backend(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setenv("MINING_PSEUDONYM_KEY", "a secret the workers inherit")
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    ent, ev = _sources(tmp_path)
    local = _ingest(tmp_path, "local", "local", ent, ev)
    dask = _ingest(tmp_path, "dask", "dask", ent, ev)

    assert dask.counts == local.counts and dask.check_counts == local.check_counts
    assert local.counts["entities"] == {"rows_in": 59 + 5 - 2, "rows_valid": 56, "rows_quarantined": 6}
    assert local.check_counts["entities/duplicate:rid"] == 3 and local.check_counts["events/parse"] == 1
    assert local.check_counts["events/orphan:rid (no valid entity)"] > 0
    assert dask.schema == local.schema and "channel" in dask.schema["events"]
    q_local, q_dask = (_sorted(r.quarantine, ["table", "source", "row"]) for r in (local, dask))
    pd.testing.assert_frame_equal(q_dask, q_local)
    e2 = q_local[q_local["source"].str.endswith("e2.csv")].set_index("row")["reasons"]
    assert e2[22] == "duplicate:rid"  # line 22 of e2.csv: "5", which e1.csv had
    for table, key in (("entities", ["rid"]), ("events", ["eid"])):
        pd.testing.assert_frame_equal(_sorted(dask.table(table), key), _sorted(local.table(table), key))
    assert not dask.table("entities")["email"].str.contains("@").any()  # pseudonymised on the workers too
    parts = sorted(p.relative_to(tmp_path / "dask" / "interim").as_posix()
                   for p in (tmp_path / "dask" / "interim" / member("entities")).rglob("*.parquet"))
    assert parts[0] == "entities/seen_month=2024-01/part-00000-00000.parquet"  # each block its own files
    assert {p.split("/")[-1] for p in parts} >= {"part-00001-00000.parquet", "part-00002-00000.parquet"}


def test_history_features_per_partition_of_ids_equal_the_local_table(tmp_path):
    """The demo's event history (1,500 customers) read and shuffled by id on 2 workers: the same
    feature table, to the last bit, as from the events in one pandas frame; the online rows too."""
    pytest.importorskip("distributed")
    from mining.backend import dask_client
    from mining.features.online import latest_rows
    from mining.features.partitioned import ClusterEvents
    from mining.features.table import build_table
    from mining.ingest.pipeline import ingest, read_entities, read_events
    from mining.params import load_params

    params = load_params({"data.demo.n_customers": 1500, "compute.backend": "dask"}, params_root(tmp_path))
    ingest(params, CHARTER)
    entities, events = read_entities(params), read_events(params)
    local = build_table(params, CHARTER, entities, events)
    with dask_client(params["compute"]) as client:
        on_cluster = ClusterEvents.of(params, client)
        assert on_cluster.frame.npartitions >= 1 and len(on_cluster) == len(events)
        dask = build_table(params, CHARTER, entities, on_cluster)
        rows, as_of = latest_rows(params, entities, on_cluster, dask.definitions)
    assert dask.definitions == local.definitions
    assert sum(f["source"] == "events" for f in local.definitions["features"]) >= 10
    pd.testing.assert_frame_equal(dask.frame, local.frame, check_exact=True)
    local_rows, local_as_of = latest_rows(params, entities, events, local.definitions)
    assert as_of == local_as_of
    pd.testing.assert_frame_equal(rows, local_rows, check_exact=True)
