"""Two cron processes: each job ticks exactly once per slot (a claim per tick in Redis), and when one cron
dies the other goes on ticking every slot (docs/schedules.md#how-schedules-run)."""

from __future__ import annotations

import collections
import re
import signal
import time

from sqlalchemy import func, select

from backend.db import db
from backend.models import JobRun
from tests.faults.conftest import report, wait_for

TICK_S = 3  # this test's CRON_TICK_SECONDS
BOTH_S, ALONE_S = 18, 12  # both crons run this long, then one is killed and the other runs alone this long
LINE = re.compile(r"enqueued (workers\.jobs\.\w+) for slot (\d+)")


def enqueues(*procs) -> collections.Counter:
    """(job, slot) → how many cron processes enqueued it, from their logs."""
    found: collections.Counter = collections.Counter()
    for p in procs:
        found.update((m[1], int(m[2])) for m in LINE.finditer(p.output(tail=10**8)))
    return found


def test_two_crons_tick_each_slot_once_and_one_survives_the_other(fault_env, procs):
    env = {"CRON_TICK_SECONDS": str(TICK_S)}
    worker = procs.worker(env=env)
    crons = [procs.cron(env=env, name=f"cron{i}") for i in range(2)]
    wait_for(lambda: len(enqueues(*crons)) >= 2, timeout=60)  # both imported their config and ticked
    first = min(slot for _job, slot in enqueues(*crons))
    time.sleep(BOTH_S)
    assert all(c.alive() for c in crons)
    both = enqueues(*crons)
    by_cron = [sum(enqueues(c).values()) for c in crons]

    crons[0].signal(signal.SIGKILL)  # one node goes away without a word
    killed_at = time.time()
    killed_slot = int(killed_at // TICK_S)
    time.sleep(ALONE_S)
    after = enqueues(*crons)
    last = int(time.time() // TICK_S) - 1  # the last slot surely over

    jobs = {"workers.jobs.relay_outbox", "workers.jobs.tick_schedules"}
    doubled = sorted(k for k, n in after.items() if n > 1)
    missing = sorted((j, s) for j in jobs for s in range(first, last + 1) if (j, s) not in after)
    with db.tx() as s:
        runs = s.execute(select(JobRun.schedule, JobRun.period, func.count()).group_by(JobRun.schedule, JobRun.period))
        twice = [r for r in runs if r[2] > 1]
    report(
        "two crons",
        slots=last - first + 1,
        ticks_both=len(both),
        per_cron=by_cron,
        ticks_after_kill=sum(1 for (_j, s) in after if s > killed_slot),
        doubled=len(doubled),
        missing=len(missing),
        recovery_s=(min((s for (_j, s) in after if s > killed_slot), default=killed_slot) * TICK_S) - killed_at,
    )
    assert doubled == [] and twice == []
    assert missing == [], missing
    assert crons[1].alive() and worker.alive()
