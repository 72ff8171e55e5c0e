"""Login failures answered with growing delays instead of a lock-out (docs/roles.md#sign-in-and-tokens).

Failures are counted in Redis under buckets the caller names (per username and client, and per username
for clients that are not a known device of the account). A bucket allows ``free`` attempts; from then on
each attempt waits ``FIRST_DELAY_S`` doubled per further failure, at most ``cap_s``, and is answered
``LOGIN_THROTTLED`` (429) with ``Retry-After`` until then. An attempt is counted *before* its password is
checked (one atomic script for every bucket), so guesses sent at once cannot slip past the count; a success
takes its own attempt back. If Redis is unreachable nothing is enforced (logged): a Redis outage must not
keep every user out.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from backend.errors import DomainError, register
from backend.redis_conn import get_redis

log = logging.getLogger(__name__)
register("LOGIN_THROTTLED", 429, "登录失败次数过多,请稍后再试", "Too many failed logins; wait before trying again")

PREFIX = "zj:lf:"
#: the first wait once a bucket's free attempts are used up; each further failure doubles it
FIRST_DELAY_S = 15
#: failures are forgotten a day after the last one (a success forgets a client's own failures at once)
FORGET_S = 24 * 3600

# KEYS: the buckets; ARGV: now, first delay, forget-after, then (free, cap) per bucket.
# Refuses (returns the longest wait) if any bucket is still waiting; otherwise counts one attempt in each.
_ATTEMPT = """
local now = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local untl = tonumber(redis.call('HGET', key, 'until') or '0')
  if untl > now and untl - now > wait then wait = untl - now end
end
if wait > 0 then return math.ceil(wait) end
local first, forget = tonumber(ARGV[2]), tonumber(ARGV[3])
for i, key in ipairs(KEYS) do
  local free, cap = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  local n = redis.call('HINCRBY', key, 'n', 1)
  if n >= free then
    redis.call('HSET', key, 'until', tostring(now + math.min(cap, first * 2 ^ (n - free))))
  end
  redis.call('EXPIRE', key, forget)
end
return 0
"""
# KEYS[1]: forgotten at once (the client proved itself); KEYS[2..]: the attempt taken back.
_SUCCEEDED = """
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  if tonumber(redis.call('HGET', KEYS[i], 'n') or '0') > 0 then redis.call('HINCRBY', KEYS[i], 'n', -1) end
end
return 0
"""


@dataclass(frozen=True)
class Bucket:
    name: str
    free: int  # attempts allowed before the first wait
    cap_s: int  # the longest wait

    @property
    def key(self) -> str:
        return PREFIX + self.name


def delay_after(failures: int, free: int, cap_s: int) -> int:
    """The wait (seconds) a bucket imposes after ``failures`` counted attempts (0 below ``free``)."""
    return 0 if failures < free else int(min(cap_s, FIRST_DELAY_S * 2 ** (failures - free)))


def attempt(buckets: list[Bucket]) -> None:
    """Count one attempt in every bucket, or raise LOGIN_THROTTLED (Retry-After) while any must wait."""
    args: list = [time.time(), FIRST_DELAY_S, FORGET_S]
    for b in buckets:
        args += [b.free, b.cap_s]
    try:
        wait = int(get_redis().eval(_ATTEMPT, len(buckets), *[b.key for b in buckets], *args))
    except Exception as exc:  # noqa: BLE001 - fail open, logged
        log.warning("login throttle store unreachable; not enforced", extra={"error": type(exc).__name__})
        return
    if wait > 0:
        raise DomainError("LOGIN_THROTTLED", retry_after=wait)


def succeeded(own: Bucket, shared: list[Bucket]) -> None:
    """After a right password: forget ``own``'s failures, take this attempt back from ``shared``."""
    try:
        get_redis().eval(_SUCCEEDED, 1 + len(shared), own.key, *[b.key for b in shared])
    except Exception as exc:  # noqa: BLE001 - fail open, logged
        log.warning("login throttle store unreachable", extra={"error": type(exc).__name__})
