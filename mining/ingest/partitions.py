"""Checking one source block, in this process or on a Dask worker (`compute.backend: dask`).

On a cluster each block is checked, pseudonymised and written by a worker, with the same result as
the one-process stream: the same valid rows, the same quarantine in the same order, the same counts.
Uniqueness across blocks is what makes that more than a map, since the stream quarantines a key
that any earlier block had. So each block gets two tasks on the worker that holds it: the first
returns its keys (64-bit hashes); the client, in source order, finds those an earlier block
already had and hands them to the second, which checks and writes the block as the stream would
with those keys already seen. Only hashes and quarantined rows travel back (8 bytes a key).
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

from mining.ingest import schema as sch
from mining.ingest.encryption import Keys
from mining.ingest.privacy import pseudonymise, pseudonymiser
from mining.ingest.store import QuarantineWriter, TableWriter

IN_FLIGHT_PER_WORKER = 2  # blocks held on the cluster per worker at most: memory stays bounded


def check_block(raw: pl.DataFrame, schema: dict[str, dict], name: str, origin: str, keys: dict[str, sch.KeyIndex],
                absent: str, personal: list[str], pseudonym,
                orphans: tuple[sch.KeyIndex | None, str] | None) -> tuple[pl.DataFrame, list[pd.DataFrame], dict]:
    """(valid rows, quarantined rows, failures per check) of one block: the contract's checks,
    personal columns pseudonymised, events without a valid entity sent to quarantine as orphans."""
    return finish_block(sch.type_block(raw, schema, name, origin, absent), schema, name, keys, personal, pseudonym,
                        orphans)


def finish_block(typed: sch.TypedBlock, schema: dict[str, dict], name: str, keys: dict[str, sch.KeyIndex],
                 personal: list[str], pseudonym,
                 orphans: tuple[sch.KeyIndex | None, str] | None) -> tuple[pl.DataFrame, list[pd.DataFrame], dict]:
    """`check_block` once the block's own checks (`schema.type_block`) are done: the checks across
    blocks (so in source order), pseudonyms, orphans."""
    res = sch.check_keys(typed, schema, name, keys)
    valid, bad, counts = res.valid, [res.quarantine], dict(res.check_counts)
    if pseudonym:
        valid = valid.with_columns([pseudonymise(valid[c], pseudonym) for c in personal if c in valid.columns])
    if orphans and orphans[0] is not None and len(valid):
        index, col = orphans
        orphan = ~index.contains(valid[col])
        if orphan.any():
            reason = f"orphan:{col} (no valid entity)"
            rows = valid.filter(pl.Series(orphan)).to_pandas()
            bad.append(sch.quarantine_frame(rows, pd.Series(reason, index=rows.index), name))
            counts[reason] = counts.get(reason, 0) + int(orphan.sum())
            valid = valid.filter(pl.Series(~orphan))
    return valid, bad, counts


def as_arrow(valid: pl.DataFrame) -> pa.Table:
    return valid.to_arrow(compat_level=pl.CompatLevel.oldest())


def block_keys(table: pa.Table, schema: dict[str, dict]) -> dict[str, np.ndarray]:
    """Worker, first task: the distinct hashes of each unique column's typed, non-null values (with
    those the reader kept as text, typed as the check types them)."""
    out = {}
    raw = pl.from_arrow(table)
    unread = sch.unread_values(raw)
    for col, spec in schema.items():
        if spec.get("unique") and col in table.column_names:
            values = sch.typed_column(raw, col, spec["type"], unread)[0].drop_nulls()
            out[col] = sch.distinct_sorted(sch.KeyIndex.hashes(values))
    return out


@lru_cache(maxsize=4)
def _pseudonymiser(key_env: str):
    return pseudonymiser(key_env)


@lru_cache(maxsize=4)
def _keys(key_env: str) -> Keys:
    return Keys(key_env)


@dataclass
class Written:
    rows_valid: int
    quarantine: list[pd.DataFrame]
    counts: dict[str, int]


def write_block(table: pa.Table, part: int, *, name: str, schema: dict[str, dict], version: int, origin: str,
                absent: str, earlier: dict[str, np.ndarray], personal: list[str], pseudonym_env: str | None,
                orphans: tuple[sch.KeyIndex | None, str] | None, folder: str, time_column: str | None,
                granularity: str, key_env: str | None) -> Written:
    """Worker, second task: check the block as the stream would with `earlier` keys already seen,
    and write its valid rows as its own files of the table's folder. Secrets (the pseudonym key,
    the encryption key) come from the worker's environment, named by their variables."""
    keys = {c: sch.KeyIndex.of(earlier.get(c, np.empty(0, "uint64"))) for c, s in schema.items() if s.get("unique")}
    valid, bad, counts = check_block(pl.from_arrow(table), schema, name, origin, keys, absent, personal,
                                     _pseudonymiser(pseudonym_env) if pseudonym_env else None, orphans)
    writer = TableWriter(Path(folder), time_column, granularity, _keys(key_env) if key_env else None, part=part)
    try:
        writer.write(as_arrow(valid), schema, version)
    finally:
        writer.close()
    return Written(len(valid), [q for q in bad if len(q)], counts)


def stream_on_cluster(client, name: str, blocks: Iterator[tuple[pa.Table, str, str]], run, writer: TableWriter,
                      quarantine: QuarantineWriter, personal: list[str], pseudonym_env: str | None,
                      orphans: tuple[sch.KeyIndex | None, str] | None) -> None:
    """Check and write every block on the cluster's workers; `run` (the contract as of each block,
    counts) and the quarantine are kept here, in source order, as the one-process stream keeps them."""
    seen: dict[str, sch.KeyIndex] = {}
    limit = IN_FLIGHT_PER_WORKER * max(len(client.scheduler_info(n_workers=-1)["workers"]), 1)
    if orphans and orphans[0] is not None:
        orphans = (client.scatter(orphans[0], broadcast=True), orphans[1])
    keyed: deque = deque()  # blocks whose keys are being hashed
    writing: deque = deque()  # blocks being checked and written

    def collect(block) -> None:
        done: Written = block.result()
        for q in done.quarantine:
            quarantine.write(q)
            run.rows_quarantined += len(q)
        run.count(done.counts)
        run.rows_valid += done.rows_valid

    def write(item) -> None:
        part, data, hashed, settings = item
        earlier = {}
        for col, h in hashed.result().items():  # in source order: what an earlier block already had
            earlier[col] = h[seen.setdefault(col, sch.KeyIndex()).add_hashes(h)]
        writing.append(client.submit(write_block, data, part, earlier=earlier, personal=personal,
                                     pseudonym_env=pseudonym_env, orphans=orphans, folder=str(writer.folder),
                                     time_column=writer.time_column, granularity=writer.granularity,
                                     key_env=writer.key_env, pure=False, **settings))
        while len(writing) > limit:
            collect(writing.popleft())

    for part, (table, origin, absent) in enumerate(blocks):
        schema = copy.deepcopy(run.contract.schema)  # as of this block (a later one may extend it)
        settings = {"name": name, "schema": schema, "version": run.contract.version, "origin": origin, "absent": absent}
        data = client.scatter(table)
        keyed.append((part, data, client.submit(block_keys, data, schema, pure=False), settings))
        while len(keyed) > limit:
            write(keyed.popleft())
    while keyed:
        write(keyed.popleft())
    while writing:
        collect(writing.popleft())
