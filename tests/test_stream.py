"""Micro-batch ingestion: new files only, exactly once, and a killed run leaves no partial batch."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from mining.ingest.stream import STAGING, published, read_published, run_batch, taken_files

SCHEMA = {"device": {"type": "string", "required": True}, "t": {"type": "datetime", "required": True},
          "temp": {"type": "float", "min": -50, "max": 150}}


def drop(inbox: Path, name: str, start: int, n: int, bad: str = "") -> None:
    lines = [json.dumps({"device": f"d{i % 7}", "t": f"2026-01-01T00:{i % 60:02d}:00Z", "temp": 20 + i % 5,
                         "seq": i}) for i in range(start, start + n)]
    (inbox / name).write_text("\n".join(lines) + "\n" + bad)


def test_each_run_takes_only_new_files_and_counts_reconcile(tmp_path):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    drop(inbox, "001.jsonl", 0, 100)
    drop(inbox, "002.jsonl", 100, 100, bad='{"device": "d1", "t": "2026-01-01T00:00:00Z", "temp": 999}\nnot json\n')
    first = run_batch(inbox, out, SCHEMA)
    assert first.batch == 1 and first.files == ["001.jsonl", "002.jsonl"]
    assert (first.rows_in, first.rows_valid, first.rows_quarantined) == (202, 200, 2)
    assert run_batch(inbox, out, SCHEMA).batch is None  # nothing new
    drop(inbox, "003.jsonl", 200, 50)
    second = run_batch(inbox, out, SCHEMA)
    assert second.batch == 2 and second.files == ["003.jsonl"]
    rows = read_published(out)
    assert sorted(rows["seq"]) == list(range(250)) and rows.groupby("batch").size().to_dict() == {1: 200, 2: 50}


SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    from test_stream import SCHEMA
    from mining.ingest.stream import run_batch
    run_batch(Path({inbox!r}), Path({out!r}), SCHEMA, on_file=lambda p: time.sleep(0.5))
""")


