"""Demo activity: scores, scoring events, warnings, a pending leave request and suggestions, through the services.

Idempotent: every event has a stable source ("demo", "s<n>:<what>:<i>"), so ``emit_event`` returns the
existing one on a rerun; warnings are raised only with a newly created event (or looked up first); the
leave request has a stable client id; the suggestion evaluation runs only when this run created activity;
the covered schedules' baseline runs are written only where a schedule has no run yet.
Profiles by subject number make the grades range from green to red.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import OrgUnit, Subject, Upload, Warning, utcnow
from backend.models.checkin import CheckIn
from backend.models.request import SubjectRequest
from backend.models.scoring import SubjectScore
from backend.services.activities import geofence, requests
from backend.services.core import jobruns
from backend.services.core.actors import Actor
from backend.services.core.warnings import raise_warning
from backend.services.scoring import emit_event, score
from backend.services.suggestions import engine

TZ = ZoneInfo("Asia/Shanghai")
SOURCE = "demo"
#: high-risk subjects (one per office) with a low public base and many missed check-ins: 失信严重 (red)
RED = (6, 8)
#: the subject whose pending leave request waits in officer1's inbox
LEAVE_SUBJECT = 1
LEAVE_CLIENT_ID = "demo-leave-1"
#: the schedules whose past periods this activity stands for (check-ins, leaves, education months): the seed
#: records them as done up to now, so their first catch-up does not judge a past the demo only sketched
#: (docs/schedules.md#catch-up). The end-date reminders and the rest run as on any new install.
COVERED_SCHEDULES = ("checkins_missed", "leave_overdue", "education_monthly", "education_reminders")


def profile(n: int) -> str:
    """exemplary, steady, slipping or struggling, by subject number."""
    if n in RED or n % 10 in (2, 9):
        return "struggling"
    if n % 10 in (1, 5):
        return "exemplary"
    if n % 10 in (3, 4, 7):
        return "slipping"
    return "steady"


def _at(today: date, days_ago: int, hour: int = 9) -> datetime:
    return datetime.combine(today - timedelta(days=days_ago), time(hour), tzinfo=TZ)


def _month_end(today: date, back: int) -> datetime:
    """The last second of the month ``back`` months before this one (Asia/Shanghai)."""
    first = today.replace(day=1)
    for _ in range(back - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    return datetime.combine(first, time(0), tzinfo=TZ) - timedelta(seconds=1)


def _plan(n: int, today: date) -> list[tuple[str, str, datetime, int]]:
    """(rule code, key, occurred at, quantity) of the subject's demo events."""
    kind = profile(n)
    ev: list[tuple[str, str, datetime, int]] = []
    if kind == "exemplary":
        ev += [("CHECKIN_ONTIME", f"w{d}", _at(today, d), 1) for d in (2, 9, 16, 23, 30)]
        ev += [("EDU_MONTH_MET", f"m{b}", _month_end(today, b), 1) for b in (2, 3)]
        ev += [("SERVICE_HOUR", "1", _at(today, 12, 14), 120), ("GRID_POSITIVE", "1", _at(today, 6, 16), 1)]
    elif kind == "steady":
        ev += [("CHECKIN_ONTIME", f"w{d}", _at(today, d), 1) for d in (3, 10, 17, 24)]
        ev += [("CHECKIN_LATE", "w31", _at(today, 31, 18), 1), ("EDU_MONTH_MET", "m2", _month_end(today, 2), 1)]
    elif kind == "slipping":
        ev += [("CHECKIN_ONTIME", f"w{d}", _at(today, d), 1) for d in (4, 18)]
        ev += [("CHECKIN_LATE", f"w{d}", _at(today, d, 19), 1) for d in (11, 25)]
        ev += [("CHECKIN_MISSED", "w32", _at(today, 32, 22), 1), ("EDU_MONTH_MISSED", "m2", _month_end(today, 2), 1)]
    else:
        ev += [("CHECKIN_MISSED", f"w{d}", _at(today, d, 22), 1) for d in (1, 8, 15, 22, 29)]
        ev += [("EDU_MONTH_MISSED", f"m{b}", _month_end(today, b), 1) for b in (2, 3)]
        ev += [("CHECKIN_LATE", "w36", _at(today, 36, 20), 1), ("GRID_NEGATIVE", "1", _at(today, 5, 15), 1)]
        if n in RED:
            ev.append(("GEOFENCE_BREACH", "1", _at(today, 12, 11), 1))
    return ev


def _emit(subject: Subject, n: int, rule: str, key: str, at: datetime, qty: int, created: list) -> bool:
    if at.date() < subject.start_date:
        return False
    em = emit_event(subject, rule, SOURCE, f"s{n}:{rule.lower()}:{key}", at, qty, reason="演示数据")
    if em.created:
        created.append(f"event:{em.event.id}")
    return em.created


