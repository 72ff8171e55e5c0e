"""Reminders, each sent once: end dates to officers, the check-in due day and education progress to subjects.

Rules: docs/warnings-and-suggestions.md#end-date-reminders, docs/schedules.md#reminders.

End dates: each threshold covers a band of days left (30: 8–30 days, 7: 0–7 days), so a run that was
missed, or a subject enrolled or given a new end date inside a band, still gets its reminder. A reminder is
recorded per (subject, threshold, end date) with insert-or-skip, so reruns and concurrent runs send nothing
twice; a changed end date is reminded again. One audit row per run.

Check-in due day: from ``CHECKIN_REMINDER_TIME`` (Asia/Shanghai) on the last day of a subject's period,
until its 22:00 due time, a subject without a check-in in that period is reminded in the app, and also by
SMS when they used no app session for ``SMS_IDLE_DAYS`` (docs/schedules.md#delivery). Education progress:
on the 10th a subject under a quarter of the month's requirement, from the 25th one still under the
requirement. Both are recorded in ``reminders_sent`` (insert-or-skip) before they are sent, and a run for a
time already past (a catch-up after an outage) sends nothing: a reminder after its moment is noise.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, literal, not_, or_, select
from sqlalchemy.orm import Session

from backend import runtime
from backend.db import db
from backend.models import Device, RefreshToken, Subject, User, UserUnit, utcnow
from backend.models.base import UTCDateTime
from backend.models.checkin import CheckIn
from backend.models.delivery import ReminderSent
from backend.models.field import EndDateReminder
from backend.models.scoring import SubjectScore
from backend.services.activities import education, missed, periods, policy
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


# --- the check-in due day --------------------------------------------------------------------------------

SENT = ReminderSent.__table__
#: the check-in reminder's schedule ticks this often; it sends at the first tick at or after the set time
CHECKIN_CRON = "*/10 * * * *"


def reminder_time() -> time:
    hh, mm = runtime.settings().checkin_reminder_time.split(":")
    return time(int(hh), int(mm))


def _record_sent(s: Session, kind: str, rows: list[tuple[str, int]]) -> set[str]:
    """Insert-or-skip (kind, key) rows; the keys newly recorded (the reminders to send now)."""
    new: set[str] = set()
    values = [{"kind": kind, "key": key, "user_id": user_id, "sent_at": utcnow()} for key, user_id in rows]
    for i in range(0, len(values), 500):
        new |= {r.key for r in insert_skipping_duplicates(s, SENT, values[i : i + 500], SENT.c.key)}
    return new


def idle_users(s: Session, user_ids: list[int], now: datetime) -> set[int]:
    """Those of ``user_ids`` without an app session (a login or token refresh, a device seen) for SMS_IDLE_DAYS."""
    if not user_ids:
        return set()
    since = now - timedelta(days=runtime.settings().sms_idle_days)
    active = set(
        s.scalars(
            select(RefreshToken.user_id).where(RefreshToken.user_id.in_(user_ids), RefreshToken.created_at >= since)
        )
    ) | set(s.scalars(select(Device.user_id).where(Device.user_id.in_(user_ids), Device.last_seen_at >= since)))
    return set(user_ids) - active


def unchecked(s: Session, day: date) -> list[tuple[int, int]]:
    """(subject id, user id) of every subject in correction whose period ends on ``day`` with no check-in yet."""
    base = (
        select(
            Subject.id.label("id"),
            Subject.user_id.label("user_id"),
            Subject.start_date.label("start_date"),
            missed._interval(s).label("length"),
        )
        .select_from(Subject)
        .outerjoin(SubjectScore, SubjectScore.subject_id == Subject.id)
        .where(Subject.status == "in_correction", Subject.start_date <= day, Subject.end_date >= day)
        .cte("reminded_subjects")
    )
    days = missed._days_since_start(s, day, base.c.start_date)
    due = periods.due_at(day)
    starts = {n: periods.local_midnight(day - timedelta(days=n - 1)) for n in range(1, 8)}
    period_start = case(*[(base.c.length == n, literal(at, UTCDateTime())) for n, at in starts.items()])
    took = exists().where(
        CheckIn.subject_id == base.c.id,
        CheckIn.status != "invalid",
        or_(CheckIn.period_due_at == due, CheckIn.received_at >= period_start),
    )
    stmt = (
        select(base.c.id, base.c.user_id)
        .where(days >= 0, days % base.c.length == base.c.length - 1, not_(took))
        .order_by(base.c.id)
    )
    return [(r.id, r.user_id) for r in s.execute(stmt)]


def send_checkin(at: datetime, now: datetime | None = None) -> dict:
    """The reminders due at ``at``: on a period's last day, from the set time until the 22:00 due time."""
    now = now or periods.now()
    day = periods.local_date(at)
    due = periods.due_at(day)
    local = at.astimezone(TZ).time()
    if local < reminder_time() or now >= due or at >= due:
        return {"sent": 0, "day": day.isoformat(), "skipped": "outside the reminder window"}
    with db.tx() as s:
        found = unchecked(s, day)
        keys = {f"{sid}:{day.isoformat()}": (sid, uid) for sid, uid in found}
        new = _record_sent(s, "checkin", [(k, uid) for k, (_sid, uid) in keys.items()])
        fresh = [keys[k] for k in sorted(new, key=lambda k: keys[k][0])]
        idle = idle_users(s, [uid for _sid, uid in fresh], now)
        for sid, uid in fresh:
            notify(
                s,
                uid,
                "checkin_reminder",
                "今天是报到截止日,请按时报到",
                f"本报到周期截至 {day.isoformat()} 22:00,您还未报到,请在截止前完成报到。",
                data={"subject_id": sid, "period_end": day.isoformat(), "due_at": due.isoformat(), "due_time": "22:00"},
                sms=uid in idle,
            )
        if fresh:
            audit.record_bulk(
                s,
                "reminders.checkin",
                [f"{sid}:{day.isoformat()}" for sid, _uid in fresh],
                counts={"sent": len(fresh), "sms": len(idle)},
                details={"day": day.isoformat()},
            )
    return {"sent": len(fresh), "sms": len(idle), "day": day.isoformat()}


