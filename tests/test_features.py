from datetime import datetime

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

from mining.features.history import history_features
from mining.features.impute import GroupMedianImputer
from mining.features.split import assign_split
from mining.features.online import OnlineStore, latest_rows
from mining.features.table import build_table, encode_target
from mining.params import load_params
from tests.conftest import params_root

CUTOFF = pd.Timestamp("2026-01-01")


def events(rows):
    return pd.DataFrame(rows, columns=["id", "t", "amount", "kind"]).assign(t=lambda d: pd.to_datetime(d["t"]))


def test_recency_frequency_monetary_as_of_the_cutoff():
    ev = events([
        ("a", "2025-12-25", 10.0, "card"), ("a", "2025-11-01", 30.0, "card"), ("a", "2025-01-15", 5.0, "fee"),
        ("b", "2025-06-01", 100.0, "card"),
    ])
    f = history_features(ev, pd.Series(["a", "b", "c"]), id_col="id", time_col="t", cutoff=CUTOFF,
                         windows_days=[30, 90, 365], amount_col="amount", category_col="kind")
    a, b, c = f.iloc[0], f.iloc[1], f.iloc[2]
    assert a["days_since_last_event"] == 7 and a["days_since_first_event"] == 351
    assert (a["n_events_30d"], a["n_events_90d"], a["n_events_365d"]) == (1, 2, 3)
    assert a["amount_sum_90d"] == 40 and a["amount_mean_90d"] == 20
    assert a["share_card"] == pytest.approx(2 / 3)
    assert b["n_events_30d"] == 0 and b["n_events_365d"] == 1
    assert c["n_events_365d"] == 0 and np.isnan(c["days_since_last_event"])  # no history: zero counts, no recency


def test_events_after_the_cutoff_change_nothing():
    ids = pd.Series(["a", "b"])
    before = events([("a", "2025-12-10", 10.0, "card"), ("b", "2025-10-01", 20.0, "fee")])
    future = events([("a", "2026-01-01", 999.0, "card"), ("b", "2026-02-01", 999.0, "atm"),
                     ("a", "2026-03-01", 999.0, "fee")])
    kw = dict(id_col="id", time_col="t", cutoff=CUTOFF, windows_days=[30, 365], amount_col="amount", category_col="kind")
    pd.testing.assert_frame_equal(history_features(before, ids, **kw),
                                  history_features(pd.concat([before, future]), ids, **kw))


def test_amount_sums_are_exact_whatever_order_the_events_arrive_in():
    # 1e16 + 1.0 is 1e16 in float64: a running sum would give 0, 1 or 2 depending on the order
    ev = events([("a", "2025-12-10", 1e16, "card"), ("a", "2025-12-11", 1.0, "card"), ("a", "2025-12-12", -1e16, "fee"),
                 ("a", "2025-12-13", 1.0, "fee"), ("b", "2025-12-14", 0.1, "card"), ("b", "2025-12-15", 0.2, "card"),
                 ("c", "2025-12-16", np.inf, "card"), ("c", "2025-12-17", 5.0, "card"), ("d", "2025-12-18", np.nan, "fee")])
    kw = dict(id_col="id", time_col="t", cutoff=CUTOFF, windows_days=[30, 365], amount_col="amount", category_col="kind")
    ids = pd.Series(["a", "b", "c", "d"])
    f = history_features(ev, ids, **kw)
    assert f["amount_sum_30d"].iloc[0] == 2.0 and f["amount_mean_30d"].iloc[0] == 0.5
    assert f["amount_sum_30d"].iloc[1] == 0.30000000000000004  # 0.1 + 0.2 as exact binary values, rounded once
    assert f["amount_sum_30d"].iloc[2] == np.inf and f["amount_mean_30d"].iloc[2] == np.inf
    assert f["amount_sum_30d"].iloc[3] == 0 and np.isnan(f["amount_mean_30d"].iloc[3])  # pandas' NaN: a missing amount
    assert f["n_events_30d"].iloc[3] == 1
    raw = pl.from_pandas(ev, nan_to_null=False)  # a NaN read from Parquet is a value, not a gap
    assert np.isnan(history_features(raw, ids, **kw)["amount_sum_30d"].iloc[3])
    as_relation = duckdb.connect().from_arrow(pl.from_pandas(ev).to_arrow())
    pd.testing.assert_frame_equal(history_features(as_relation, ids, **kw), f, check_exact=True)
    for seed in range(5):
        shuffled = ev.sample(frac=1.0, random_state=seed)
        pd.testing.assert_frame_equal(history_features(shuffled, ids, **kw), f, check_exact=True)


