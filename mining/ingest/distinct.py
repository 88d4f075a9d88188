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
        self._waiting: list[pl.Series] = []  # merged hashes not yet in `_least`: merged K at a time
        self._held = 0

    def update(self, values: pl.Series) -> None:
        hashes = values.drop_nulls().hash(seed=0)
        if (below := self.threshold()) is not None:
            hashes = hashes.filter(hashes < below)
        self.merge(hashes)

    def threshold(self) -> int | None:
        """Once the sketch is full, only a hash below this can change it (None before)."""
        return self._least[-1] if len(self._least) == K else None

    def merge(self, hashes: pl.Series) -> None:
        """Hashes (`hash(seed=0)` of present values) that may change the sketch: below `threshold`.
        They wait until K have come (a merge of a few is mostly its three queries' own cost), which
        changes nothing: the K least of a union are the K least of the parts' K least."""
        if len(hashes):
            self._waiting.append(hashes.rename("hash"))
            self._held += len(hashes)
        if self._held >= K:
            self._flush()

    def _flush(self) -> None:
        if self._waiting:
            self._least = pl.concat([self._least, *self._waiting]).unique().bottom_k(K).sort()
            self._waiting, self._held = [], 0

    def count(self) -> int:
        """Exact below K distinct values; above, (K - 1) over the K-th smallest hash as a share of 2**64."""
        self._flush()
        if len(self._least) < K:
            return len(self._least)
        return round((K - 1) / (float(self._least[-1]) / 2.0**64))

