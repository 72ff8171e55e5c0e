"""Fixed-window rate limits kept in Redis, shared by every server process."""

from __future__ import annotations

import logging

from backend.errors import DomainError
from backend.redis_conn import get_redis

log = logging.getLogger(__name__)
PREFIX = "zj:rl:"


def key_of(bucket: str) -> str:
    """The Redis key that counts ``bucket`` (tests and operators read it directly)."""
    return PREFIX + bucket


def hit(bucket: str, limit: int, window_s: int = 60) -> None:
    """Count one attempt; raise RATE_LIMITED with a Retry-After once ``limit`` is passed in the window.

    The window is created with its expiry and counted in one MULTI/EXEC, so a crash can never leave a
    counter without an expiry. If Redis is unreachable the limit is not enforced (the database lock-out
    still protects logins): refusing every login during a Redis outage would lock out the whole service.
    """
    key = key_of(bucket)
    try:
        pipe = get_redis().pipeline(transaction=True)
        pipe.set(key, 0, ex=window_s, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _created, count, ttl = pipe.execute()
    except Exception as exc:  # noqa: BLE001 - fail open, logged
        log.warning("rate limit store unreachable; not enforced", extra={"error": type(exc).__name__})
        return
    if count > limit:
        raise DomainError("RATE_LIMITED", retry_after=max(int(ttl), 1))
