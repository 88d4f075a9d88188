"""Requests per key and minute: 429 with `Retry-After` past the limit.

The `limits` library does the counting (a moving window): in process by default, in Redis when
`deploy.redis_url` is set, so every replica of the API draws on the same allowance.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute, storage, strategies

from mining.secrets import expand_env


class RateLimit:
    def __init__(self, per_minute: int, redis_url: str | None = None):
        self.item = RateLimitItemPerMinute(per_minute)
        backend = storage.RedisStorage(expand_env(redis_url)) if redis_url else storage.MemoryStorage()
        self.limiter = strategies.MovingWindowRateLimiter(backend)

    def wait_s(self, caller: str) -> int:
        """0 when `caller` may go on (the call is counted), else the seconds until it may retry."""
        if self.limiter.hit(self.item, "mining-api", caller):
            return 0
        reset = self.limiter.get_window_stats(self.item, "mining-api", caller).reset_time
        return max(1, math.ceil(reset - time.time()))