def test_a_scan_of_written_files_reads_as_the_whole_table_even_when_their_types_differ(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mining.ingest.store import read_polars, scan_duckdb

    (tmp_path / "a").mkdir()
    pq.write_table(pa.table({"id": ["x", "y"], "v": pa.array([1, 2], pa.int64())}), tmp_path / "a" / "1.parquet")
    pq.write_table(pa.table({"id": ["z"], "v": pa.array([2.5], pa.float64()), "w": ["new"]}),
                   tmp_path / "a" / "2.parquet")
    whole = read_polars(tmp_path / "a")
    assert whole["v"].to_list() == [1.0, 2.0, 2.5]  # int and float files: promoted to float
    assert pl.from_arrow(scan_duckdb(tmp_path / "a").order("id").to_arrow_table()).equals(whole)
    assert scan_duckdb(tmp_path / "a", ["v"]).aggregate("sum(v)").fetchall() == [(5.5,)]
    events = pl.DataFrame({"id": ["x", "x", "z"], "t": [datetime(2025, 12, 1), datetime(2025, 12, 20), datetime(2025, 6, 1)],
                           "amount": [1.0, 2.0, 3.0], "kind": ["a", "b", None]})
    (tmp_path / "ev").mkdir()
    events.head(2).write_parquet(tmp_path / "ev" / "1.parquet")
    events.tail(1).write_parquet(tmp_path / "ev" / "2.parquet")
    kw = dict(id_col="id", time_col="t", cutoff=CUTOFF, windows_days=[30, 365], amount_col="amount", category_col="kind")
    pd.testing.assert_frame_equal(history_features(scan_duckdb(tmp_path / "ev"), pd.Series(["z", "x"]), **kw),
                                  history_features(events, pd.Series(["z", "x"]), **kw), check_exact=True)


def test_column_names_and_event_types_with_quotes_are_read_as_written():
    ev = events([("a", "2025-12-25", 10.0, "o'clock"), ("a", "2025-12-26", 5.0, 'say "hi"')])
    ev = ev.rename(columns={"id": 'the "id"', "amount": "amount; DROP"})
    f = history_features(ev, pd.Series(["a"]), id_col='the "id"', time_col="t", cutoff=CUTOFF, windows_days=[30],
                         amount_col="amount; DROP", category_col="kind")
    assert f.loc[0, "amount_sum_30d"] == 15 and f.loc[0, "share_o'clock"] == 0.5 and f.loc[0, 'share_say "hi"'] == 0.5


def test_group_median_imputer_falls_back_through_the_hierarchy():
    train = pd.DataFrame({"zip": ["z1", "z1", "z2", "z3"], "region": ["r1", "r1", "r1", "r2"],
                          "income": [10.0, 20.0, 100.0, np.nan]})
    imp = GroupMedianImputer({"income": ["zip", "region"]}).fit(train)
    new = pd.DataFrame({"zip": ["z1", "z3", "z9", "z9"], "region": ["r9", "r2", "r1", "r9"],
                        "income": [np.nan, np.nan, np.nan, 5.0]})
    # z1 median 15; z3 has no income and r2 neither -> overall 20; unknown zip in r1 -> r1 median 20
    assert imp.transform(new)["income"].tolist() == [15.0, 20.0, 20.0, 5.0]


def test_encode_target_compares_as_text():
    assert encode_target(pd.Series(["Yes", "No", "Yes"]), "Yes").tolist() == [1, 0, 1]
    assert encode_target(pd.Series([1, 0, 1.0]), "1").tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match="positive_class 'yes' never occurs"):
        encode_target(pd.Series(["Yes", "No"]), "yes")


def test_split_random_is_stratified_and_seeded():
    y = pd.Series([1] * 100 + [0] * 900)
    df = pd.DataFrame({"x": range(1000)})
    s1 = assign_split(df, y, fraction=0.25, seed=1)
    assert (s1 == "test").sum() == 250 and y[s1 == "test"].mean() == pytest.approx(0.1)
    assert s1.equals(assign_split(df, y, fraction=0.25, seed=1))


def test_split_by_time_holds_out_the_latest_window():
    df = pd.DataFrame({"t": pd.date_range("2025-01-01", periods=100, freq="D")})
    s = assign_split(df, None, fraction=0.2, seed=0, time_column="t")
    assert df.loc[s == "test", "t"].min() > df.loc[s == "train", "t"].max()
    assert (s == "test").sum() == 20


def test_split_column_fixes_the_holdout():
    df = pd.DataFrame({"fold": ["train", "test", "train"]})
    assert assign_split(df, None, fraction=0.5, seed=0, split_column="fold").tolist() == ["train", "test", "train"]


