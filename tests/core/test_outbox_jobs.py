"""The job spine: outbox rows pushed after commit, run once by a real forking worker, Redis outages, reruns."""

from __future__ import annotations

import json
import os
import re
import uuid
import zlib
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db import db
from backend.models import Notification, OutboxMessage, utcnow
from backend.redis_conn import get_redis
from backend.services.core import outbox
from backend.services.core.handlers import HANDLERS
from backend.services.core.notifications import deliver
from backend.services.subjects import idcard
from tests.conftest import ROOT, wait_for
from tests.factories import auth_header

IDLE = "idle-test"  # a queue no worker listens on: its jobs stay where the test can see them
_seq = iter(range(1, 100_000))


# --- helpers -------------------------------------------------------------------------------------------


def read(fn: Callable[[Session], object]) -> object:
    """Read through a fresh session, so the worker's latest commits are seen (no identity-map cache)."""
    s = db.new_session()
    try:
        return fn(s)
    finally:
        s.close()


def row(outbox_id: int) -> OutboxMessage | None:
    return read(lambda s: s.get(OutboxMessage, outbox_id))


def row_done(outbox_id: int) -> OutboxMessage | None:
    r = row(outbox_id)
    return r if r is not None and r.status == "done" else None


def notification(notification_id: int) -> Notification:
    return read(lambda s: s.get(Notification, notification_id))


def row_of_request(request_id: str) -> OutboxMessage:
    return read(lambda s: s.scalars(select(OutboxMessage).where(OutboxMessage.request_id == request_id)).one())


def enrol_body(world) -> dict:
    n = next(_seq)
    return {
        "name": "测试对象",
        "gender": "male",
        "id_number": idcard.make("330106", date(1990, 1, 1) + timedelta(days=n), n % 1000),
        "correction_type": "probation",
        "start_date": "2026-03-01",
        "end_date": "2027-02-28",
        "office_id": world.units["office_A"],
        "grid_id": world.units["grid_A"],
    }


def enrol(client, world, headers: dict) -> tuple[str, OutboxMessage]:
    """Enrol a subject over HTTP as officer A; return the request id and the welcome notification's outbox row."""
    rid = "jobs-" + uuid.uuid4().hex
    resp = client.post("/api/v1/staff/subjects", json=enrol_body(world), headers={**headers, "X-Request-ID": rid})
    assert resp.status_code == 201, resp.get_json()
    assert resp.headers["X-Request-ID"] == rid
    return rid, row_of_request(rid)


def new_notification(user_id: int, queue: str = "default") -> tuple[int, int]:
    """Store a notification and its delivery row (pushed to ``queue`` after commit); return both ids."""
    with db.tx() as s:
        n = Notification(user_id=user_id, kind="test", title="测试")
        s.add(n)
        s.flush()
        msg_id = outbox.add(s, "deliver_notification", {"notification_id": n.id}, queue=queue)
    return msg_id, n.id


def state(outbox_id: int, notification_id: int) -> tuple:
    r, n = row(outbox_id), notification(notification_id)
    return r.status, r.attempts, r.done_at, r.last_error, n.delivered_at, n.delivery_attempts, n.data


def job_log_line(log_path: Path, request_id: str, message: str) -> dict | None:
    """The worker's JSON log line with ``message`` tagged with ``request_id``, if written yet."""
    if not log_path.exists():
        return None
    for line in log_path.read_text(errors="replace").splitlines():
        if request_id in line and line.startswith("{"):
            rec = json.loads(line)
            if rec.get("message") == message and rec.get("request_id") == request_id:
                return rec
    return None


# --- pushed after commit, run once ------------------------------------------------------------------------


def test_enrolment_outbox_job_runs_once_on_the_worker(client, world, worker_process, test_env):
    rid, msg = enrol(client, world, auth_header(client, "officerA"))
    assert msg.job == "deliver_notification"

    done = wait_for(lambda: row_done(msg.id))
    assert (done.attempts, done.last_error) == (1, None)
    n = notification(msg.payload["notification_id"])
    assert n.kind == "welcome" and n.delivered_at is not None and n.delivery_attempts == 1

    job = Job.fetch(outbox.job_id(msg.id), connection=get_redis(), serializer=JSONSerializer)
    assert job.func_name == outbox.RUN_OUTBOX and list(job.args) == [msg.id]
    assert job.timeout == outbox.JOB_TIMEOUT and job.meta["request_id"] == rid
    stored = json.loads(zlib.decompress(get_redis().hget(job.key, "data")))  # JSON, not a pickle
    assert stored[0] == outbox.RUN_OUTBOX
    results = wait_for(lambda: job.results())
    assert [r.return_value for r in results] == ["done"]

    # the request id travels from the request, through the row, into the job's log lines
    line = wait_for(lambda: job_log_line(Path(test_env["INSTANCE_DIR"]) / "worker.log", rid, "outbox job done"))
    assert line["outbox_id"] == msg.id and line["name"] == "workers.jobs"


def test_push_waits_for_the_outermost_commit(world):
    uid = world.users["subject_A"].id
    with db.tx() as s:
        with db.tx() as inner:
            n = Notification(user_id=uid, kind="test", title="测试")
            inner.add(n)
            inner.flush()
            row_id = outbox.add(inner, "deliver_notification", {"notification_id": n.id}, queue=IDLE)
        assert not Job.exists(outbox.job_id(row_id), connection=get_redis())  # the inner block does not commit
        s.flush()
        assert not Job.exists(outbox.job_id(row_id), connection=get_redis())
    assert outbox.get_queue(IDLE).job_ids == [outbox.job_id(row_id)]
    assert row(row_id).payload["notification_id"] == n.id


