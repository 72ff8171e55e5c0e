"""The cron process (``python -m workers.cron --url REDIS_URL``): rq's cron scheduler, safe to run twice, outage-proof.

``rq cron`` would enqueue each registered job on its own clock, quit on the first Redis error, and two of
them would enqueue every tick twice. Here every registered job (``workers.cron_config``) ticks in slots
of its interval, aligned to the clock (a slot of 60 s is a minute): the process that first claims a
slot in Redis (``SET key NX`` with an expiry, a lease per tick) enqueues it, so any number of cron
processes tick each job once per slot and a deployment can run one per node. A Redis error (the claim,
the enqueue or the heartbeat) is retried with backoff, logged once per outage, and the slot is tried
again until it is enqueued or has passed. Rules: docs/schedules.md#how-schedules-run.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import time

import redis
from rq.cron import CronJob, CronScheduler
from rq.exceptions import StopRequested

from workers.outage import REDIS_DOWN, Outage

log = logging.getLogger("workers.cron")
CONFIG = "workers.cron_config"


def claim_key(prefix: str, job: CronJob, slot: int) -> str:
    """The Redis key whose owner enqueues ``job`` for ``slot``."""
    return f"{prefix}zhijiao:cron-claim:{job.func.__module__}.{job.func.__name__}:{slot}"


class LeasedCron(CronScheduler):
    """A CronScheduler whose jobs tick once per slot across every process that runs it."""

    def __init__(self, connection: redis.Redis, prefix: str = "", **kwargs) -> None:
        super().__init__(connection, **kwargs)
        self.prefix = prefix
        self.outage = Outage(log, f"cron {self.name}")
        self.done_slot: dict[str, int] = {}  # job name -> last slot this process enqueued or saw claimed

    @staticmethod
    def _name(job: CronJob) -> str:
        return f"{job.func.__module__}.{job.func.__name__}"

    def tick(self, now: float | None = None) -> list[tuple[str, int]]:
        """Enqueue each job whose current slot nobody has claimed yet; return (name, slot) of those enqueued here.

        Raises a Redis error when Redis is down (the caller retries; a slot not yet handled stays due).
        """
        now = time.time() if now is None else now
        enqueued = []
        for job in self._cron_jobs:
            interval = int(job.interval or 60)
            slot, name = int(now // interval), self._name(job)
            if self.done_slot.get(name) == slot:
                continue
            key = claim_key(self.prefix, job, slot)
            if self.connection.set(key, self.name, nx=True, ex=interval * 2):
                try:
                    job.enqueue(self.connection)
                except BaseException:
                    with contextlib.suppress(Exception):  # give the slot back: another try (ours or theirs)
                        self.connection.delete(key)
                    raise
                job.set_enqueue_time(now_dt())
                enqueued.append((name, slot))
            self.done_slot[name] = slot
        return enqueued

    def sleep_seconds(self, now: float | None = None) -> float:
        """Until the next slot boundary of any job (a little after it), at most 60 s."""
        now = time.time() if now is None else now
        nxt = min((math.floor(now / int(j.interval or 60)) + 1) * int(j.interval or 60) for j in self._cron_jobs)
        return max(0.05, min(60.0, nxt - now + 0.05))

    def start(self) -> None:
        """Tick until SIGINT or SIGTERM; a Redis outage is waited out, never the end of the process."""
        self._install_signal_handlers()
        log.info("cron %s: starting with %d jobs", self.name, len(self._cron_jobs))
        registered = False
        try:
            while True:
                try:
                    if not registered:
                        self.register_birth()
                        registered = True
                    for name, slot in self.tick():
                        log.info("cron %s: enqueued %s for slot %d", self.name, name, slot)
                    self.heartbeat()
                    self.outage.over()
                    pause = self.sleep_seconds()
                except REDIS_DOWN as exc:
                    pause = self.outage.failed(exc)
                    registered = False  # Redis may have lost our registration: register again
                time.sleep(pause)
        except (StopRequested, KeyboardInterrupt):
            log.info("cron %s: stop requested", self.name)
        finally:
            with contextlib.suppress(Exception):
                self.register_death()
            log.info("cron %s: stopped", self.name)


def now_dt():
    from rq.utils import now

    return now()


def build(url: str, prefix: str) -> LeasedCron:
    conn = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=10)
    cron = LeasedCron(conn, prefix=prefix)
    cron.load_config_from_file(CONFIG)
    return cron


def main(argv: list[str] | None = None) -> None:
    from backend import runtime
    from backend.logs import configure_logging

    parser = argparse.ArgumentParser(prog="python -m workers.cron", description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="Redis URL")
    args = parser.parse_args(argv)
    settings = runtime.settings()
    configure_logging(settings.log_level)
    build(args.url, settings.queue_prefix).start()


if __name__ == "__main__":
    main()
