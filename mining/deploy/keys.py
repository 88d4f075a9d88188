"""API keys with scopes: who may call the scoring API, and for what.

A key is shown once, when it is created (`mining keys add APP --scopes predict,explain`); only its
SHA-256 is stored, with the app it belongs to and its scopes, in a SQL table (a SQLite file by
default, any SQLAlchemy URL by `deploy.keys_url`). Requests send it as `X-API-Key`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

from mining.secrets import expand_env

SCOPES = ("predict", "explain", "admin", "replay")  # replay: may set X-Replay-Time (traffic replays)
_TABLE = sa.Table("api_keys", sa.MetaData(),
                  sa.Column("app", sa.String, primary_key=True),
                  sa.Column("key_sha256", sa.String(64), nullable=False, unique=True),
                  sa.Column("scopes", sa.String, nullable=False),
                  sa.Column("created_at", sa.String, nullable=False))


class KeyRefused(ValueError):
    """A key request that cannot be honoured (unknown scope, app already holding a key)."""


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    """Hashed keys in one table; `lookup` is what each request costs: one indexed read, uncached, so
    a key added or revoked by `mining keys` takes effect in running servers at once."""

    def __init__(self, url: str):
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            raise ValueError(f"{url}: give the key store an absolute path")
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(expand_env(url))
        _TABLE.metadata.create_all(self.engine)

    def add(self, app: str, scopes: list[str]) -> str:
        """A new key for `app` (returned once, never stored in clear)."""
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise KeyRefused(f"scopes {unknown or scopes}: expected some of {SCOPES}")
        key = "mk_" + secrets.token_urlsafe(32)
        with self.engine.begin() as con:
            if con.execute(sa.select(_TABLE.c.app).where(_TABLE.c.app == app)).first():
                raise KeyRefused(f"app {app!r} already has a key: revoke it first (`mining keys revoke {app}`)")
            con.execute(_TABLE.insert().values(app=app, key_sha256=digest(key), scopes=",".join(sorted(scopes)),
                                               created_at=datetime.now(timezone.utc).isoformat(timespec="seconds")))
        return key

    def revoke(self, app: str) -> bool:
        with self.engine.begin() as con:
            gone = con.execute(_TABLE.delete().where(_TABLE.c.app == app)).rowcount
        return bool(gone)

    def lookup(self, key: str) -> tuple[str, frozenset[str]] | None:
        """(app, scopes) of a presented key, or None."""
        with self.engine.connect() as con:
            row = con.execute(sa.select(_TABLE.c.app, _TABLE.c.scopes).where(_TABLE.c.key_sha256 == digest(key))).first()
        return (row.app, frozenset(row.scopes.split(","))) if row else None

    def apps(self) -> list[dict]:
        with self.engine.connect() as con:
            return [dict(r._mapping) for r in con.execute(sa.select(_TABLE.c.app, _TABLE.c.scopes, _TABLE.c.created_at))]
