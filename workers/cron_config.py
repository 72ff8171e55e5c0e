"""The cron configuration: it only ticks (every ``CRON_TICK_SECONDS``, default a minute); the Asia/Shanghai
schedules are in workers.schedules. ``workers.cron`` runs it (one tick per slot across every cron process).

rq 2.12's ``CronJob.enqueue`` builds a plain ``Queue`` (``rq cron`` has no serializer option), which
would pickle the jobs, and our workers read JSON only; so the scheduler module's ``Queue`` is swapped
for a JSON queue here. rq is pinned; tests/workers/test_schedules.py enqueues through the registered cron jobs
and has a real worker run them, so an rq upgrade that bypasses this fails there.
"""

from __future__ import annotations

import rq.cron
from rq import Queue, cron
from rq.serializers import JSONSerializer

from backend import runtime
from workers.jobs import relay_outbox, tick_schedules


class JSONQueue(Queue):
    """A queue that stores its jobs with the JSON serializer."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["serializer"] = JSONSerializer
        super().__init__(*args, **kwargs)


if not isinstance(getattr(rq.cron, "Queue", None), type):
    raise RuntimeError("rq.cron no longer builds its queues through rq.cron.Queue: revisit workers/cron_config.py")
rq.cron.Queue = JSONQueue
QUEUE = runtime.settings().queue_prefix + "default"
TICK = runtime.settings().cron_tick_s

# ttl: a tick still queued after two minutes (or two ticks) (workers were down) is dropped; the next tick catches up
cron.register(relay_outbox, queue_name=QUEUE, interval=TICK, job_timeout=120, ttl=max(120, 2 * TICK), result_ttl=600)
cron.register(tick_schedules, queue_name=QUEUE, interval=TICK, job_timeout=3600, ttl=max(120, 2 * TICK), result_ttl=600)
