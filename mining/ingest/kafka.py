"""A Kafka topic as the event feed of the micro-batch ingestion (`mining kafka`, then `mining stream`).

Records a consumer polls are written to the stream inbox as JSON-lines files named by topic,
partition and first/last offset (`kafka-<topic>-<partition>-<first>-<last>.jsonl`), each written
to a temporary name, fsynced and renamed. The file names are the ledger of what was taken: a
record at or below the last offset already in the inbox for its partition is skipped, and the
consumer is moved past it on assignment, so a crash between the rename and the offset commit
re-delivers records that are then recognised, not written twice. `mining stream` then takes each
inbox file exactly once. Together: every record once, from topic to published batch.

The client is confluent-kafka (`pip install 'mining[kafka]'`), an optional dependency; connection
settings come from the environment (`KAFKA_BOOTSTRAP_SERVERS`, and `KAFKA_SASL_USERNAME` /
`KAFKA_SASL_PASSWORD` when set), never from params.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path
from typing import Protocol

from mining.data.files import IngestError

_NAME = re.compile(r"^kafka-(?P<topic>.+)-(?P<part>\d{4})-(?P<first>\d{20})-(?P<last>\d{20})\.jsonl$")


class Message(Protocol):
    def topic(self) -> str: ...
    def partition(self) -> int: ...
    def offset(self) -> int: ...
    def value(self) -> bytes | None: ...
    def error(self): ...


def written_offsets(inbox: Path, topic: str, taken: set[str] = frozenset()) -> dict[int, int]:
    """Per partition, the last offset already in the inbox (or in a published batch, `taken`)."""
    last: dict[int, int] = {}
    for name in {p.name for p in inbox.glob("kafka-*.jsonl")} | set(taken):
        m = _NAME.match(name)
        if m and m["topic"] == topic:
            part = int(m["part"])
            last[part] = max(last.get(part, -1), int(m["last"]))
    return last


def write_records(inbox: Path, topic: str, messages: list[Message], taken: set[str] = frozenset()) -> list[Path]:
    """Append the polled records to the inbox, one file per partition; returns the files written."""
    last = written_offsets(inbox, topic, taken)
    by_part: dict[int, list[Message]] = defaultdict(list)
    for msg in messages:
        if msg.error() is not None:
            raise IngestError(f"kafka topic {topic}, partition {msg.partition()}: {msg.error()}")
        if msg.offset() > last.get(msg.partition(), -1):
            by_part[msg.partition()].append(msg)
    files = []
    for part, msgs in sorted(by_part.items()):
        msgs.sort(key=lambda m: m.offset())
        path = inbox / f"kafka-{topic}-{part:04d}-{msgs[0].offset():020d}-{msgs[-1].offset():020d}.jsonl"
        tmp = path.with_suffix(".part")
        with open(tmp, "wb") as fh:
            for m in msgs:  # a value that is not JSON is written as it is: the batch quarantines its line
                fh.write((m.value() or b"").replace(b"\n", b" ") + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, path)
        files.append(path)
    return files


class _Quiet:
    """librdkafka's own log lines (connection retries) stay out of the reports: errors surface as IngestError."""

    def log(self, *_args, **_kwargs) -> None:
        pass


_quiet = _Quiet()


def consumer_config(group: str) -> dict:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not servers:
        raise IngestError("a Kafka source needs $KAFKA_BOOTSTRAP_SERVERS (host:port,...) in the environment")
    config = {"bootstrap.servers": servers, "group.id": group, "enable.auto.commit": False,
              "auto.offset.reset": "earliest", "enable.partition.eof": False}
    if os.environ.get("KAFKA_SASL_USERNAME"):
        config.update({"security.protocol": "SASL_SSL", "sasl.mechanisms": "PLAIN",
                       "sasl.username": os.environ["KAFKA_SASL_USERNAME"],
                       "sasl.password": os.environ.get("KAFKA_SASL_PASSWORD", "")})
    return config


def drain(topic: str, group: str, inbox: Path, taken: set[str], max_records: int = 100_000,
          timeout_s: float = 10.0) -> list[Path]:
    """One poll of `topic` into `inbox` with a real consumer; offsets committed after the files are durable."""
    try:
        from confluent_kafka import Consumer, KafkaException, TopicPartition
    except ImportError:
        raise IngestError("the Kafka source needs confluent-kafka: pip install 'mining[kafka]'") from None
    inbox.mkdir(parents=True, exist_ok=True)
    config = consumer_config(group)
    consumer = Consumer({**config, "logger": _quiet})
    try:
        consumer.list_topics(topic, timeout=timeout_s)
    except KafkaException as exc:
        consumer.close()
        raise IngestError(f"cannot reach Kafka at {config['bootstrap.servers']} for topic {topic}: "
                          f"{exc.args[0].str() if exc.args else exc}") from None

    def skip_written(cons, partitions):  # start after what the inbox already holds
        last = written_offsets(inbox, topic, taken)
        for p in partitions:
            if p.partition in last:
                p.offset = max(p.offset, last[p.partition] + 1)
        cons.assign(partitions)

    consumer.subscribe([topic], on_assign=skip_written)
    try:
        messages = consumer.consume(num_messages=max_records, timeout=timeout_s)
        files = write_records(inbox, topic, messages, taken)
        done = written_offsets(inbox, topic, taken)
        if done:
            consumer.commit(offsets=[TopicPartition(topic, p, o + 1) for p, o in done.items()], asynchronous=False)
        return files
    finally:
        consumer.close()
