"""The nightly missed check-in job: every period past due + 24 h without a check-in, across all subjects.

Set-based: for each period end date it looks at, one SELECT finds every subject whose period ends that
day (the interval from level and grade computed in SQL) and that has no check-in for it; only the misses
are then visited, to emit CHECKIN_MISSED, raise the warning and notify the subject. Idempotent: the
event's unique source ("checkin_period", "<subject>:<end date>") makes a rerun or a catch-up emit nothing
twice, and a warning and a notification are written only with a newly created event. A subject with a
check-in still waiting for its photo's verdict is left for the next night (the last ``LOOKBACK_DAYS``
period ends are looked at again every night), so a late verdict can still count. Each miss is recorded
under the subject's row lock (docs/schedules.md#lock-order) after looking again for a check-in that a
placement running meanwhile put in the period.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Date, Integer, String, and_, case, cast, exists, func, literal, not_, or_, select
from sqlalchemy.orm import Session

from backend.db import db
from backend.models import Subject
from backend.models.base import UTCDateTime
from backend.models.checkin import CheckIn
from backend.models.scoring import ScoreEvent, SubjectScore
from backend.services.activities import checkins, grade_effects, periods, policy
from backend.services.core import audit, rowlocks
from backend.services.core.notifications import notify
from backend.services.core.warnings import raise_warning
from backend.services.scoring import emit_event
from backend.services.scoring.sql import is_pg

LOOKBACK_DAYS = 7
BATCH = 500


def latest_end(fire_at: datetime) -> date:
    """The last period end date whose due time + 24 h has passed at ``fire_at``."""
    end = periods.local_date(fire_at) - timedelta(days=1)
    while periods.due_at(end) + periods.GRACE > fire_at:
        end -= timedelta(days=1)
    return end


def _interval(session: Session):
    """SQL: each subject's check-in interval in days (level, moved one step by an effective grade)."""
    looser, tighter = grade_effects.interval_codes(session)
    level = case(*[(Subject.supervision_level == name, step) for name, step in periods.LEVEL_STEP.items()], else_=1)
    effective = SubjectScore.base_pending.is_(False)
    shift = case(
        (and_(effective, SubjectScore.grade.in_(looser or ["-"])), 1),
        (and_(effective, SubjectScore.grade.in_(tighter or ["-"])), -1),
        else_=0,
    )
    step = level + shift
    ladder = [max(1, min(7, n)) for n in policy.policy(session).ladder]
    last = len(ladder) - 1
    clamped = case((step < 0, 0), (step > last, last), else_=step)
    return case(*[(clamped == i, n) for i, n in enumerate(ladder)], else_=ladder[-1])


def _days_since_start(session: Session, end: date, start_col):
    if is_pg(session):
        return cast(literal(end), Date) - start_col
    return cast(func.julianday(literal(end.isoformat())) - func.julianday(start_col), Integer)


def find_missed(session: Session, end: date) -> list[int]:
    """Ids of subjects whose check-in period ended on ``end`` with no check-in and no MISSED event yet."""
    base = (
        select(
            Subject.id.label("id"),
            Subject.start_date.label("start_date"),
            Subject.created_at.label("created_at"),
            _interval(session).label("length"),
        )
        .select_from(Subject)
        .outerjoin(SubjectScore, SubjectScore.subject_id == Subject.id)
        .where(Subject.status == "in_correction", Subject.start_date <= end, Subject.end_date >= end)
        .cte("due_subjects")
    )
    days = _days_since_start(session, end, base.c.start_date)
    due = periods.due_at(end)
    starts = {n: periods.local_midnight(end - timedelta(days=n - 1)) for n in range(1, 8)}
    period_start = case(*[(base.c.length == n, literal(at, UTCDateTime())) for n, at in starts.items()])
    took = exists().where(
        CheckIn.subject_id == base.c.id,
        or_(
            CheckIn.period_due_at == due,
            and_(CheckIn.outcome == "on_time", CheckIn.counted_at >= period_start, CheckIn.counted_at <= due),
            and_(CheckIn.status == "pending", CheckIn.received_at <= due + periods.GRACE),
        ),
    )
    source_id = cast(base.c.id, String) + literal(f":{end.isoformat()}")
    already = exists().where(
        ScoreEvent.rule_code == "CHECKIN_MISSED",
        ScoreEvent.source_kind == checkins.MISSED_SOURCE,
        ScoreEvent.source_id == source_id,
    )
    stmt = (
        select(base.c.id)
        .where(
            days >= 0,
            days % base.c.length == base.c.length - 1,
            # a period already due when the subject was entered here is not theirs to have missed
            base.c.created_at < due,
            not_(took),
            not_(already),
        )
        .order_by(base.c.id)
    )
    return list(session.scalars(stmt))


def _record_miss(session: Session, subject: Subject, end: date) -> bool:
    due = periods.due_at(end)
    # the subject's row lock first (docs/schedules.md#lock-order): a placement of this subject's check-in
    # that ran since the batch was found has committed by now, and one still to come waits and sees the miss
    rowlocks.lock(session, Subject, subject.id)
    placed = exists().where(
        CheckIn.subject_id == subject.id,
        or_(
            CheckIn.period_due_at == due,
            and_(CheckIn.status == "pending", CheckIn.received_at <= due + periods.GRACE),
        ),
    )
    if session.scalar(select(placed)):
        return False
    emitted = emit_event(
        subject,
        "CHECKIN_MISSED",
        checkins.MISSED_SOURCE,
        checkins.missed_source_id(subject.id, end),
        due + periods.GRACE,
        reason=f"报到周期截至 {end.isoformat()} 22:00 未报到",
    )
    if not emitted.created:
        return False
    raise_warning(
        session,
        subject,
        "CHECKIN_MISSED",
        "medium",
        f"{subject.name} 未按时报到(截至 {end.isoformat()})",
        period_key=f"checkin:{end.isoformat()}",
        details={"period_end": end.isoformat(), "due_at": due.isoformat(), "event_id": emitted.event.id},
        evidence=[{"kind": "score_event", "id": emitted.event.id}],
    )
    notify(
        session,
        subject.user_id,
        "checkin_missed",
        "您未按时报到",
        f"报到周期截至 {end.isoformat()} 22:00,您未在规定时间内完成报到,已记录未按时报到。",
        data={"period_end": end.isoformat(), "event_id": emitted.event.id},
    )
    return True


def run_missed(fire_at: datetime) -> dict:
    """Find and record every missed period whose late window closed by ``fire_at`` (the last nights too)."""
    with db.tx() as s:
        invalid = checkins.invalidate_rejected(s)
    last = latest_end(fire_at)
    recorded: list[str] = []
    for back in range(LOOKBACK_DAYS, -1, -1):
        end = last - timedelta(days=back)
        with db.tx() as s:
            ids = find_missed(s, end)
        for i in range(0, len(ids), BATCH):
            with db.tx() as s:
                batch = s.scalars(select(Subject).where(Subject.id.in_(ids[i : i + BATCH])).order_by(Subject.id))
                for subject in batch:
                    if _record_miss(s, subject, end):
                        recorded.append(checkins.missed_source_id(subject.id, end))
    with db.tx() as s:
        audit.record_bulk(
            s,
            "checkin.missed",
            recorded,
            counts={"invalidated": invalid},
            details={"through": last.isoformat(), "lookback_days": LOOKBACK_DAYS},
        )
    return {"missed": len(recorded), "invalidated": invalid, "through": last.isoformat()}


def scheduled_missed(period_start: datetime) -> dict:
    """Schedule entry (nightly, after 22:00): the periods whose late window closed by the fire time."""
    return run_missed(period_start)
