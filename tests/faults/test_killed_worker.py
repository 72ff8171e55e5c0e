"""``kill -9`` of workers mid-batch: the batch completes within the bound the settings give, and RQ's failed
registry keeps no job whose outbox row ended done (docs/schedules.md#faults).

The bound: a running job is run again once its worker's heartbeat is older than ``WORKER_LEASE_SECONDS``
and its row older than ``outbox.RELAY_AFTER_S``, at the cron's next relay tick (``CRON_TICK_SECONDS``);
then the work itself. With the defaults (30 s, 30 s, 60 s) that is 90 s plus the work: under 2 minutes.
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from backend.db import db
from backend.models import OutboxMessage, Upload
from backend.services.core import outbox
from tests.faults.conftest import report, wait_for
from tests.faults.test_redis_outage import http
from tests.support.activities import declared_only, headers_for, new_subject

BATCH = 12  # photos, each checked by its own outbox jobs
LEASE_S, TICK_S = 15, 5  # this test's WORKER_LEASE_SECONDS and CRON_TICK_SECONDS
WORK_SLACK_S = 40  # the batch's own work on the one worker left (photo checks), with room for a busy machine


def bound_s(lease_s: int, tick_s: int) -> float:
    """Seconds from a worker's death until its job has been pushed again, by the settings (plus one tick spare)."""
    return max(lease_s, outbox.RELAY_AFTER_S) + 2 * tick_s


def _horse_of(pid: int) -> int | None:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            return int(stat.parent.name)
    return None


def _state() -> tuple[dict, int]:
    s = db.new_session()
    try:
        rows = dict(s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
        unchecked = s.scalar(select(func.count()).select_from(Upload).where(Upload.checked_at.is_(None))) or 0
        return rows, unchecked
    finally:
        s.close()


def _runs(procs_) -> collections.Counter:
    """outbox ids each worker logged as done (a row done twice would show twice)."""
    done: collections.Counter = collections.Counter()
    for p in procs_:
        for line in p.output(tail=10**8).splitlines():
            if '"outbox job done"' in line:
                done[json.loads(line[line.index("{") :])["outbox_id"]] += 1
    return done


def test_killed_worker_and_horse_the_batch_completes_within_the_bound(world, client, fault_env, procs):
    subject = new_subject(world)
    headers = headers_for(client, subject)
    taken = datetime.now(UTC)
    for _ in range(BATCH):  # completed photos whose checks wait in the outbox (pushed to the private Redis)
        declared_only(client, headers, taken)
    rows_before, _ = _state()
    env = {"WORKER_LEASE_SECONDS": str(LEASE_S), "CRON_TICK_SECONDS": str(TICK_S)}
    w0 = procs.worker(env=env, name="worker0")
    w1 = procs.worker(env=env, name="worker1")
    cron = procs.cron(env=env)
    base, api = procs.api(workers=1)

    # worker0 and its work horse die mid-job (kill -9): the job stays "started" in RQ
    horse0 = wait_for(lambda: _horse_of(w0.pid), timeout=60, interval=0.02)
    os.kill(horse0, signal.SIGKILL)
    os.kill(w0.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    # worker1's work horse alone dies: its worker records the job failed in RQ's failed registry
    horse1 = wait_for(lambda: _horse_of(w1.pid), timeout=60, interval=0.02)
    os.kill(horse1, signal.SIGKILL)

    def settled() -> bool:
        rows, unchecked = _state()
        return set(rows) == {"done"} and unchecked == 0

    wait_for(settled, timeout=bound_s(LEASE_S, TICK_S) + WORK_SLACK_S, interval=0.5)
    recovery_s = time.monotonic() - killed_at
    # the relay's sweep (each tick) takes the failed run's job out of the failed registry
    wait_for(lambda: outbox.failed_jobs() == 0, timeout=3 * TICK_S + 5, interval=0.5)
    status, body = http("GET", base + "/metrics")
    assert status == 200
    text = body.decode()
    rows, _ = _state()
    runs = _runs([w0, w1])
    report(
        "killed worker",
        sent=sum(rows.values()),
        done=rows.get("done", 0),
        lost=sum(rows.values()) - rows.get("done", 0),
        doubled=sum(1 for n in runs.values() if n > 1),
        recovery_s=recovery_s,
        bound_s=bound_s(LEASE_S, TICK_S) + WORK_SLACK_S,
    )
    assert sum(rows_before.values()) == BATCH and rows == {"done": sum(rows.values())}
    assert [i for i, n in runs.items() if n > 1] == []
    assert re.search(r"^zhijiao_outbox_oldest_pending_seconds 0\.0$", text, re.M), text
    assert re.search(r"^zhijiao_rq_failed_jobs\{queue=\"[^\"]+default\"\} 0\.0$", text, re.M), text
    assert w1.alive() and cron.alive() and api.alive()
