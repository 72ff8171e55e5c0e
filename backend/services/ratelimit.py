"""Fixed-window rate limits kept in Redis, shared by every server process."""

from __future__ import annotations

import logging

from backend.errors import DomainError
from backend.redis_conn import get_redis

log = logging.getLogger(__name__)


def hit(bucket: str, limit: int, window_s: int = 60) -> None:
    """Count one attempt; raise RATE_LIMITED with a Retry-After once ``limit`` is passed in the window.

    If Redis is unreachable the limit is not enforced (the database lock-out still protects logins);
    refusing every login during a Redis outage would lock out the whole service.
    """
    key = f"zj:rl:{bucket}"
    try:
        r = get_redis()
        pipe = r.pipeline()
        pipe.incr(key)
        pipe.ttl(key)
        count, ttl = pipe.execute()
        if ttl < 0:  # first hit of the window (EXPIRE NX needs Redis 7; the embedded server is 6.2)
            r.expire(key, window_s)
            ttl = window_s
    except Exception as exc:  # noqa: BLE001 - fail open, logged
        log.warning("rate limit store unreachable; not enforced", extra={"error": type(exc).__name__})
        return
    if count > limit:
        raise DomainError("RATE_LIMITED", retry_after=max(int(ttl), 1))
