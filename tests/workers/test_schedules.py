"""Schedules: periods in Asia/Shanghai, one recorded run per period, catch-up, retries, and the rq cron config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rq.cron import CronScheduler
from sqlalchemy import select

from backend import runtime
from backend.db import db
from backend.models import IdempotencyRecord, JobRun, Notification, OutboxMessage, utcnow
from backend.redis_conn import get_redis
from backend.services.core import jobruns
from backend.services.core.jobruns import TZ, Schedule, due_periods, last_success, period_key, run_due, run_period
from tests.conftest import ROOT, wait_for

DAILY_1AM = "0 1 * * *"  # 01:00 in Shanghai is 17:00 UTC the day before


class Recorder:
    """A schedule's work: records each period it is given; fails the periods listed in ``fail_once`` once."""

    def __init__(self, fail_once: set[str] | None = None) -> None:
        self.calls: list[datetime] = []
        self.fail_once = set(fail_once or ())

    def __call__(self, start: datetime) -> dict:
        key = period_key(start)
        if key in self.fail_once:
            self.fail_once.discard(key)
            raise RuntimeError(f"upstream unavailable for {key}")
        self.calls.append(start)
        return {"period": key}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def runs(name: str) -> list[tuple[str, str]]:
    s = db.new_session()
    try:
        rows = s.scalars(select(JobRun).where(JobRun.schedule == name).order_by(JobRun.period)).all()
        return [(r.period, r.status) for r in rows]
    finally:
        s.close()


# --- periods in Asia/Shanghai -------------------------------------------------------------------------------


def test_a_1am_schedule_fires_at_17_utc_the_day_before(clean):
    s = Schedule("t_boundary", DAILY_1AM, Recorder())
    [p] = due_periods(s, now=utc(2026, 3, 10, 17, 0))
    assert p.astimezone(UTC) == utc(2026, 3, 10, 17, 0) and p.tzinfo is TZ
    assert period_key(p) == "2026-03-11T01:00"
    [earlier] = due_periods(s, now=utc(2026, 3, 10, 16, 59))
    assert period_key(earlier) == "2026-03-10T01:00"  # one minute before, today's (Shanghai) run is not due


def test_catch_up_runs_every_missed_period_once_in_order(clean):
    work = Recorder()
    s = Schedule("t_catch_up", DAILY_1AM, work)
    assert run_due(s, now=utc(2026, 3, 10, 17, 5)) == ["2026-03-11T01:00:ran"]

    # nothing ran for five days (workers down); the next tick catches up, oldest first
    ran = run_due(s, now=utc(2026, 3, 15, 18, 0))
    expected = [f"2026-03-{d}T01:00" for d in range(12, 17)]
    assert ran == [f"{k}:ran" for k in expected]
    assert [period_key(c) for c in work.calls] == ["2026-03-11T01:00", *expected]
    assert runs("t_catch_up") == [(k, "succeeded") for k in ["2026-03-11T01:00", *expected]]
    assert last_success("t_catch_up").period == "2026-03-16T01:00"

    assert run_due(s, now=utc(2026, 3, 15, 18, 1)) == []  # a second tick runs nothing
    assert len(work.calls) == 6


def test_a_failed_period_is_retried_on_the_next_tick_before_later_ones(clean):
    work = Recorder(fail_once={"2026-03-13T01:00"})
    s = Schedule("t_retry", DAILY_1AM, work)
    run_due(s, now=utc(2026, 3, 11, 17, 0))  # first run: 03-12
    assert run_due(s, now=utc(2026, 3, 14, 17, 30)) == ["2026-03-13T01:00:failed"]  # 03-14, 03-15 wait
    assert runs("t_retry") == [("2026-03-12T01:00", "succeeded"), ("2026-03-13T01:00", "failed")]
    assert "upstream unavailable" in _run("t_retry", "2026-03-13T01:00").details["error"]

    assert run_due(s, now=utc(2026, 3, 14, 17, 31)) == [
        "2026-03-13T01:00:ran",
        "2026-03-14T01:00:ran",
        "2026-03-15T01:00:ran",
    ]
    assert [period_key(c) for c in work.calls] == [f"2026-03-{d}T01:00" for d in (12, 13, 14, 15)]
    assert run_due(s, now=utc(2026, 3, 14, 17, 32)) == []


def _run(name: str, period: str) -> JobRun:
    s = db.new_session()
    try:
        return s.scalars(select(JobRun).where(JobRun.schedule == name, JobRun.period == period)).one()
    finally:
        s.close()


def test_a_period_runs_at_most_once_and_a_stale_claim_is_taken_over(clean):
    work = Recorder()
    s = Schedule("t_claims", DAILY_1AM, work)
    start = datetime(2026, 3, 11, 1, 0, tzinfo=TZ)
    assert run_period(s, start) == "ran"
    assert run_period(s, start) == "already-done"

    other = datetime(2026, 3, 12, 1, 0, tzinfo=TZ)
    with db.tx() as tx:  # another tick is running this period right now
        tx.add(JobRun(schedule="t_claims", period=period_key(other), status="running"))
    assert run_period(s, other) == "busy"
    assert run_due(s, now=utc(2026, 3, 12, 17, 30)) == ["2026-03-12T01:00:busy"]  # and later periods wait

    with db.tx() as tx:  # ... or it died with its process long ago
        row = tx.scalars(select(JobRun).where(JobRun.period == period_key(other))).one()
        row.started_at = utcnow() - jobruns.RUNNING_STALE - timedelta(minutes=1)
    assert run_period(s, other) == "ran"
    assert [period_key(c) for c in work.calls] == ["2026-03-11T01:00", "2026-03-12T01:00"]


