"""Riding out a Redis outage: exponential backoff, and one log line when it starts and one when it ends."""

from __future__ import annotations

import logging
import time

import redis

#: errors that mean "Redis cannot be reached right now" (not a bug in our code)
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionError, OSError)
FIRST_WAIT_S = 0.5
MAX_WAIT_S = 10.0


class Outage:
    """Tracks one process's view of Redis: ``failed`` while it is down, ``over`` once a call succeeds again."""

    def __init__(self, log: logging.Logger, who: str) -> None:
        self.log, self.who = log, who
        self.since: float | None = None
        self.wait = FIRST_WAIT_S
        self.attempts = 0

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException) -> float:
        """Note a failed call; log the first of an outage only. Returns the seconds to wait before retrying."""
        if self.since is None:
            self.since, self.wait, self.attempts = time.monotonic(), FIRST_WAIT_S, 0
            self.log.warning("%s: Redis unreachable, retrying with backoff: %r", self.who, exc)
        else:
            self.wait = min(self.wait * 2, MAX_WAIT_S)
        self.attempts += 1
        return self.wait

    def over(self) -> None:
        """Note a successful call; log the end of an outage (once) with its length."""
        if self.since is not None:
            took = time.monotonic() - self.since
            self.log.warning("%s: Redis back after %.1f s (%d retries); resuming", self.who, took, self.attempts)
            self.since = None
