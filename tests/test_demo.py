import numpy as np
import pandas as pd
import pytest

from mining.data.demo import SCHEMA, DemoSpec, generate


@pytest.fixture(scope="module")
def demo():
    return generate(DemoSpec(n_customers=3000, seed=7))


def test_same_seed_same_data(demo):
    again = generate(DemoSpec(n_customers=3000, seed=7))
    pd.testing.assert_frame_equal(demo["customers"], again["customers"])
    pd.testing.assert_frame_equal(demo["events"], again["events"])
    other = generate(DemoSpec(n_customers=3000, seed=8))
    assert not other["customers"]["income"].equals(demo["customers"]["income"])


def test_shape_of_a_realistic_customer_base(demo):
    c, e = demo["customers"], demo["events"]
    assert set(SCHEMA["customers"]) == set(c.columns)
    assert set(SCHEMA["events"]) == set(e.columns)
    assert 0.05 <= c["churned"].mean() <= 0.20
    assert c["zip_code"].nunique() > 100  # the high-cardinality categorical
    assert c["income"].isna().mean() > 0.03 and c["credit_score"].isna().any()
    span = e["event_time"].max() - e["event_time"].min()
    assert span >= pd.Timedelta(days=365)
    assert len(e) / c["customer_id"].nunique() > 20


def test_churners_leave_within_the_label_window(demo):
    c, e = demo["customers"], demo["events"]
    cutoff, end = pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-01") + pd.Timedelta(days=90)
    last = e.groupby("customer_id")["event_time"].max()
    churners = c.loc[c["churned"] == 1, "customer_id"].drop_duplicates()
    stayers = c.loc[c["churned"] == 0, "customer_id"].drop_duplicates()
    assert (last.reindex(churners).dropna() < end).all()
    # most stayers are still active in the last month of the window; churners are not
    assert (last.reindex(stayers) > end - pd.Timedelta(days=30)).mean() > 0.8
    assert (last.reindex(churners) > end - pd.Timedelta(days=30)).mean() < 0.5
    assert (e["event_time"] >= cutoff).any()  # the future exists in the raw data: features must not read it


def test_bad_rows_are_planted_for_ingest_to_catch(demo):
    c, e = demo["customers"], demo["events"]
    assert c["customer_id"].duplicated().any()
    assert (c["credit_score"] > 850).any()
    assert (e["amount"] < 0).sum() >= 0  # rare: may be absent at this size
    assert np.isfinite(e["amount"]).all()
