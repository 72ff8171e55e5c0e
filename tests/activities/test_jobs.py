"""The activity schedules: set-based missed check-ins, catch-up through job_runs, pending photos, idempotency."""

from __future__ import annotations

from datetime import date

from sqlalchemy import event, select

from backend.db import db
from backend.models import JobRun, Notification
from backend.services.activities import missed as checkin_jobs
from backend.services.core.jobruns import run_due
from tests.support.activities import (
    YEAR,
    check_in,
    checkin_body,
    declared_only,
    drain,
    events,
    headers_for,
    new_subject,
    rules_of,
    sh,
    warnings_of,
)
from workers.schedules import SCHEDULES


def _selects(fn) -> int:
    """How many SELECT statements ``fn`` sends."""
    seen = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def test_finding_misses_is_set_based(client, world, clock):
    """Subjects who checked in cost no query each: the number of SELECTs does not grow with them."""
    start = date(YEAR, 3, 2)
    few = [new_subject(world, level="strict", start_date=start) for _ in range(2)]
    for s in few:
        check_in(client, headers_for(client, s), clock, sh(3, 2, 10))
    checkin_jobs.run_missed(sh(3, 3, 22, 5))  # the world's own subjects' misses, recorded once
    small = _selects(lambda: checkin_jobs.run_missed(sh(3, 3, 22, 5)))
    more = [new_subject(world, level="strict", start_date=start) for _ in range(6)]
    for s in more:
        check_in(client, headers_for(client, s), clock, sh(3, 2, 11))
    large = _selects(lambda: checkin_jobs.run_missed(sh(3, 3, 22, 5)))
    assert large == small
    assert all("CHECKIN_MISSED" not in rules_of(s.id) for s in few + more)


def test_a_check_in_waiting_for_its_photo_is_not_missed(client, world, clock):
    subject = new_subject(world, level="strict", start_date=date(YEAR, 3, 2))
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 21))
    uid = declared_only(client, h, sh(3, 2, 21))
    assert client.post("/api/v1/me/checkins", json=checkin_body(uid, sh(3, 2, 21)), headers=h).status_code == 201
    checkin_jobs.run_missed(sh(3, 3, 22, 5))  # the photo is still being checked: left for the next night
    assert rules_of(subject.id) == []
    drain()  # the verdict arrives; the check-in counts on time
    assert rules_of(subject.id) == ["CHECKIN_ONTIME"]
    checkin_jobs.run_missed(sh(3, 4, 22, 5))  # the 2nd again (look-back): taken; the 3rd: missed
    assert rules_of(subject.id) == ["CHECKIN_ONTIME", "CHECKIN_MISSED"]
    assert events(subject.id, "CHECKIN_MISSED")[0].source_id.endswith(f"{YEAR}-03-03")


def test_the_schedule_catches_up_missed_nights_once_each(world):
    subject = new_subject(world, level="strict", start_date=date(YEAR, 3, 1))
    missed = next(s for s in SCHEDULES if s.name == "checkins_missed")
    with db.tx() as s:
        s.add(JobRun(schedule=missed.name, period=f"{YEAR}-03-01T22:05", status="succeeded"))
    ran = run_due(missed, sh(3, 4, 23))  # the 2nd, 3rd and 4th nights were not run
    assert ran == [f"{YEAR}-03-0{d}T22:05:ran" for d in (2, 3, 4)]
    got = sorted(e.source_id for e in events(subject.id, "CHECKIN_MISSED"))
    assert got == [f"{subject.id}:{YEAR}-03-0{d}" for d in (1, 2, 3)]
    assert len(warnings_of(subject.id, "CHECKIN_MISSED")) == 3
    with db.tx() as s:
        told = s.scalars(select(Notification).where(Notification.user_id == subject.user_id)).all()
    assert sum(n.kind == "checkin_missed" for n in told) == 3
    assert run_due(missed, sh(3, 4, 23)) == []  # nothing due again
    checkin_jobs.run_missed(sh(3, 4, 23))  # and a forced rerun adds nothing
    assert len(events(subject.id, "CHECKIN_MISSED")) == 3


def test_periods_due_before_the_enrolment_and_released_subjects_are_not_missed(world):
    # start date 1 January, entered into the system on the 10th: the period due on the 7th is not theirs
    subject = new_subject(world, level="lenient", start_date=date(YEAR, 1, 1), created_at=sh(1, 10))
    checkin_jobs.run_missed(sh(1, 15, 22, 5))
    assert [e.source_id for e in events(subject.id)] == [f"{subject.id}:{YEAR}-01-14"]
    released = new_subject(world, level="strict", start_date=date(YEAR, 1, 1), status="released")
    checkin_jobs.run_missed(sh(1, 15, 22, 5))
    assert events(released.id) == []


def test_the_activity_schedules_are_registered():
    names = {s.name: s.cron for s in SCHEDULES}
    assert names["checkins_missed"] == "5 22 * * *"  # after the 22:00 due time, Asia/Shanghai
    assert names["leave_overdue"] == "10 0 * * *"
    assert names["education_monthly"] == "30 1 1 * *"
    assert names["education_reminders"] == "0 9 20 * *"