def test_history_features_do_not_depend_on_event_row_order():
    rng = np.random.default_rng(0)
    ev = pd.DataFrame({"id": rng.choice([f"c{i}" for i in range(50)], 20_000),
                       "t": CUTOFF - pd.to_timedelta(rng.integers(1, 400 * 86_400, 20_000), unit="s"),
                       "amount": rng.lognormal(3, 1, 20_000), "kind": rng.choice(["a", "b"], 20_000)})
    kw = dict(id_col="id", time_col="t", cutoff=CUTOFF, windows_days=[30, 365], amount_col="amount", category_col="kind")
    ids = pd.Series([f"c{i}" for i in range(50)])
    pd.testing.assert_frame_equal(history_features(ev, ids, **kw),
                                  history_features(ev.sample(frac=1, random_state=1), ids, **kw), check_exact=True)


def test_the_online_row_is_as_of_the_newest_event_while_the_offline_row_stays_at_the_cutoff(tmp_path):
    params = load_params({"data.id_column": "id", "data.target": "churned", "data.positive_class": 1,
                          "data.time_column": None, "data.split_column": None, "data.events.id_column": "id",
                          "data.events.time_column": "t", "data.events.amount_column": "amount",
                          "data.events.category_column": "kind", "data.events.cutoff": str(CUTOFF.date()),
                          "data.sensitive_features": [], "features.windows_days": [30, 365]}, params_root(tmp_path))
    entities = pd.DataFrame({"id": [f"c{i}" for i in range(40)], "plan": ["basic", "plus"] * 20,
                             "churned": [0, 1] * 20})
    ev = events([("c0", "2025-12-20", 10.0, "card"), ("c0", "2026-02-10", 50.0, "card"),
                 ("c1", "2025-06-01", 5.0, "fee"), ("c2", "2026-02-01", 7.0, "card")])
    table = build_table(params, {"task": "classification"}, entities, ev)
    rows, as_of = latest_rows(params, entities, ev, table.definitions)
    offline, online = table.frame.set_index("id"), rows.set_index("id")
    assert as_of.startswith("2026-02-10")
    assert offline.loc["c0", "n_events_365d"] == 1 and online.loc["c0", "n_events_365d"] == 2  # no future in training
    assert offline.loc["c2", "n_events_365d"] == 0 and online.loc["c2", "n_events_30d"] == 1
    assert list(online.columns) == [f["name"] for f in table.definitions["features"]]
    store = OnlineStore(f"sqlite:///{tmp_path / 'ids.db'}")
    assert store.write(rows, "id", as_of) == 40
    store.write(rows.head(3), "id", as_of)  # a rewrite replaces every row at once
    found = store.lookup(["c0", "c1", "c39"])
    assert set(found) == {"c0", "c1"} and found["c0"]["n_events_365d"] == 2.0 and found["c0"]["plan"] == "basic"


def test_interactions_are_computed_in_the_pipeline_and_by_the_compiled_scorer():
    from mining.deploy.bundle import records_of
    from mining.deploy.compiled import compile_model
    from mining.features.interactions import Interactions
    from mining.train.candidates import build_candidate
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"complaints": rng.poisson(1, 400).astype(float), "products": rng.integers(0, 4, 400).astype(float),
                      "spend": rng.normal(100, 10, 400)})
    X.loc[:5, "complaints"] = np.nan
    y = (X["complaints"].fillna(0) / X["products"].replace(0, 1) + rng.normal(0, 0.3, 400) > 0.6).astype(int)
    specs = {"per_product": {"kind": "ratio", "a": "complaints", "b": "products"},
             "spend_x_products": {"kind": "product", "a": "spend", "b": "products"}}
    out = Interactions(specs).fit(X).transform(X)
    assert np.isnan(out.loc[X["products"] == 0, "per_product"]).all()  # over zero: missing, imputed later
    assert np.allclose(out["spend_x_products"], X["spend"] * X["products"])
    defs = {"features": [{"name": c, "kind": "numeric", "encoding": "none"} for c in X.columns],
            "interactions": specs}
    model = build_candidate("logreg", {}, defs, seed=0).fit(X, y)
    assert "num__per_product" in model[:-1].get_feature_names_out()
    records = records_of(X.head(40))
    assert np.allclose(compile_model(model).scores(records), model.predict_proba(X.head(40))[:, 1], atol=1e-9, rtol=0)


def test_an_interaction_the_source_cannot_build_is_listed_and_a_clashing_name_refused():
    from mining.features.interactions import resolve
    usable, skipped = resolve({"r": {"kind": "ratio", "a": "x", "b": "gone"}, "p": {"kind": "product", "a": "x", "b": "z"}},
                              {"x", "z"}, {"x", "z", "id"})
    assert list(usable) == ["p"] and "gone not a numeric input" in skipped["r"]
    with pytest.raises(ValueError, match="interactions.x: 'x' is already a column"):
        resolve({"x": {"kind": "ratio", "a": "x", "b": "z"}}, {"x", "z"}, {"x", "z"})
