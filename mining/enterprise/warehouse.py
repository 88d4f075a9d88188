"""The charter's output written to a warehouse table for campaign and CRM tools (any SQLAlchemy URL)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import sqlalchemy as sa


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
    """Replace `table` with `df` in one transaction; returns the row count read back."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as con:
            df.to_sql(table, con, if_exists="replace", index=False, chunksize=10_000)
        with engine.connect() as con:
            return int(con.execute(sa.text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one())
    finally:
        engine.dispose()


def redacted(url: str) -> str:
    """The URL without its password, for reports and logs."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)