def scheduled_checkin(period_start: datetime) -> dict:
    """Schedule entry (every 10 minutes): the check-in reminders due at the tick."""
    return send_checkin(period_start)


# --- education progress ----------------------------------------------------------------------------------

#: (day of the month from which it is sent, share of the month's requirement under which it is sent)
EDUCATION_STAGES = ((10, 0.25), (25, 1.0))
EDUCATION_CRON = "0 9 * * *"


def _stage(day: date) -> tuple[int, float] | None:
    due = [st for st in EDUCATION_STAGES if day.day >= st[0]]
    return due[-1] if due else None


def send_education(day: date, today: date | None = None) -> dict:
    """Remind every subject behind the month's requirement at the stage of ``day``; only for today."""
    today = today or periods.local_date(periods.now())
    stage = _stage(day)
    month = day.strftime("%Y-%m")
    if stage is None or day != today:
        return {"sent": 0, "month": month, "skipped": "no stage due" if stage is None else "a past day"}
    from_day, share = stage
    first, last = periods.month_bounds(month)
    year, number = month.split("-")
    named = f"{year}年{int(number)}月"
    sent: list[str] = []
    with db.tx() as s:
        p = policy.policy(s)
        subjects = list(
            s.scalars(
                select(Subject)
                .where(Subject.status == "in_correction", Subject.start_date <= day, Subject.end_date >= first)
                .order_by(Subject.id)
            )
        )
        behind: dict[str, tuple[Subject, int, int]] = {}
        for i in range(0, len(subjects), 1000):
            chunk = subjects[i : i + 1000]
            rows = s.scalars(education.sessions_query([x.id for x in chunk], first, day))
            by_subject: dict[int, list] = defaultdict(list)
            for e in rows:
                by_subject[e.subject_id].append(e)
            for subject in chunk:
                required = education.required_minutes(subject, month, p.education_hours)
                cap = p.education_daily_cap_hours * 3600
                seconds, _pending, _days = education.counted(by_subject.get(subject.id, []), first, day, cap)
                minutes = seconds // 60
                if required and minutes < required * share:
                    behind[f"{subject.id}:{month}:{from_day}"] = (subject, minutes, required)
        new = _record_sent(s, "education", [(k, v[0].user_id) for k, v in behind.items()])
        for key in sorted(new, key=lambda k: behind[k][0].id):
            subject, minutes, required = behind[key]
            left = (last - day).days + 1
            notify(
                s,
                subject.user_id,
                "education_progress",
                f"{named}学习进度落后,请抓紧完成",
                f"{named}截至 {day.day} 日已学习 {minutes} 分钟,本月要求 {required} 分钟,"
                f"还差 {required - minutes} 分钟,本月还剩 {left} 天。",
                {"month": month, "counted_minutes": minutes, "required_minutes": required, "stage_day": from_day},
            )
            sent.append(key)
        if sent:
            audit.record_bulk(s, "reminders.education", sent, details={"month": month, "as_of": day.isoformat()})
    return {"sent": len(sent), "month": month, "stage_day": from_day}


def scheduled_education(period_start: datetime) -> dict:
    """Schedule entry (daily, 09:00): the education progress reminders of the fire day."""
    return send_education(periods.local_date(period_start))
