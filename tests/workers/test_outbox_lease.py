"""A running job is the worker's only while its heartbeat holds it; failed runs of done rows leave RQ's registry;
two crons claim each tick once (docs/schedules.md#faults, docs/schedules.md#how-schedules-run)."""

from __future__ import annotations

from datetime import timedelta

from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer
from rq.utils import utcformat
from rq.worker import Worker
from sqlalchemy import update

from backend import runtime
from backend.db import db
from backend.models import OutboxMessage, utcnow
from backend.redis_conn import get_redis
from backend.services.core import outbox
from tests.core.test_outbox_jobs import IDLE, new_notification, row
from workers.cron import LeasedCron, build


def _started_by(row_id: int, worker: str, beat_age_s: float | None, current: str | None) -> None:
    """Make the row's RQ job look running on ``worker`` whose last heartbeat is ``beat_age_s`` old."""
    conn = get_redis()
    conn.hset(Job.key_for(outbox.job_id(row_id)), mapping={"status": "started", "worker_name": worker})
    outbox.get_queue(IDLE).remove(outbox.job_id(row_id))  # taken off the queue by the worker
    key = Worker.redis_worker_namespace_prefix + worker
    conn.delete(key)
    if beat_age_s is not None:
        conn.hset(key, "last_heartbeat", utcformat(utcnow() - timedelta(seconds=beat_age_s)))
    if current is not None:
        conn.hset(key, "current_job", current)


def _old(row_id: int) -> None:
    with db.tx() as s:
        s.execute(
            update(OutboxMessage).where(OutboxMessage.id == row_id).values(created_at=utcnow() - timedelta(minutes=5))
        )


def test_the_default_bound_is_within_two_minutes(settings):
    """A dead worker's job runs again within max(lease, relay grace) + one relay tick: 90 s by default."""
    assert (settings.worker_lease_s, settings.cron_tick_s) == (30, 60)
    assert max(settings.worker_lease_s, outbox.RELAY_AFTER_S) + settings.cron_tick_s <= 2 * 60


def test_a_job_held_by_a_live_worker_is_left_alone(world):
    row_id, _ = new_notification(world.users["subject_A"].id, queue=IDLE)
    _old(row_id)
    _started_by(row_id, "w-live", beat_age_s=2, current=outbox.job_id(row_id))
    assert outbox.relay(older_than_s=0) == 0
    assert outbox.get_queue(IDLE).job_ids == []


def test_a_job_whose_worker_stopped_beating_is_pushed_again_after_the_lease(world):
    lease = runtime.settings().worker_lease_s
    row_id, _ = new_notification(world.users["subject_A"].id, queue=IDLE)
    _old(row_id)
    _started_by(row_id, "w-dead", beat_age_s=lease - 5, current=outbox.job_id(row_id))
    assert outbox.relay(older_than_s=0) == 0  # within the lease: still its worker's
    _started_by(row_id, "w-dead", beat_age_s=lease + 1, current=outbox.job_id(row_id))
    assert outbox.relay(older_than_s=0) == 1  # the lease ran out: the worker is dead, the row goes again
    assert outbox.get_queue(IDLE).job_ids == [outbox.job_id(row_id)]


def test_a_worker_gone_or_on_another_job_does_not_hold_it(world):
    uid = world.users["subject_A"].id
    gone, _ = new_notification(uid, queue=IDLE)
    moved_on, _ = new_notification(uid, queue=IDLE)
    for r in (gone, moved_on):
        _old(r)
    _started_by(gone, "w-gone", beat_age_s=None, current=None)  # its key expired
    _started_by(moved_on, "w-busy", beat_age_s=1, current="outbox-999999")  # alive, but on another job
    assert outbox.relay(older_than_s=0) == 2


def test_a_job_taken_off_its_queue_but_never_started_is_pushed_again(world):
    row_id, _ = new_notification(world.users["subject_A"].id, queue=IDLE)
    _old(row_id)
    q = outbox.get_queue(IDLE)
    # a worker moved it to its intermediate list (rq's dequeue) and died before its work horse started it
    get_redis().lmove(q.key, q.intermediate_queue_key)
    assert Job.fetch(outbox.job_id(row_id), connection=q.connection, serializer=JSONSerializer).get_status() == "queued"
    assert outbox.relay(older_than_s=0) == 1
    assert q.job_ids == [outbox.job_id(row_id)]


def test_failed_runs_of_done_rows_leave_the_failed_registry(world):
    uid = world.users["subject_A"].id
    done_id, _ = new_notification(uid, queue=IDLE)
    pending_id, _ = new_notification(uid, queue=IDLE)
    q = outbox.get_queue(IDLE)
    registry = FailedJobRegistry(q.name, connection=q.connection, serializer=JSONSerializer)
    pipe = q.connection.pipeline()
    for r in (done_id, pending_id):
        registry.add(Job.fetch(outbox.job_id(r), connection=q.connection, serializer=JSONSerializer), -1, pipeline=pipe)
    pipe.execute()
    assert outbox.failed_jobs(IDLE) == 2
    with db.tx() as s:
        s.execute(update(OutboxMessage).where(OutboxMessage.id == done_id).values(status="done", done_at=utcnow()))
    assert outbox.sweep_failed((IDLE,)) == 1
    assert registry.get_job_ids() == [outbox.job_id(pending_id)]  # still failing: an operator may look at it
    assert row(pending_id).status == "pending"


def _oldest() -> float:
    s = db.new_session()  # a scrape's own session, as /metrics reads it
    try:
        return outbox.oldest_pending_age_s(s)
    finally:
        s.close()


def test_oldest_pending_age(world):
    assert _oldest() == 0.0
    row_id, _ = new_notification(world.users["subject_A"].id, queue=IDLE)
    _old(row_id)
    assert 299 <= _oldest() <= 330
    with db.tx() as s:
        s.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(status="done", done_at=utcnow()))
    assert _oldest() == 0.0


# --- two cron processes ------------------------------------------------------------------------------------


def _cron(redis_url: str) -> LeasedCron:
    return build(redis_url, runtime.settings().queue_prefix + "cron-test-")


def test_two_crons_enqueue_each_slot_once(clean, test_env):
    a, b = _cron(test_env["REDIS_URL"]), _cron(test_env["REDIS_URL"])
    t = 60 * 31_666_667 + 20.0  # a minute boundary + 20 s
    assert sorted(a.tick(t)) == [
        ("workers.jobs.relay_outbox", int(t // 60)),
        ("workers.jobs.tick_schedules", int(t // 60)),
    ]
    assert b.tick(t + 1) == []  # the same slot: claimed by a
    assert a.tick(t + 30) == [] and b.tick(t + 31) == []  # nothing new within the slot
    nxt = [n for n, _s in b.tick(t + 41)]  # the next minute's slot: whoever comes first
    assert sorted(nxt) == ["workers.jobs.relay_outbox", "workers.jobs.tick_schedules"]
    assert a.tick(t + 42) == []
    queue = a.get_jobs()[0].queue_name
    assert get_redis().llen(f"rq:queue:{queue}") == 4  # two slots, two jobs each
    assert 0.05 <= a.sleep_seconds(t) <= 40.1
