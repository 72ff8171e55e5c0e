"""Transactional outbox: jobs that must not be lost are rows first, RQ jobs after commit.

Guarantees: the row commits with the change or not at all; the push to RQ happens only after commit
and never emits SQL; a failed push (Redis down) leaves the row pending for the relay; the RQ job id is
derived from the row id (``outbox-<id>``), and the job locks the row and skips it once done, so a double
push runs the work once. A row whose job keeps failing is retried by the relay up to ``MAX_ATTEMPTS``
times, then marked ``failed`` for an operator.

A job that RQ still shows as running is left alone only while its worker holds it: the worker's heartbeat
(every third of ``WORKER_LEASE_SECONDS``) names the job and is younger than the lease. A worker killed
mid-job stops beating, so the relay pushes its row again one lease later instead of after RQ's own
timeouts (docs/schedules.md#faults). Rows that end done are taken out of RQ's failed-job registry.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer
from rq.utils import as_text, utcparse
from rq.worker import Worker
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
_WAITING = {s.value for s in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED)}
#: running: still waiting only while its worker's heartbeat names it and is younger than the lease
_STARTED = JobStatus.STARTED.value
#: queued: still waiting only while it is on its queue
_QUEUED = JobStatus.QUEUED.value


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
    """Rows whose RQ job will still run: queued on its queue, or running on a worker that holds it.

    A job left "queued" but no longer on its queue was taken by a worker that died before it started it
    (between the worker's dequeue and its work horse's start); it is not waiting, and is pushed again.
    """
    conn = get_redis()
    pipe = conn.pipeline(transaction=False)
    for i in ids:
        pipe.hmget(Job.key_for(job_id(i)), "status", "worker_name", "origin")
    jobs = [
        (i, *(as_text(v) if v is not None else None for v in fields))
        for i, fields in zip(ids, pipe.execute(), strict=True)
    ]
    waiting = {i for i, st, _w, _o in jobs if st in _WAITING and st != _QUEUED}
    queued = [(i, origin) for i, st, _w, origin in jobs if st == _QUEUED]
    started = [(i, worker) for i, st, worker, _o in jobs if st == _STARTED]
    pipe = conn.pipeline(transaction=False)
    for i, origin in queued:
        pipe.lpos(Queue.redis_queue_namespace_prefix + (origin or ""), job_id(i))
    for _i, worker in started:
        pipe.hmget(Worker.redis_worker_namespace_prefix + (worker or "-"), "last_heartbeat", "current_job")
    found = pipe.execute() if queued or started else []
    waiting |= {i for (i, _o), pos in zip(queued, found[: len(queued)], strict=True) if pos is not None}
    beats = found[len(queued) :]
    waiting |= {i for (i, _w), beat in zip(started, beats, strict=True) if _holds(beat, job_id(i))}
    return waiting


def _holds(beat: list, rq_job_id: str) -> bool:
    """Whether a worker's (last_heartbeat, current_job) shows it alive and on this job within the lease."""
    last, current = beat
    if last is None or current is None or as_text(current) != rq_job_id:
        return False
    age = (utcnow() - utcparse(as_text(last))).total_seconds()
    return age <= runtime.settings().worker_lease_s


def relay(older_than_s: int = RELAY_AFTER_S, limit: int = 1000) -> int:
    """Push rows still pending after ``older_than_s`` seconds (Redis was down, a crash after commit, a failed job).

    Idempotent: rows whose job is still queued, or running on a worker that holds it (``_waiting_in_rq``),
    are left alone; stops at the first failed push (Redis is down) and returns how many rows it pushed.
    It also clears RQ's failed-job registry of jobs whose rows ended done (``sweep_failed``).
    """
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with db.tx() as s:
        rows = s.execute(
            select(OutboxMessage.id, OutboxMessage.payload, OutboxMessage.request_id)
            .where(OutboxMessage.status == "pending", OutboxMessage.created_at <= cutoff)
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).all()
    try:
        queues = {"default"} | {(r.payload or {}).get("_queue", "default") for r in rows}
        swept = sweep_failed(tuple(sorted(queues)))
        if swept:
            log.info("outbox relay cleared failed jobs of done rows", extra={"count": swept})
        if not rows:
            return 0
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


def _failed_registry(queue: str) -> FailedJobRegistry:
    q = get_queue(queue)
    return FailedJobRegistry(q.name, connection=q.connection, serializer=JSONSerializer)


def forget_failure(outbox_id: int, queue: str = "default") -> None:
    """Take a row's job out of RQ's failed-job registry (its row is done); a Redis error is only logged."""
    try:
        _failed_registry(queue).remove(job_id(outbox_id))
    except Exception as exc:  # noqa: BLE001 - the relay's sweep tries again
        log.info("could not clear the failed job of a done row", extra={"outbox_id": outbox_id, "error": repr(exc)})


def sweep_failed(queues: tuple[str, ...] = ("default",)) -> int:
    """Remove from RQ's failed-job registries the jobs whose outbox rows ended done; return how many.

    A job RQ recorded as failed (its work horse was killed, or RQ's clean-up moved an abandoned run)
    whose row a later run finished is no failure: alerting on the registry must not see it.
    """
    removed = 0
    for queue in queues:
        registry = _failed_registry(queue)
        ids = {int(j.split("-", 1)[1]): j for j in registry.get_job_ids() if j.startswith("outbox-")}
        if not ids:
            continue
        with db.tx() as s:
            done = s.scalars(
                select(OutboxMessage.id).where(OutboxMessage.id.in_(list(ids)), OutboxMessage.status == "done")
            ).all()
        for row_id in done:
            registry.remove(ids[row_id])
        removed += len(done)
    return removed


def failed_jobs(queue: str = "default") -> int:
    """Jobs in RQ's failed-job registry of ``queue`` (the /metrics failed-job count)."""
    return _failed_registry(queue).count


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


def oldest_pending_age_s(session: Session) -> float:
    """Seconds since the oldest pending row was written; 0 when none is pending (the /metrics gauge)."""
    oldest = session.scalar(select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == "pending"))
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite returns naive UTC
        oldest = oldest.replace(tzinfo=utcnow().tzinfo)
    return max(0.0, (utcnow() - oldest).total_seconds())


def purge_done(days: int = 7) -> int:
    """Delete rows done more than ``days`` days ago (the table would otherwise grow without bound)."""
    with db.tx() as s:
        result = s.execute(
            delete(OutboxMessage).where(
                OutboxMessage.status == "done", OutboxMessage.done_at < utcnow() - timedelta(days=days)
            )
        )
        return result.rowcount or 0
