"""Transactional outbox: jobs that must not be lost are rows first, RQ jobs after commit.

Guarantees: the row commits with the change or not at all; the push to RQ happens only after commit
and never emits SQL; a failed push (Redis down) leaves the row pending for the relay; the RQ job id is
derived from the row id, and the job locks the row and skips it once done, so a double push runs once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend import runtime
from backend.db import after_commit, db
from backend.models import OutboxMessage, utcnow
from backend.redis_conn import get_redis

log = logging.getLogger(__name__)

#: the dotted path RQ imports in the worker; a string, so backend does not import workers
RUN_OUTBOX = "workers.jobs.run_outbox"
JOB_TIMEOUT = 300


def queue_name(name: str) -> str:
    return runtime.settings().queue_prefix + name


def get_queue(name: str = "default") -> Queue:
    return Queue(queue_name(name), connection=get_redis(), serializer=JSONSerializer)


def job_id(outbox_id: int) -> str:
    return f"outbox-{outbox_id}"


def add(session: Session, job: str, payload: dict, *, queue: str = "default") -> OutboxMessage:
    """Write an outbox row in the caller's transaction; push it to RQ once that commits."""
    msg = OutboxMessage(job=job, payload={**payload, "_queue": queue}, request_id=runtime.current_request_id())
    session.add(msg)
    session.flush()
    msg_id = msg.id
    after_commit(session, lambda: push(msg_id, queue))
    return msg


def push(outbox_id: int, queue: str = "default") -> bool:
    """Enqueue the RQ job for a row; False (and the row stays pending) when Redis cannot be reached."""
    try:
        get_queue(queue).enqueue(
            RUN_OUTBOX,
            outbox_id,
            job_id=job_id(outbox_id),
            job_timeout=JOB_TIMEOUT,
            result_ttl=3600,
            failure_ttl=7 * 86400,
        )
        return True
    except Exception as exc:  # noqa: BLE001 - any Redis failure leaves the row for the relay
        log.warning("outbox push failed; the relay will retry", extra={"outbox_id": outbox_id, "error": repr(exc)})
        return False


def relay(older_than_s: int = 30, limit: int = 1000) -> int:
    """Push rows still pending after ``older_than_s`` seconds (Redis was down, or a crash after commit)."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with db.tx() as s:
        rows = s.execute(
            select(OutboxMessage.id, OutboxMessage.payload)
            .where(OutboxMessage.status == "pending", OutboxMessage.created_at <= cutoff)
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).all()
    pushed = []
    for row_id, payload in rows:
        if push(row_id, (payload or {}).get("_queue", "default")):
            pushed.append(row_id)
        else:
            break  # Redis is down: stop here, the next relay run starts again
    if pushed:
        with db.tx() as s:
            s.execute(update(OutboxMessage).where(OutboxMessage.id.in_(pushed)).values(enqueued_at=utcnow()))
    return len(pushed)


def backlog(session: Session) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.count()).where(OutboxMessage.status == "pending")) or 0
