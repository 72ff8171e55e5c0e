"""计分周期: the daily expiry job (set-based, one audit row per run, idempotent), snapshots and the history."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from backend.db import db
from backend.models import AuditLog, JobRun, utcnow
from backend.models.scoring import ScoreChange, ScoreEvent, ScoreSnapshot
from backend.services.core.jobruns import run_period
from backend.services.scoring import emit_event, expiry
from backend.services.scoring.sql import TZ
from tests.support.scoring import events_of, from_ledger, new_subject, sql_differences, stored
from workers.schedules import SCHEDULES


def _audit_rows(action: str) -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def test_due_events_expire_and_scores_recover(world):
    a, b, c = new_subject(world), new_subject(world), new_subject(world, provincial=650)
    now = utcnow()
    emit_event(a, "CHECKIN_LATE", "p", "a1", now - timedelta(days=89))  # due tomorrow
    emit_event(a, "CHECKIN_MISSED", "p", "a2", now - timedelta(days=100))  # due in 80 days
    emit_event(b, "GEOFENCE_BREACH", "w", "b1", now - timedelta(days=364, hours=12))  # due in 12 hours
    emit_event(c, "CHECKIN_ONTIME", "p", "c1", now - timedelta(days=400))  # positive: never expires
    before = [stored(x.id)["total"] for x in (a, b, c)]
    audits = len(_audit_rows("score.expire"))
    result = expiry.run_expiry(now + timedelta(days=1, hours=1))
    assert (result["events"], result["subjects"], result["changed"]) == (2, 2, 2)
    after = [stored(x.id)["total"] for x in (a, b, c)]
    assert after == [before[0] + 2, before[1] + 20, before[2]]
    assert [e.status for e in events_of(a.id)] == ["expired", "active"]
    assert events_of(a.id)[0].status_ref == "expiry"
    rows = _audit_rows("score.expire")
    assert len(rows) == audits + 1
    assert rows[-1].details["count"] == 2 and rows[-1].details["events"] == 2
    # a rerun changes nothing and still writes one row for its run
    again = expiry.run_expiry(now + timedelta(days=1, hours=1))
    assert (again["events"], again["changed"]) == (0, 0)
    assert [stored(x.id)["total"] for x in (a, b, c)] == after
    assert sql_differences() == []
    for x in (a, b, c):
        assert stored(x.id) == from_ledger(x.id)
    causes = db.session.scalars(select(ScoreChange.cause).where(ScoreChange.subject_id == a.id)).all()
    assert causes.count("expiry") == 1


def test_expiry_leaves_frozen_scores_alone(world):
    from backend.models.scoring import SubjectScore

    p = new_subject(world)
    emit_event(p, "CHECKIN_LATE", "p", "x", utcnow() - timedelta(days=89))
    total = stored(p.id)["total"]
    with db.tx() as s:
        s.get(SubjectScore, p.id).frozen = True
    expiry.run_expiry(utcnow() + timedelta(days=2))
    assert stored(p.id)["total"] == total
    assert events_of(p.id)[0].status == "expired"


def test_the_schedule_runs_once_per_day_and_catches_up(world):
    schedule = next(s for s in SCHEDULES if s.name == "score_expiry")
    p = new_subject(world)
    fire = utcnow().astimezone(TZ).replace(hour=0, minute=5, second=0, microsecond=0)
    if fire > utcnow():
        fire -= timedelta(days=1)
    e = emit_event(p, "CHECKIN_LATE", "p", "y", utcnow() - timedelta(days=30)).event
    with db.tx() as s:  # time passes: the event falls due an hour before today's run
        s.execute(
            ScoreEvent.__table__.update().where(ScoreEvent.id == e.id).values(expires_at=fire - timedelta(hours=1))
        )
    assert run_period(schedule, fire - timedelta(days=1)) == "ran"  # yesterday's run, caught up late
    assert events_of(p.id)[0].status == "active"
    assert run_period(schedule, fire) == "ran"
    assert run_period(schedule, fire) != "ran"
    assert events_of(p.id)[0].status == "expired"
    runs = db.session.scalars(select(JobRun).where(JobRun.schedule == "score_expiry").order_by(JobRun.period)).all()
    assert [(r.status, r.details["events"]) for r in runs] == [("succeeded", 0), ("succeeded", 1)]


def test_snapshots_only_for_days_with_a_change(world):
    p, quiet = new_subject(world), new_subject(world)
    stored(quiet.id)
    today = utcnow().astimezone(TZ).date()
    emit_event(p, "GRID_POSITIVE", "r", 1, utcnow())
    emit_event(p, "GRID_POSITIVE", "r", 2, utcnow())
    with db.tx() as s:  # the initial rows of both were written today, too: move the quiet one to last week
        s.execute(
            ScoreChange.__table__.update()
            .where(ScoreChange.subject_id == quiet.id)
            .values(at=utcnow() - timedelta(days=7))
        )
    assert expiry.snapshot_day(today) == 1
    assert expiry.snapshot_day(today) == 1  # an upsert: rerunning writes the same row
    snaps = db.session.scalars(select(ScoreSnapshot).where(ScoreSnapshot.day == today)).all()
    assert [(x.subject_id, x.total) for x in snaps] == [(p.id, stored(p.id)["total"])]
    assert db.session.scalar(select(func.count()).select_from(ScoreSnapshot)) == 1
