"""Distinct counts of a column read in pieces, in bounded memory: a KMV sketch, the K smallest
distinct 64-bit hashes seen (Bar-Yossef et al. 2002; the idea of Apache DataSketches' theta sketch).
It counts exactly up to K distinct values and estimates above (relative error ~1/sqrt(K), 0.8 %).

Written here because the libraries that sketch distinct counts either take one value per Python
call (datasketches' HLL: 0.8 s a million values, 40 s for 50 M ids, before making them Python
strings) or cannot merge pieces (polars' `approx_n_unique`), and DuckDB's `approx_count_distinct`
is ~6 % off at 50 M; the hashing here is polars', vectorised (~1 s for 50 M)."""

from __future__ import annotations

import polars as pl

K = 16_384  # hashes kept (128 KB): relative standard error 1/sqrt(K - 2) = 0.78 %


class DistinctSketch:
    """`update` with each piece of a column (any polars type, nulls ignored), then `count`."""

    def __init__(self) -> None:
        self._least = pl.Series("hash", [], dtype=pl.UInt64)  # sorted, distinct, at most K

    def update(self, values: pl.Series) -> None:
        hashes = values.drop_nulls().hash(seed=0)
        if len(self._least) == K:  # only a hash below the K-th smallest can change the sketch
            hashes = hashes.filter(hashes < self._least[-1])
        if len(hashes):
            self._least = pl.concat([self._least, hashes.rename("hash")]).unique().bottom_k(K).sort()

    def count(self) -> int:
        """Exact below K distinct values; above, (K - 1) over the K-th smallest hash as a share of 2**64."""
        if len(self._least) < K:
            return len(self._least)
        return round((K - 1) / (float(self._least[-1]) / 2.0**64))

