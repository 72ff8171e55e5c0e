"""The education schedules: the monthly evaluation on the 1st and the reminder on the 20th.

Rules: docs/education-and-service.md#monthly-evaluation.

Monthly: for every subject in correction during the month before, EDU_MONTH_MET or EDU_MONTH_MISSED, and
EDU_EXTRA_HOUR for the minutes beyond the requirement (the ledger grants whole hours under its cap).
Idempotent: each event's source is ("education_month", "<subject>:<YYYY-MM>"), so a rerun or catch-up
emits nothing twice. The requirement follows the level in force on each day (the level history). The
sessions are read in chunks of subjects, one query per chunk, after the chunk's subject rows are locked:
an officer's confirmation of a session (``education.verify``) locks the subject first, so it either
commits before the job reads the sessions or sees the job's events and re-evaluates the month. The reminder
notifies everyone under half of the month's requirement by the 20th, all in one transaction, once per
month (the schedule's recorded run).
"""

from __future__ import annotations

from datetime import date, datetime
from itertools import groupby

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import db
from backend.models import Subject
from backend.models.education import EducationSession
from backend.services.activities import education, periods, policy
from backend.services.core import audit
from backend.services.core.notifications import notify
from backend.services.subjects import levels

CHUNK = 1000
SOURCE = education.MONTH_SOURCE


def _subjects_in(session: Session, first: date, last: date, after_id: int, *, lock: bool = False) -> list[Subject]:
    stmt = (
        select(Subject)
        .where(
            Subject.status == "in_correction",
            Subject.start_date <= last,
            Subject.end_date >= first,
            Subject.id > after_id,
        )
        .order_by(Subject.id)
        .limit(CHUNK)
    )
    if lock:  # FOR NO KEY UPDATE, the subject row first (docs/schedules.md#lock-order)
        stmt = stmt.with_for_update(of=Subject, key_share=True).execution_options(populate_existing=True)
    return list(session.scalars(stmt))


def _by_subject(session: Session, ids: list[int], first: date, last: date) -> dict[int, list[EducationSession]]:
    rows = session.scalars(education.sessions_query(ids, first, last))
    return {k: list(g) for k, g in groupby(rows, key=lambda e: e.subject_id)}


def _evaluate(
    subject: Subject,
    sessions: list[EducationSession],
    month: str,
    p: policy.Policy,
    history: levels.LevelHistory,
) -> list[str]:
    result = education.judge_month(subject, sessions, month, p, history)
    return [] if result is None else education.score_month(subject, result)


def run_monthly(month: str) -> dict:
    """Evaluate every subject's education in ``month`` ('YYYY-MM'); one audit row for the run."""
    first, last = periods.month_bounds(month)
    counts = {"met": 0, "missed": 0, "extra": 0, "subjects": 0}
    ids: list[int] = []
    after = 0
    while True:
        with db.tx() as s:
            subjects = _subjects_in(s, first, last, after, lock=True)
            if not subjects:
                break
            sessions = _by_subject(s, [x.id for x in subjects], first, last)
            history = levels.histories(s, subjects)
            p = policy.policy(s)
            for subject in subjects:
                for outcome in _evaluate(subject, sessions.get(subject.id, []), month, p, history[subject.id]):
                    counts[outcome] += 1
                ids.append(subject.id)
            after = subjects[-1].id
    counts["subjects"] = len(ids)
    with db.tx() as s:
        audit.record_bulk(s, "education.monthly", ids, counts=counts, details={"month": month})
    return {"month": month, **counts}


month_name = education.month_name


def run_reminders(day: date) -> dict:
    """Notify every subject under half of this month's requirement (the 20th's reminder)."""
    month = day.strftime("%Y-%m")
    named = month_name(month)
    first, last = periods.month_bounds(month)
    reminded: list[int] = []
    after = 0
    with db.tx() as s:
        while True:
            subjects = _subjects_in(s, first, last, after)
            if not subjects:
                break
            sessions = _by_subject(s, [x.id for x in subjects], first, day)
            history = levels.histories(s, subjects)
            p = policy.policy(s)
            for subject in subjects:
                required = education.required_minutes(subject, month, p.education_hours, history[subject.id].on)
                cap = p.education_daily_cap_hours * 3600
                seconds, _p, _d = education.counted(sessions.get(subject.id, []), first, day, cap)
                if required and seconds // 60 * 2 < required:
                    notify(
                        s,
                        subject.user_id,
                        "education_reminder",
                        f"{named}学习时长不足一半,请抓紧完成",
                        f"{named}截至 {day.day} 日已学习 {seconds // 60} 分钟,要求 {required} 分钟。",
                        {"month": month, "counted_minutes": seconds // 60, "required_minutes": required},
                    )
                    reminded.append(subject.id)
            after = subjects[-1].id
        audit.record_bulk(s, "education.reminders", reminded, details={"month": month, "as_of": day.isoformat()})
    return {"month": month, "reminded": len(reminded)}


def scheduled_monthly(period_start: datetime) -> dict:
    """Schedule entry (the 1st): evaluate the month before the fire time."""
    return run_monthly(periods.previous_month(periods.local_date(period_start)))


def scheduled_reminders(period_start: datetime) -> dict:
    """Schedule entry (the 20th): remind for the month of the fire time, counted up to that day."""
    return run_reminders(periods.local_date(period_start))