def test_a_run_killed_mid_batch_leaves_no_partial_batch_and_the_next_takes_every_record_once(tmp_path):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    for k in range(6):
        drop(inbox, f"{k:03d}.jsonl", 1000 * k, 500)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent), inbox=str(inbox), out=str(out)))
    proc = subprocess.Popen([sys.executable, str(script)], start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and not (out / STAGING).exists():
        time.sleep(0.05)
    time.sleep(0.8)  # one or two files into the batch
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (out / STAGING).exists() and published(out) == []  # killed mid-batch: nothing published
    result = run_batch(inbox, out, SCHEMA)
    assert result.batch == 1 and len(result.files) == 6 and not (out / STAGING).exists()
    rows = read_published(out)
    assert len(rows) == 3000 and rows["seq"].is_unique
    assert run_batch(inbox, out, SCHEMA).batch is None


def test_mining_stream_command(tmp_path, monkeypatch, capsys):
    import shutil

    from mining.cli import main

    root = Path(__file__).resolve().parents[1]
    shutil.copytree(root / "params", tmp_path / "params")
    monkeypatch.setenv("MINING_PROJECT_ROOT", str(tmp_path))
    inbox = tmp_path / "data" / "inbox"
    inbox.mkdir(parents=True)
    events = [{"customer_id": "C1", "event_time": "2026-01-05 10:00:00", "event_type": "atm", "channel": "mobile",
               "amount": 40.0}, {"customer_id": "C2", "event_time": "2026-01-05 11:00:00", "event_type": "fee",
                                 "channel": None, "amount": -3.0}]
    (inbox / "2026-01-05.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    assert main(["stream"]) == 0
    assert "batch 1: 1 files, 2 rows in = 1 valid + 1 quarantined" in capsys.readouterr().out
    assert main(["stream"]) == 0 and "no new file" in capsys.readouterr().out


def test_a_feed_that_gains_a_field_keeps_old_and_new_rows_in_one_table_by_schema_version(tmp_path):
    from mining.data.files import IngestError

    inbox, out, reg = tmp_path / "inbox", tmp_path / "out", tmp_path / "schemas"
    inbox.mkdir()
    drop(inbox, "001.jsonl", 0, 30)
    assert run_batch(inbox, out, SCHEMA, registry=reg).rows_valid == 30
    lines = [json.dumps({"device": "d1", "t": "2026-01-02T00:00:00Z", "temp": 21, "seq": i, "firmware": "2.1"})
             for i in range(30, 50)]
    (inbox / "002.jsonl").write_text("\n".join(lines) + "\n")
    try:
        run_batch(inbox, out, SCHEMA, registry=reg, policy="fail")
        raise AssertionError("a new field under policy fail must stop the batch")
    except IngestError as exc:
        assert "added: ['firmware']" in str(exc)
    assert len(published(out)) == 1  # nothing half-published
    second = run_batch(inbox, out, SCHEMA, registry=reg, policy="add")
    assert second.rows_valid == 20
    rows = read_published(out)
    assert rows.groupby("_schema_version").size().to_dict() == {1: 30, 2: 20}
    assert rows.loc[rows["_schema_version"] == 1, "firmware"].isna().all()
    history = json.loads((reg / "stream.json").read_text())["versions"]
    assert [h["version"] for h in history] == [1, 2] and history[1]["diff"]["added"] == ["firmware"]


class Record:
    """A consumed record as confluent-kafka's Message presents it (no broker can run on this machine)."""

    def __init__(self, partition: int, offset: int, value: bytes) -> None:
        self._p, self._o, self._v = partition, offset, value

    def topic(self) -> str:
        return "sensors"

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def value(self) -> bytes:
        return self._v

    def error(self):
        return None


def test_kafka_records_redelivered_after_a_crash_reach_the_batches_once(tmp_path):
    from mining.ingest.kafka import write_records

    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()

    def records(part: int, offsets: range) -> list[Record]:
        return [Record(part, o, json.dumps({"device": f"p{part}", "t": "2026-01-01T00:00:00Z", "temp": 20,
                                            "seq": part * 1000 + o}).encode()) for o in offsets]

    first = write_records(inbox, "sensors", records(0, range(0, 50)) + records(1, range(0, 30)))
    assert [f.name for f in first] == ["kafka-sensors-0000-00000000000000000000-00000000000000000049.jsonl",
                                       "kafka-sensors-0001-00000000000000000000-00000000000000000029.jsonl"]
    run_batch(inbox, out, SCHEMA)
    # the offsets were never committed (a crash): the broker re-delivers 0..79 of partition 0, with new ones
    again = write_records(inbox, "sensors", records(0, range(0, 80)) + [Record(1, 30, b"not json")], taken_files(out))
    assert [f.name for f in again] == ["kafka-sensors-0000-00000000000000000050-00000000000000000079.jsonl",
                                       "kafka-sensors-0001-00000000000000000030-00000000000000000030.jsonl"]
    second = run_batch(inbox, out, SCHEMA)
    assert (second.rows_in, second.rows_valid, second.rows_quarantined) == (31, 30, 1)
    rows = read_published(out)
    assert len(rows) == 110 and rows["seq"].is_unique


def test_kafka_settings_come_from_the_environment(monkeypatch):
    import pytest

    from mining.data.files import IngestError
    from mining.ingest.kafka import consumer_config

    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    with pytest.raises(IngestError, match=r"needs \$KAFKA_BOOTSTRAP_SERVERS"):
        consumer_config("g")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker:9092")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    cfg = consumer_config("g")
    assert cfg["bootstrap.servers"] == "broker:9092" and cfg["enable.auto.commit"] is False
    assert cfg["sasl.username"] == "svc" and cfg["security.protocol"] == "SASL_SSL"


def test_the_kafka_client_names_an_unreachable_broker(monkeypatch, tmp_path):
    import pytest

    pytest.importorskip("confluent_kafka", reason="optional extra: pip install 'mining[kafka]'")
    from mining.data.files import IngestError
    from mining.ingest.kafka import drain

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens there
    with pytest.raises(IngestError, match=r"cannot reach Kafka at 127\.0\.0\.1:1 for topic sensors"):
        drain("sensors", "g", tmp_path / "inbox", set(), timeout_s=2.0)
    assert not list((tmp_path / "inbox").glob("*.jsonl"))
