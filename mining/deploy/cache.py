"""Prediction cache: the same features scored by the same model version give the same answer.

Keyed by model version and the SHA-256 of the record's canonical JSON (sorted keys), kept for
`deploy.cache_ttl_s`: in process (a TTL cache per worker) by default, in Redis when
`deploy.redis_url` is set, so replicas share hits. A new model version never reads old entries.
"""

from __future__ import annotations

import hashlib
import threading

import orjson
from cachetools import TTLCache

from mining.secrets import expand_env


def canonical(record: dict) -> bytes:
    """The record as canonical JSON (sorted keys, no whitespace): what is hashed and logged."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def features_hash(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


class PredictionCache:
    """`get_many(keys)` -> cached outputs (None for a miss); `put_many({key: output})`."""

    def __init__(self, ttl_s: int, size: int, redis_url: str | None = None):
        self.ttl_s = ttl_s
        self.redis = None
        if redis_url:
            import redis

            self.redis = redis.Redis.from_url(expand_env(redis_url))
        else:
            self.local: TTLCache = TTLCache(maxsize=size, ttl=ttl_s)
            self.lock = threading.Lock()

    def get_many(self, keys: list[str]) -> list[float | None]:
        if self.redis is not None:
            return [None if v is None else float(v) for v in self.redis.mget([f"mining:pred:{k}" for k in keys])]
        with self.lock:
            return [self.local.get(k) for k in keys]

    def put_many(self, values: dict[str, float]) -> None:
        if not values:
            return
        if self.redis is not None:
            pipe = self.redis.pipeline(transaction=False)
            for k, v in values.items():
                pipe.set(f"mining:pred:{k}", repr(float(v)), ex=self.ttl_s)
            pipe.execute()
            return
        with self.lock:
            self.local.update(values)
