"""Transactional outbox: jobs that must not be lost are rows first, RQ jobs after commit.

Guarantees: the row commits with the change or not at all; the push to RQ happens only after commit
and never emits SQL; a failed push (Redis down) leaves the row pending for the relay; the RQ job id is
derived from the row id (``outbox-<id>``), and the job locks the row and skips it once done, so a double
push runs the work once. A row whose job keeps failing is retried by the relay up to ``MAX_ATTEMPTS``
times, then marked ``failed`` for an operator.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from rq import Queue
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from rq.utils import as_text
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from backend import runtime
from backend.db import after_commit, db
from backend.models import OutboxMessage, utcnow
from backend.redis_conn import get_redis

log = logging.getLogger(__name__)
_OUTBOX = OutboxMessage.__table__
_INSERT = insert(_OUTBOX).returning(_OUTBOX.c.id)

#: the dotted path RQ imports in the worker; a string, so backend does not import workers
RUN_OUTBOX = "workers.jobs.run_outbox"
#: seconds a handler may run before RQ kills it (the row stays pending and the relay retries it)
JOB_TIMEOUT = 300
#: a pending row younger than this is still in flight from its after-commit push; the relay leaves it
RELAY_AFTER_S = 30
#: attempts after which a row is ``failed`` and the relay stops pushing it
MAX_ATTEMPTS = 10
#: RQ states in which the job will still run: the relay does not push such a row again
_WAITING = {s.value for s in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED)}


def queue_name(name: str) -> str:
    """The Redis queue name for a logical queue (QUEUE_PREFIX + name)."""
    return runtime.settings().queue_prefix + name


_queues: dict[str, Queue] = {}


def get_queue(name: str = "default") -> Queue:
    """An RQ queue that stores jobs as JSON (our workers read JSON only); one object per queue and client."""
    full, conn = queue_name(name), get_redis()
    q = _queues.get(full)
    if q is None or q.connection is not conn:
        q = _queues[full] = Queue(full, connection=conn, serializer=JSONSerializer)
    return q


def job_id(outbox_id: int) -> str:
    """The RQ job id of an outbox row: pushing a row twice addresses the same job."""
    return f"outbox-{outbox_id}"


def add(session: Session, job: str, payload: dict, *, queue: str = "default") -> int:
    """Write an outbox row in the caller's transaction (one plain insert); push it to RQ once that commits.

    Returns the row's id.
    """
    row = row_values(job, payload, queue)
    msg_id = session.connection().execute(_INSERT, row).scalar_one()
    push_after_commit(session, msg_id, queue)
    return msg_id


def row_values(job: str, payload: dict, queue: str = "default") -> dict:
    """The columns of a new outbox row, as ``add`` writes them (for a caller that writes the row in its own SQL)."""
    row = {"job": job, "payload": {**payload, "_queue": queue}, "status": "pending", "attempts": 0}
    return row | {"request_id": runtime.current_request_id(), "created_at": utcnow()}


def push_after_commit(session: Session, outbox_id: int, queue: str = "default") -> None:
    """Push the row ``outbox_id``, written in this transaction, to RQ once the transaction commits."""
    request_id = runtime.current_request_id()
    after_commit(session, lambda: push(outbox_id, queue, request_id))


def push(outbox_id: int, queue: str = "default", request_id: str | None = None) -> bool:
    """Enqueue the RQ job for a row; False (and the row stays pending) when Redis cannot be reached."""
    try:
        q = get_queue(queue)
        pipe = q.connection.pipeline()  # one round trip: RQ saves and queues the job in this MULTI/EXEC
        q.enqueue(
            RUN_OUTBOX,
            outbox_id,
            job_id=job_id(outbox_id),
            job_timeout=JOB_TIMEOUT,
            result_ttl=3600,
            failure_ttl=7 * 86400,
            meta={"request_id": request_id} if request_id else None,
            description=f"outbox row {outbox_id}",
            pipeline=pipe,
        )
        pipe.execute()
        return True
    except Exception as exc:  # noqa: BLE001 - any Redis failure leaves the row for the relay
        log.warning("outbox push failed; the relay will retry", extra={"outbox_id": outbox_id, "error": repr(exc)})
        return False


def _waiting_in_rq(ids: list[int]) -> set[int]:
    """Rows whose RQ job is still queued or running (so pushing them again would only duplicate)."""
    pipe = get_redis().pipeline(transaction=False)
    for i in ids:
        pipe.hget(Job.key_for(job_id(i)), "status")
    statuses = pipe.execute()
    return {i for i, st in zip(ids, statuses, strict=True) if st is not None and as_text(st) in _WAITING}


def relay(older_than_s: int = RELAY_AFTER_S, limit: int = 1000) -> int:
    """Push rows still pending after ``older_than_s`` seconds (Redis was down, a crash after commit, a failed job).

    Idempotent: rows whose job is still queued or running are left alone; stops at the first failed
    push (Redis is down) and returns how many rows it pushed.
    """
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with db.tx() as s:
        rows = s.execute(
            select(OutboxMessage.id, OutboxMessage.payload, OutboxMessage.request_id)
            .where(OutboxMessage.status == "pending", OutboxMessage.created_at <= cutoff)
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).all()
    if not rows:
        return 0
    try:
        waiting = _waiting_in_rq([r.id for r in rows])
    except Exception as exc:  # noqa: BLE001 - Redis is down: the next relay run tries again
        log.warning("outbox relay cannot reach Redis", extra={"error": repr(exc)})
        return 0
    pushed = []
    for row_id, payload, request_id in rows:
        if row_id in waiting:
            continue
        if not push(row_id, (payload or {}).get("_queue", "default"), request_id):
            break  # Redis went away: stop here, the next relay run starts again
        pushed.append(row_id)
    if pushed:
        with db.tx() as s:
            s.execute(update(OutboxMessage).where(OutboxMessage.id.in_(pushed)).values(enqueued_at=utcnow()))
        log.info("outbox relay pushed rows", extra={"count": len(pushed), "first_id": pushed[0]})
    return len(pushed)


def record_failure(outbox_id: int, error: str) -> None:
    """Count a failed attempt on the row (in its own transaction); give up after ``MAX_ATTEMPTS``."""
    with db.tx() as s:
        msg = s.scalar(select(OutboxMessage).where(OutboxMessage.id == outbox_id).with_for_update())
        if msg is None or msg.status != "pending":
            return
        msg.attempts += 1
        msg.last_error = error[:2000]
        if msg.attempts >= MAX_ATTEMPTS:
            msg.status = "failed"
            log.error("outbox row failed for good", extra={"outbox_id": outbox_id, "job": msg.job})


def backlog(session: Session) -> int:
    """Rows not yet done (the /metrics outbox backlog)."""
    return session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")) or 0


def purge_done(days: int = 7) -> int:
    """Delete rows done more than ``days`` days ago (the table would otherwise grow without bound)."""
    with db.tx() as s:
        result = s.execute(
            delete(OutboxMessage).where(
                OutboxMessage.status == "done", OutboxMessage.done_at < utcnow() - timedelta(days=days)
            )
        )
        return result.rowcount or 0
