"""``rq cron`` configuration: it only ticks (every minute); the Asia/Shanghai schedules are in workers.schedules.

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

# ttl: a tick still queued after two minutes (workers were down) is dropped; the next tick catches up
cron.register(relay_outbox, queue_name=QUEUE, interval=60, job_timeout=120, ttl=120, result_ttl=600)
cron.register(tick_schedules, queue_name=QUEUE, interval=60, job_timeout=3600, ttl=120, result_ttl=600)