def test_a_rolled_back_transaction_pushes_nothing(world):
    uid = world.users["subject_A"].id
    idle = outbox.get_queue(IDLE)
    with pytest.raises(RuntimeError), db.tx() as s:
        n = Notification(user_id=uid, kind="test", title="测试")
        s.add(n)
        s.flush()
        rolled = outbox.add(s, "deliver_notification", {"notification_id": n.id}, queue=IDLE)
        raise RuntimeError("the change fails after the outbox row was written")
    assert row(rolled) is None and idle.count == 0
    assert not Job.exists(outbox.job_id(rolled), connection=get_redis())

    # the dropped hook does not fire with the session's next commit either
    kept, _ = new_notification(uid, queue=IDLE)
    assert idle.job_ids == [outbox.job_id(kept)] and idle.count == 1


def test_a_savepoint_rollback_keeps_the_outer_push(world):
    uid = world.users["subject_A"].id
    with db.tx() as s:
        n = Notification(user_id=uid, kind="test", title="测试")
        s.add(n)
        s.flush()
        kept = outbox.add(s, "deliver_notification", {"notification_id": n.id}, queue=IDLE)
        with pytest.raises(ValueError), s.begin_nested():
            raise ValueError("a savepoint fails (say, a duplicate insert) and is rolled back")
    assert outbox.get_queue(IDLE).job_ids == [outbox.job_id(kept)]


# --- twice changes nothing --------------------------------------------------------------------------------


def test_running_a_job_twice_changes_nothing(world):
    from workers.jobs import run_outbox

    row_id, nid = new_notification(world.users["subject_A"].id, queue=IDLE)
    assert run_outbox(row_id) == "done"
    first = state(row_id, nid)
    assert first[:2] == ("done", 1) and first[4] is not None and first[5] == 1

    assert run_outbox(row_id) == "already-done"
    assert state(row_id, nid) == first

    with db.tx() as s:  # the handler itself is idempotent too
        deliver(s, {"notification_id": nid})
    assert state(row_id, nid) == first


def test_a_missing_row_is_a_logged_no_op(clean, caplog):
    from workers.jobs import run_outbox

    caplog.set_level("INFO", logger="workers.jobs")
    assert run_outbox(987654) == "missing"
    [rec] = [r for r in caplog.records if r.name == "workers.jobs"]
    assert rec.getMessage() == "outbox row missing; nothing to do" and rec.outbox_id == 987654


def test_a_failing_handler_rolls_back_and_is_given_up_after_max_attempts(world, monkeypatch):
    from workers.jobs import run_outbox

    def half_then_fail(session, payload):
        session.get(Notification, payload["notification_id"]).delivered_at = utcnow()
        raise ConnectionError("push gateway unreachable")

    monkeypatch.setitem(HANDLERS, "deliver_notification", half_then_fail)
    monkeypatch.setattr(outbox, "MAX_ATTEMPTS", 2)
    row_id, nid = new_notification(world.users["subject_A"].id, queue=IDLE)

    with pytest.raises(ConnectionError):
        run_outbox(row_id)
    r = row(row_id)
    assert (r.status, r.attempts) == ("pending", 1) and "push gateway unreachable" in r.last_error
    assert notification(nid).delivered_at is None  # the half-done work was rolled back

    with pytest.raises(ConnectionError):
        run_outbox(row_id)
    assert (row(row_id).status, row(row_id).attempts) == ("failed", 2)
    get_redis().flushdb()
    assert outbox.relay(older_than_s=0) == 0  # given up: left for an operator
    assert run_outbox(row_id) == "already-failed"


def test_the_same_row_pushed_twice_to_the_worker_runs_once(world, worker_process):
    row_id, nid = new_notification(world.users["subject_A"].id)
    wait_for(lambda: row_done(row_id))
    first = state(row_id, nid)

    assert outbox.push(row_id)  # a second push of the same row (say, by the relay)
    job = Job.fetch(outbox.job_id(row_id), connection=get_redis(), serializer=JSONSerializer)
    results = wait_for(lambda: (rs := job.results()) and len(rs) == 2 and rs)
    assert sorted(r.return_value for r in results) == ["already-done", "done"]
    assert state(row_id, nid) == first and first[1] == 1 and first[5] == 1


# --- process binding --------------------------------------------------------------------------------------


def test_a_forked_job_process_never_uses_the_parents_connections(world):
    from workers import context

    context.bind()
    with db.tx() as s:
        parent_conn = s.connection().connection.dbapi_connection
        s.scalar(select(func.count()).select_from(OutboxMessage))
    # the parent's connection is back in its pool now, where a careless child would pick it up
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what a work horse does before its job
        code = 1
        try:
            owned = context.bind()
            with db.tx() as s:
                same = s.connection().connection.dbapi_connection is parent_conn
                s.scalar(select(func.count()).select_from(OutboxMessage))
            os.write(w, json.dumps({"owned": owned, "same": same}).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    report = json.loads(os.read(r, 1000))
    os.close(r)
    assert os.waitstatus_to_exitcode(status) == 0
    assert report == {"owned": True, "same": False}
    with db.tx() as s:  # and the parent's connections still work
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_every_outbox_job_written_by_the_services_has_a_handler():
    import backend.registry  # noqa: F401

    written = set()
    for path in (ROOT / "backend").rglob("*.py"):
        written |= set(re.findall(r"outbox\.add\(\s*\w+,\s*\"([a-z_]+)\"", path.read_text()))
    assert "deliver_notification" in written
    assert written <= set(HANDLERS), f"no handler registered for {written - set(HANDLERS)}"