def _subject_activity(s: Session, subject: Subject, n: int, today: date, created: list) -> None:
    for rule, key, at, qty in _plan(n, today):
        if _emit(subject, n, rule, key, at, qty, created) and rule == "CHECKIN_MISSED" and key == "w1":
            w, made = raise_warning(
                s,
                subject,
                "CHECKIN_MISSED",
                "medium",
                f"{subject.name} 未按时报到(截至 {at.date().isoformat()})",
                period_key=f"checkin:{at.date().isoformat()}",
                details={"period_end": at.date().isoformat(), "demo": True},
            )
            if made:
                created.append(f"warning:{w.id}")
    if n in RED:  # more missed weeks until the grade is red (deterministic, so a rerun stops at the same event)
        for week in range(5, 17):
            row = score.read(s, subject.id)
            if row is None or row.grade == "severe":
                break
            _emit(subject, n, "CHECKIN_MISSED", f"w{7 * week + 1}", _at(today, 7 * week + 1, 22), 1, created)
    if n % 10 == 4:  # a check-in outside the area, not confirmed yet: an open warning, no penalty
        _outside_checkin(s, subject, n, today, created)


def _outside_checkin(s: Session, subject: Subject, n: int, today: date, created: list) -> None:
    """A counted check-in a few km east of the district's edge (萧山) and its open GEOFENCE warning, which names
    the check-in, so an officer can confirm the breach (GEOFENCE_BREACH) or clear it as on real data. An older
    demo warning without its check-in (seeded before this) gets one attached."""
    warning = s.scalar(
        select(Warning)
        .where(Warning.subject_id == subject.id, Warning.kind == "GEOFENCE")
        .order_by(Warning.id)
        .limit(1)
    )
    if warning is not None and isinstance((warning.details or {}).get("checkin_id"), int):
        return
    at = _at(today, 2, 10)
    if at.date() < subject.start_date:
        return
    lat, lon = 30.10, 120.17 + 0.002 * (n // 10)
    office = s.get(OrgUnit, subject.office_id)
    district = s.get(OrgUnit, office.parent_id) if office is not None and office.parent_id else None
    distance = geofence.distance_to_area(district.area, lat, lon) if district is not None and district.area else None
    upload = Upload(
        owner_id=subject.user_id,
        subject_id=subject.id,
        purpose="checkin",
        status="accepted",
        declared_type="image/jpeg",
        size_bytes=0,
        sha256="0" * 64,
        storage_key=f"originals/demo/checkin-s{n}-outside",
        upload_expires_at=at,
        completed_at=at,
        checked_at=at,
        record_type="checkin",
    )
    s.add(upload)
    s.flush()
    checkin = CheckIn(
        subject_id=subject.id,
        client_id=f"demo-outside-{n}",
        upload_id=upload.id,
        latitude=lat,
        longitude=lon,
        accuracy_m=20.0,
        captured_at=at,
        received_at=at,
        status="counted",
        counted_at=at,
        time_basis="received",
        outcome="extra",
        inside_area=False,
        distance_m=round(distance, 1) if distance is not None else None,
        area_basis=f"district:{district.id}" if district is not None else None,
        classified_at=at,
    )
    s.add(checkin)
    s.flush()
    upload.record_id = str(checkin.id)
    created.append(f"checkin:{checkin.id}")
    if warning is None:
        warning = geofence.warn_outside(s, subject, checkin)
        created.append(f"warning:{warning.id}")
    else:  # the demo warning of an older seed: now about this check-in
        warning.details = {**(warning.details or {}), "checkin_id": checkin.id, "distance_m": checkin.distance_m}
        warning.evidence = [{"kind": "checkin", "id": checkin.id}, {"kind": "upload", "id": upload.id}]
    checkin.warning_id = warning.id


def _leave(s: Session, subject: Subject, today: date, created: list) -> None:
    found = s.scalar(
        select(SubjectRequest.id).where(
            SubjectRequest.subject_id == subject.id, SubjectRequest.client_id == LEAVE_CLIENT_ID
        )
    )
    start, end = today + timedelta(days=3), today + timedelta(days=5)
    if found is not None or subject.status != "in_correction" or end > subject.end_date:
        return
    actor = Actor(user_id=subject.user_id, role="subject", username=f"subject{LEAVE_SUBJECT}", subject_id=subject.id)
    data = {
        "type": "leave",
        "destination": "杭州市西湖区",
        "reason": "探望生病住院的母亲",
        "business": False,
        "start_date": start,
        "end_date": end,
        "client_id": LEAVE_CLIENT_ID,
    }
    created.append(f"request:{requests.create(actor, data).id}")


def seed_activity(s: Session, subjects: dict[int, Subject], today: date) -> list[str]:
    """Create what is missing of the demo activity in the caller's transaction; return the created ids."""
    created: list[str] = []
    for n, subject in sorted(subjects.items()):
        _subject_activity(s, subject, n, today, created)
    scored = set(s.scalars(select(SubjectScore.subject_id)))
    rules = score.begin(s)
    for subject in subjects.values():  # everyone has a computed score, also without events
        if subject.id not in scored:
            score.lock(s, subject, rules)
            created.append(f"score:{subject.id}")
    if LEAVE_SUBJECT in subjects:
        _leave(s, subjects[LEAVE_SUBJECT], today, created)
    if created:  # a run that changed something evaluates the suggestions once (it audits itself)
        engine.evaluate()
    created += [f"job_run:{i}" for i in jobruns.record_baseline(s, COVERED_SCHEDULES, utcnow(), "demo")]
    return created
