"""Which model version answers a record: the live one, or the candidate for a sticky share of ids.

A record's bucket is a hash of its id (of its features when it has none) mapped to [0, 1): the
same id always lands in the same bucket, so a customer sees one model, and the share of ids below
`canary_share` converges to it. In shadow mode the live model answers everyone and the candidate
scores the same records after the response.
"""

from __future__ import annotations

import hashlib

LIVE, CANARY, SHADOW = "live", "canary", "shadow"


def bucket(key: str) -> float:
    """A stable number in [0, 1) for `key`."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2.0 ** 64


def route(key: str, canary_share: float, has_candidate: bool, shadow: bool) -> str:
    """LIVE or CANARY for one record (shadow traffic is scored in addition, never instead)."""
    if not has_candidate or shadow or canary_share <= 0:
        return LIVE
    return CANARY if bucket(key) < canary_share else LIVE
