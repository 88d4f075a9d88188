"""The charter's output written to a warehouse table for campaign and CRM tools (any SQLAlchemy URL)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from mining.secrets import expand_env, redact_text


def warehouse_url(configured: str, root: Path) -> str:
    """$MINING_WAREHOUSE_URL, else params; a relative SQLite path is made relative to the project."""
    url = os.environ.get("MINING_WAREHOUSE_URL") or configured
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        path = root / url[len(prefix):]
        path.parent.mkdir(parents=True, exist_ok=True)
        url = prefix + str(path)
    return url


def export_table(df: pd.DataFrame, url: str, table: str) -> int:
    """Replace `table` with `df` in one transaction; returns the row count read back. The URL's
    `${VAR}` credentials are expanded only here; the table name is quoted by SQLAlchemy, not pasted."""
    engine = sa.create_engine(expand_env(url))
    try:
        with engine.begin() as con:
            df.to_sql(table, con, if_exists="replace", index=False, chunksize=10_000)
        with engine.connect() as con:
            return int(con.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one())
    finally:
        engine.dispose()


def redacted(url: str) -> str:
    """The URL as reports and logs show it (mining.secrets)."""
    return redact_text(url)
