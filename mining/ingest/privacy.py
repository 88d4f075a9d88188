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
import polars as pl

from mining.data.files import IngestError


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


def pseudonymise(values: pl.Series, pseudonym) -> pl.Series:
    """A column with each value replaced by its pseudonym (each distinct value hashed once)."""
    uniques = values.drop_nulls().unique().to_list()
    return values.replace_strict(dict(zip(uniques, map(pseudonym, uniques))), default=None, return_dtype=pl.Utf8)
