"""compute.storage_url: ingest's tables and the feature table published as hive-partitioned Parquet
to an object store; here a real S3 API (moto's server on loopback) reached through s3fs."""

import pandas as pd
import pytest

from mining.catalog import member

from tests.conftest import params_root

CHARTER = {"task": {"type": "classification"}}


@pytest.fixture(scope="module")
def s3():
    """A local S3-compatible server and a bucket `lake`; credentials and endpoint from the environment,
    as a user's would be."""
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = pytest.MonkeyPatch()
    for k, v in {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "test",
                 "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        env.setenv(k, v)
    import s3fs
    s3fs.S3FileSystem.clear_instance_cache()
    s3fs.S3FileSystem().mkdir("lake")
    yield "s3://lake/churn"
    env.undo()
    server.stop()


def test_ingest_and_features_publish_partitioned_datasets_to_s3(tmp_path, s3):
    import s3fs

    from mining.features.store import build_and_write
    from mining.ingest.pipeline import ingest, read_entities, read_events
    from mining.params import load_params
    from mining.storage import read_dataset

    params = load_params({"data.demo.n_customers": 600, "compute.storage_url": s3}, params_root(tmp_path))
    result = ingest(params, CHARTER)
    assert result.published == {"entities": f"{s3}/interim/entities", "events": f"{s3}/interim/events"}
    fs = s3fs.S3FileSystem()
    months = [p.rsplit("/", 1)[-1] for p in fs.ls("lake/churn/interim/events")]
    assert len(months) >= 12 and all(m.startswith("event_time_month=") for m in months)
    assert not [p for p in fs.find("lake/churn") if member("quarantine") in p]  # raw records stay home
    events = read_dataset(result.published["events"])
    local = read_events(params)
    cols = ["customer_id", "event_time", "amount"]
    pd.testing.assert_frame_equal(events[cols].sort_values(cols, ignore_index=True),
                                  local.to_pandas()[cols].sort_values(cols, ignore_index=True), check_dtype=False)

    built = build_and_write(params, CHARTER, read_entities(params), local)
    assert built.published == f"{s3}/features/table"
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.ls("lake/churn/features/table")) == ["split=test", "split=train"]
    back = read_dataset(built.published)
    key = built.definitions["roles"]["id"]
    back = back.assign(split=back["split"].astype(str)).sort_values(key, ignore_index=True)[list(built.frame.columns)]
    pd.testing.assert_frame_equal(back, built.frame.sort_values(key, ignore_index=True), check_dtype=False)

    # a second run replaces the datasets: no file of the first run is left beside the new ones
    before = set(fs.find("lake/churn/features/table"))
    build_and_write(params, CHARTER, read_entities(params), local)
    assert set(fs.find("lake/churn/features/table")) == before and len(read_dataset(built.published)) == len(built.frame)


def test_a_storage_url_with_a_password_in_it_is_refused(tmp_path):
    from mining.params import ParamsError, load_params
    with pytest.raises(ParamsError, match="compute.*storage_url|storage_url"):
        load_params({"compute.storage_url": "s3://user:hunter2@lake/x"}, params_root(tmp_path))