def test_tick_schedules_runs_the_registered_jobs_and_records_them(world):
    from workers.jobs import tick_schedules
    from workers.schedules import SCHEDULES

    uid = world.users["officer_A"].id
    with db.tx() as s:
        s.add(
            IdempotencyRecord(user_id=uid, scope="t", key="old", request_hash="x", expires_at=utcnow() - timedelta(1))
        )
        s.add(
            IdempotencyRecord(user_id=uid, scope="t", key="new", request_hash="x", expires_at=utcnow() + timedelta(1))
        )
        old_done = OutboxMessage(job="deliver_notification", payload={}, status="done", done_at=utcnow() - timedelta(8))
        pending = OutboxMessage(job="deliver_notification", payload={}, status="pending")
        s.add_all([old_done, pending])

    result = tick_schedules()
    assert set(result) == {sch.name for sch in SCHEDULES}
    assert all(len(v) == 1 and v[0].endswith(":ran") for v in result.values()), result
    for sch in SCHEDULES:
        assert last_success(sch.name) is not None
    with db.tx() as s:
        assert s.scalars(select(IdempotencyRecord.key)).all() == ["new"]
        # (other schedules may queue rows of their own, e.g. the suggestion run's notifications to officers)
        assert s.get(OutboxMessage, old_done.id) is None and s.get(OutboxMessage, pending.id).status == "pending"
    assert all(v == [] for v in tick_schedules().values())  # the next minute's tick: nothing due


# --- the rq cron configuration --------------------------------------------------------------------------------


def _stranded_row(user_id: int) -> tuple[int, int]:
    """A committed outbox row that never reached RQ (the process died after commit), five minutes old."""
    with db.tx() as s:
        n = Notification(user_id=user_id, kind="test", title="测试")
        s.add(n)
        s.flush()
        msg = OutboxMessage(
            job="deliver_notification", payload={"notification_id": n.id}, created_at=utcnow() - timedelta(minutes=5)
        )
        s.add(msg)
    return msg.id, n.id


def _done(outbox_id: int) -> bool:
    s = db.new_session()
    try:
        return s.get(OutboxMessage, outbox_id).status == "done"
    finally:
        s.close()


def test_cron_config_enqueues_json_jobs_that_the_worker_runs(world, worker_process):
    cron = CronScheduler(connection=get_redis())
    cron.load_config_from_file("workers.cron_config")
    jobs = {j.func_name: j for j in cron.get_jobs()}
    assert set(jobs) == {"workers.jobs.relay_outbox", "workers.jobs.tick_schedules"}
    for cj in jobs.values():
        assert cj.interval == 60 and cj.job_options["job_timeout"] > 0
        assert cj.queue_name == runtime.settings().queue_prefix + "default"

    row_id, nid = _stranded_row(world.users["subject_A"].id)
    job = jobs["workers.jobs.relay_outbox"].enqueue(get_redis())
    assert job.timeout == 120
    data = json.loads(zlib.decompress(get_redis().hget(job.key, "data")))  # JSON, not a pickle
    assert data[0] == "workers.jobs.relay_outbox"
    wait_for(lambda: _done(row_id))  # the worker ran the relay, which pushed the row, which the worker ran

    jobs["workers.jobs.tick_schedules"].enqueue(get_redis())
    wait_for(lambda: all(last_success(name) for name in ("purge_idempotency", "purge_outbox")))


def test_the_cron_process_ticks_and_the_worker_runs_its_jobs(world, worker_process, test_env):
    row_id, _ = _stranded_row(world.users["subject_A"].id)
    log = open(Path(test_env["INSTANCE_DIR"]) / "cron.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "workers.cron", "--url", test_env["REDIS_URL"]],  # what `zhijiao cron` runs
        env={**os.environ, **test_env},
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: _done(row_id), timeout=60)  # the current slot is ticked as soon as the cron starts
        wait_for(lambda: all(last_success(name) for name in ("purge_idempotency", "purge_outbox")), timeout=60)
        assert proc.poll() is None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_an_every_six_hours_schedule_crosses_the_shanghai_midnight(clean):
    s = Schedule("t_six_hourly", "0 */6 * * *", Recorder())
    with db.tx() as tx:
        tx.add(JobRun(schedule="t_six_hourly", period="2026-03-01T18:00", status="succeeded"))
    periods = due_periods(s, now=utc(2026, 3, 1, 22, 0))  # 06:00 on 2 March in Shanghai
    assert [period_key(p) for p in periods] == ["2026-03-02T00:00", "2026-03-02T06:00"]
    assert [p.astimezone(UTC) for p in periods] == [utc(2026, 3, 1, 16, 0), utc(2026, 3, 1, 22, 0)]
