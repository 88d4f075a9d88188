"""Pseudonymisation of personal columns before they leave ingest: a keyed hash (HMAC-SHA256).

The same value and key give the same pseudonym in every table, so joins (customer id in the
entity table and in the events) still work, but without the key nobody can go back or test a
guess. The key comes from the environment only, never from params or reports.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import pandas as pd

from mining.ingest.files import IngestError


def pseudonymiser(key_env: str):
    key = os.environ.get(key_env)
    if not key:
        raise IngestError(f"personal columns are to be pseudonymised but ${key_env} is not set; "
                          f"export a secret key (e.g. `export {key_env}=$(openssl rand -hex 32)`)")
    secret = key.encode()

    def pseudonym(value) -> str | None:
        if pd.isna(value):
            return None
        return hmac.new(secret, str(value).encode(), hashlib.sha256).hexdigest()[:32]

    return pseudonym


def pseudonymise(tables: dict[str, pd.DataFrame], columns: list[str], key_env: str) -> dict[str, list[str]]:
    """Replace `columns` in every table that has them, in place; returns table -> columns done."""
    if not columns:
        return {}
    fn = pseudonymiser(key_env)
    done: dict[str, list[str]] = {}
    for name, df in tables.items():
        for col in columns:
            if col in df.columns:
                uniques = df[col].dropna().unique()  # hash each distinct value once
                df[col] = df[col].map(dict(zip(uniques, map(fn, uniques)))).astype("string")
                done.setdefault(name, []).append(col)
    return done
