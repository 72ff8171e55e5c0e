"""``rq cron`` configuration: rq cron counts in UTC, so it only ticks; schedules are in workers.schedules.

rq 2.12's cron enqueues through a plain ``Queue`` (its ``--serializer`` flag never reaches the queue), which
would pickle the jobs; our workers read JSON only, so the scheduler is handed a JSON queue class here.
"""

import rq.cron
from rq import Queue, cron
from rq.serializers import JSONSerializer

from backend import runtime
from workers.jobs import relay_outbox, tick_schedules


class JSONQueue(Queue):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("serializer", JSONSerializer)
        super().__init__(*args, **kwargs)


rq.cron.Queue = JSONQueue
_QUEUE = runtime.settings().queue_prefix + "default"

cron.register(relay_outbox, queue_name=_QUEUE, interval=60, job_timeout=120)
cron.register(tick_schedules, queue_name=_QUEUE, interval=60, job_timeout=3600)
