"""End-date reminders: the officer hears 30 and 7 days before a subject's correction ends.

Rules: docs/warnings-and-suggestions.md#end-date-reminders.

Each threshold covers a band of days left (30: 8–30 days, 7: 0–7 days), so a run that was missed, or a
subject enrolled or given a new end date inside a band, still gets its reminder. A reminder is recorded
per (subject, threshold, end date) with insert-or-skip, so reruns and concurrent runs send nothing twice;
a changed end date is reminded again. One audit row per run.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, select

from backend.db import db
from backend.models import Subject, User, UserUnit, utcnow
from backend.models.field import EndDateReminder
from backend.services.core import audit
from backend.services.core.dialect import insert_skipping_duplicates
from backend.services.core.notifications import notify

TZ = ZoneInfo("Asia/Shanghai")
THRESHOLDS = (30, 7)
T = EndDateReminder.__table__


def _bands() -> list[tuple[int, int, int]]:
    """(threshold, fewest days left, most days left) for each threshold, largest first."""
    ordered = sorted(THRESHOLDS, reverse=True)
    return [(t, (ordered[i + 1] + 1) if i + 1 < len(ordered) else 0, t) for i, t in enumerate(ordered)]


def send_due(today: date | None = None) -> dict:
    """Send every reminder due on ``today`` (Asia/Shanghai) that was not sent yet; idempotent."""
    today = today or utcnow().astimezone(TZ).date()
    sent: list[str] = []
    with db.tx() as s:
        for threshold, fewest, most in _bands():
            already = exists().where(
                EndDateReminder.subject_id == Subject.id,
                EndDateReminder.days_before == threshold,
                EndDateReminder.end_date == Subject.end_date,
            )
            due = s.execute(
                select(Subject.id, Subject.name, Subject.end_date, Subject.officer_id, Subject.office_id).where(
                    Subject.status == "in_correction",
                    Subject.end_date >= today + timedelta(days=fewest),
                    Subject.end_date <= today + timedelta(days=most),
                    ~already,
                )
            ).all()
            rows = [
                {"subject_id": r.id, "days_before": threshold, "end_date": r.end_date, "sent_at": utcnow()} for r in due
            ]
            new = set()
            for i in range(0, len(rows), 500):
                made = insert_skipping_duplicates(s, T, rows[i : i + 500], T.c.subject_id)
                new |= {r.subject_id for r in made}
            fresh = [r for r in due if r.id in new]
            _notify(s, fresh, threshold, today)
            sent += [f"{r.id}:{threshold}:{r.end_date.isoformat()}" for r in fresh]
        audit.record_bulk(s, "reminders.end_date", sent, counts={"sent": len(sent)}, details={"day": today.isoformat()})
    return {"sent": len(sent), "day": today.isoformat()}


def _notify(s, rows, threshold: int, today: date) -> None:
    orphan_offices = {r.office_id for r in rows if r.officer_id is None}
    officers: dict[int, list[int]] = defaultdict(list)
    if orphan_offices:  # no responsible officer: every active officer of the office hears it
        for office_id, user_id in s.execute(
            select(UserUnit.org_unit_id, User.id)
            .join(User, User.id == UserUnit.user_id)
            .where(and_(UserUnit.org_unit_id.in_(orphan_offices), User.role == "officer", User.active.is_(True)))
        ):
            officers[office_id].append(user_id)
    for r in rows:
        left = (r.end_date - today).days
        title = f"{r.name}将于{r.end_date.isoformat()}解除矫正(还有{left}天)"
        data = {"subject_id": r.id, "end_date": r.end_date.isoformat(), "days_before": threshold, "days_left": left}
        for user_id in [r.officer_id] if r.officer_id is not None else officers.get(r.office_id, []):
            notify(s, user_id, "end_date_reminder", title, "请做好解矫准备", data=data)


def scheduled(period_start: datetime) -> dict:
    """The daily run (workers.schedules): the reminders due on the period's day."""
    return send_due(period_start.astimezone(TZ).date())
