"""The inference and access log: every scored record, who asked, why, and what was answered.

The response path only puts rows on an in-memory queue; one writer thread per worker drains it in
batches (one transaction per batch), so a slow disk or database delays the log, not the caller.
SQLite (WAL, so concurrent workers append while readers read) by default, any SQLAlchemy URL
(PostgreSQL) by `deploy.log_url`. `close()` drains the queue before it returns: nothing is lost on
a clean shutdown. Ids are pseudonymised with a keyed hash before they are written.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import queue
import secrets
import threading
from pathlib import Path

import sqlalchemy as sa

from mining.secrets import expand_env

BATCH = 500
TABLE = sa.Table(
    "inference_log", sa.MetaData(),
    sa.Column("request_id", sa.String(36), nullable=False, index=True),
    sa.Column("at", sa.String(32), nullable=False, index=True),  # ISO 8601, UTC
    sa.Column("app", sa.String, nullable=False),  # the API key's app
    sa.Column("purpose", sa.String),  # the X-Purpose header
    sa.Column("model_version", sa.String(12), nullable=False, index=True),
    sa.Column("route", sa.String(8), nullable=False),  # live, canary or shadow
    sa.Column("record_id", sa.String(32)),  # pseudonymised id (HMAC-SHA256), null when none was sent
    sa.Column("features_sha256", sa.String(64), nullable=False),
    sa.Column("features", sa.Text, nullable=False),  # the record as scored (canonical JSON), for monitoring
    sa.Column("score", sa.Float),
    sa.Column("decision", sa.String(16), nullable=False),  # flagged / not flagged, or the segment
    sa.Column("cached", sa.Boolean, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
)
_log = logging.getLogger("uvicorn.error")


def pseudonymiser(key_env: str, key_file: Path):
    """Keyed hash of ids: the key from $key_env, else from `key_file` (made once, owner-only), so
    the same id gets the same pseudonym across restarts and workers (monitoring joins on it)."""
    key = os.environ.get(key_env)
    if not key:
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_hex(32))
            except FileExistsError:  # another worker made it first
                pass
        key = key_file.read_text().strip()
    secret = key.encode()
    return lambda value: None if value is None else hmac.new(secret, str(value).encode(), hashlib.sha256).hexdigest()[:32]


def engine_for(url: str, table: sa.Table = TABLE) -> sa.Engine:
    """An engine on the log's database, `table` made if missing; SQLite in WAL mode."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        if not path.is_absolute():
            raise ValueError(f"{url}: give the inference log an absolute path")
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(expand_env(url), connect_args={"timeout": 30} if url.startswith("sqlite") else {})
    if url.startswith("sqlite"):
        @sa.event.listens_for(engine, "connect")
        def _wal(con, _record):
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
    try:
        table.create(engine, checkfirst=True)
    except sa.exc.DBAPIError:  # another worker created it at the same moment
        if not sa.inspect(engine).has_table(table.name):
            raise
    return engine


def append_rows(url: str, table: sa.Table, rows: list[dict]) -> int:
    """Append `rows` to `table` of the log's database in one transaction (the table made if missing)."""
    if not rows:
        return 0
    engine = engine_for(url, table)
    try:
        with engine.begin() as con:
            con.execute(table.insert(), rows)
    finally:
        engine.dispose()
    return len(rows)


class InferenceLog:
    """`write(rows)` from the request path (non-blocking); `close()` flushes and stops the writer."""

    def __init__(self, url: str):
        self.engine = engine_for(url)
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.written = 0
        self.failed = 0
        self.thread = threading.Thread(target=self._drain, name="inference-log", daemon=True)
        self.thread.start()

    def write(self, rows: list[dict]) -> None:
        self.queue.put(rows)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self.engine.dispose()

    def _drain(self) -> None:
        stop = False
        while not stop:
            batch = []
            item = self.queue.get()
            while True:
                if item is None:
                    stop = True
                    break
                batch += item
                if len(batch) >= BATCH:
                    break
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._insert(batch)

    def _insert(self, batch: list[dict]) -> None:
        for attempt in range(5):
            try:
                with self.engine.begin() as con:
                    con.execute(TABLE.insert(), batch)
                self.written += len(batch)
                return
            except sa.exc.OperationalError as e:  # a locked SQLite file or a dropped connection: retry
                _log.warning("inference log: write of %d rows failed (%s), attempt %d", len(batch), e, attempt + 1)
                threading.Event().wait(0.2 * (attempt + 1))
        self.failed += len(batch)
        _log.error("inference log: %d rows could not be written after 5 attempts", len(batch))


def read_log(url: str) -> list[dict]:
    """Every row of the log (for tests, monitoring and the deploy report's counts)."""
    engine = engine_for(url)
    try:
        with engine.connect() as con:
            return [dict(r._mapping) for r in con.execute(sa.select(TABLE))]
    finally:
        engine.dispose()
