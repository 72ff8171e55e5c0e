"""Education (修心教育 / 阳光教育): online sessions timed by server heartbeats, offline ones verified.

Rules: docs/education-and-service.md.

Online minutes come only from heartbeats the server receives (every 60 s): the time between two
heartbeats counts when it is at most 120 s, otherwise the clock stopped in between, so a session never
counts more than wall time. Offline and 集中教育 (``centralised``) sessions need a photo and an officer's
confirmation before they count. Across sessions overlapping time counts once, and at most 4 h a day
(Asia/Shanghai). State machines: ``education_online`` active → ended; ``education_offline`` pending →
verified | rejected.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import DomainError, NotFound, register
from backend.models import Subject
from backend.models.education import EducationSession
from backend.services.activities import periods, policy
from backend.services.activities.checkins import own_subject
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.core.notifications import notify
from backend.services.core.statemachine import StateMachine
from backend.services.evidence import attachments
from backend.services.identity import access
from media.claims import Claim

ONLINE_STATES = StateMachine("education_online", {"active": {"ended"}, "ended": set()}, "active")
OFFLINE_STATES = StateMachine(
    "education_offline", {"pending": {"verified", "rejected"}, "verified": set(), "rejected": set()}, "pending"
)
HEARTBEAT = timedelta(seconds=60)
MAX_GAP = timedelta(seconds=120)
#: defaults (policy: ``activities.policy``): at most 4 h a day; monthly hours by supervision level
DAILY_CAP_S = 4 * 3600
MAX_OFFLINE_SPAN = timedelta(hours=24)
MAX_OFFLINE_AGE = timedelta(days=31)
REQUIRED_HOURS = {"strict": 10, "normal": 8, "lenient": 6}
DUE = timedelta(days=3)

for _c in [
    ("EDU_PHOTO_REQUIRED", 422, "线下学习和集中教育须上传现场照片", "Offline and group sessions need a photo"),
    ("EDU_SPAN_INVALID", 422, "学习起止时间不正确", "The session's start and end times are not valid"),
    ("EDU_MINUTES_EXCEED_SPAN", 422, "学习时长不能超过起止时间", "The minutes exceed the session's time span"),
    ("EDU_NOT_ONLINE", 422, "只有在线学习需要心跳", "Only an online session takes heartbeats"),
    ("EDU_SESSION_ENDED", 409, "该学习已结束", "The session has ended"),
    ("EDU_NOT_OFFLINE", 422, "在线学习无需核实", "Only offline and group sessions are verified"),
]:
    register(*_c)

access.allow("education.self", {"subject"})
access.allow("education.verify", {"officer"})


def _iso(at: datetime) -> str:
    return at.isoformat()


def start_or_log(actor: Actor, data: dict) -> EducationSession:
    """Start an online session (timed by heartbeats), or log an offline / group one with its photo."""
    access.require(actor, "education.self")
    now = periods.now()
    with db.tx() as s:
        subject = own_subject(s, actor)
        if data.get("client_id"):
            found = s.scalar(
                select(EducationSession).where(
                    EducationSession.subject_id == subject.id, EducationSession.client_id == data["client_id"]
                )
            )
            if found is not None:
                return found
        e = EducationSession(
            subject_id=subject.id,
            office_id=subject.office_id,
            client_id=data.get("client_id"),
            mode=data["mode"],
            course=data["course"].strip(),
            quiz_score=data.get("quiz_score"),
        )
        if e.mode == "online":
            e.status, e.started_at, e.last_heartbeat_at, e.heartbeats, e.intervals = "active", now, now, 1, []
            s.add(e)
            s.flush()
        else:
            _log_offline(s, actor, subject, e, data, now)
        audit.record(
            s,
            "education.create",
            actor=actor,
            target_type="education_session",
            target_id=e.id,
            details={"mode": e.mode, "status": e.status},
        )
    return e


def _log_offline(s: Session, actor: Actor, subject: Subject, e: EducationSession, data: dict, now: datetime) -> None:
    start, end = data.get("started_at"), data.get("ended_at")
    if start is None or end is None or end <= start or end - start > MAX_OFFLINE_SPAN:
        raise DomainError("EDU_SPAN_INVALID", {"ended_at": ["after started_at, within 24 hours"]})
    if end > now + timedelta(minutes=10) or start < now - MAX_OFFLINE_AGE:
        raise DomainError("EDU_SPAN_INVALID", {"started_at": ["not in the future, at most 31 days ago"]})
    span_minutes = int((end - start).total_seconds() // 60)
    minutes = data.get("minutes") or span_minutes
    if minutes > span_minutes:
        raise DomainError("EDU_MINUTES_EXCEED_SPAN", {"minutes": [f"at most {span_minutes}"]})
    if not data.get("upload_id"):
        raise DomainError("EDU_PHOTO_REQUIRED", {"upload_id": ["required for offline and group sessions"]})
    e.status, e.started_at, e.ended_at, e.claimed_minutes = "pending", start, end, minutes
    e.intervals = [[_iso(start), _iso(start + timedelta(minutes=minutes))]]
    e.credited_seconds, e.upload_id, e.due_at = minutes * 60, data["upload_id"], now + DUE
    s.add(e)
    s.flush()
    claim = Claim(start + (end - start) / 2, data.get("latitude"), data.get("longitude"))
    attachments.attach(
        s, actor, e.upload_id, subject_id=subject.id, record_type="education_session", record_id=e.id, claim=claim
    )
    if subject.officer_id is not None:
        notify(s, subject.officer_id, "education_to_verify", "有线下学习记录待核实", subject.name, {"session_id": e.id})


def heartbeat(actor: Actor, session_id: int, data: dict) -> EducationSession:
    """Count the time since the last heartbeat if it is at most 120 s; ``ended`` closes the session."""
    access.require(actor, "education.self")
    now = periods.now()
    with db.tx() as s:
        e = s.scalar(
            select(EducationSession)
            .where(EducationSession.id == session_id, EducationSession.subject_id == (actor.subject_id or -1))
            .with_for_update()
        )
        if e is None:
            raise NotFound("education_session")
        if e.mode != "online":
            raise DomainError("EDU_NOT_ONLINE")
        if e.status != "active":
            raise DomainError("EDU_SESSION_ENDED")
        last = e.last_heartbeat_at or e.started_at
        if timedelta(0) < now - last <= MAX_GAP:
            intervals = [list(i) for i in e.intervals]
            if intervals and intervals[-1][1] == _iso(last):
                intervals[-1][1] = _iso(now)
            else:
                intervals.append([_iso(last), _iso(now)])
            e.intervals = intervals
            e.credited_seconds = int(sum((_parse(b) - _parse(a)).total_seconds() for a, b in intervals))
        e.last_heartbeat_at = max(last, now)
        e.heartbeats += 1
        if data.get("quiz_score") is not None:
            e.quiz_score = data["quiz_score"]
        if data.get("ended"):
            ONLINE_STATES.apply(e, "ended")
            e.ended_at = e.last_heartbeat_at
    return e


def _parse(v: str) -> datetime:
    return datetime.fromisoformat(v)


def verify(actor: Actor, session_id: int, decision: str, note: str | None) -> EducationSession:
    """Confirm (it counts) or reject (with a reason) an offline or group session; a repeat returns it."""
    access.require(actor, "education.verify")
    target = {"confirm": "verified", "reject": "rejected"}[decision]
    with db.tx() as s:
        e = s.scalar(
            select(EducationSession)
            .join(Subject, Subject.id == EducationSession.subject_id)
            .where(EducationSession.id == session_id, access.subject_scope(actor))
            .with_for_update(of=EducationSession)
        )
        if e is None:
            raise NotFound("education_session")
        if e.mode == "online":
            raise DomainError("EDU_NOT_OFFLINE")
        if e.status == target:
            return e
        note = (note or "").strip() or None
        if target == "rejected" and note is None:
            raise DomainError("DECISION_NOTE_REQUIRED", {"note": ["required"]})
        OFFLINE_STATES.apply(e, target)
        e.verified_by, e.verified_at, e.verification_note, e.due_at = actor.user_id, periods.now(), note, None
        audit.record(s, f"education.{target}", actor=actor, target_type="education_session", target_id=e.id)
        subject = s.get(Subject, e.subject_id)
        title = "您的线下学习记录已核实" if target == "verified" else "您的线下学习记录未通过核实"
        notify(s, subject.user_id, "education_verified", title, note or "", {"session_id": e.id, "status": target})
    return e


def per_day(intervals: list[tuple[datetime, datetime]], cap: int | None = DAILY_CAP_S) -> dict[date, int]:
    """Seconds per Shanghai day of the union of the intervals, each day capped (default 4 h)."""
    merged: list[list[datetime]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        elif b > a:
            merged.append([a, b])
    out: dict[date, float] = defaultdict(float)
    for a, b in merged:
        while a < b:
            day = periods.local_date(a)
            cut = min(b, periods.local_midnight(day + timedelta(days=1)))
            out[day] += (cut - a).total_seconds()
            a = cut
    return {d: int(v) if cap is None else min(int(v), cap) for d, v in out.items()}


def sessions_query(subject_ids: Select | list[int], first: date, last: date) -> Select:
    """Sessions that may have counted time within [first, last] (Shanghai dates)."""
    lo, hi = periods.local_midnight(first), periods.local_midnight(last + timedelta(days=1))
    seen = func.coalesce(EducationSession.last_heartbeat_at, EducationSession.ended_at, EducationSession.started_at)
    return (
        select(EducationSession)
        .where(EducationSession.subject_id.in_(subject_ids), EducationSession.started_at < hi, seen >= lo)
        .order_by(EducationSession.subject_id, EducationSession.id)
    )


def counted(
    sessions: list[EducationSession], first: date, last: date, cap_s: int = DAILY_CAP_S
) -> tuple[int, int, dict[date, int]]:
    """(counted seconds, seconds awaiting verification, counted seconds per day) within [first, last]."""
    ok, pending = [], []
    for e in sessions:
        spans = [(_parse(a), _parse(b)) for a, b in e.intervals]
        if e.mode == "online" or e.status == "verified":
            ok += spans
        elif e.status == "pending":
            pending += spans
    days = {d: v for d, v in per_day(ok, cap_s).items() if first <= d <= last}
    waiting = sum(v for d, v in per_day(pending, cap=None).items() if first <= d <= last)
    return sum(days.values()), waiting, days


def required_minutes(subject: Subject, month: str, hours: dict[str, int] = REQUIRED_HOURS) -> int:
    """The month's requirement by level, prorated by the days in correction in a partial first or last month."""
    first, last = periods.month_bounds(month)
    lo, hi = max(first, subject.start_date), min(last, subject.end_date)
    if hi < lo:
        return 0
    total = (last - first).days + 1
    return round(hours.get(subject.supervision_level, 8) * 60 * ((hi - lo).days + 1) / total)


def summary(actor: Actor, month: str | None) -> dict:
    """My hours in a month (default: this one) against the requirement, per day, and what awaits verification."""
    access.require(actor, "education.self")
    s = db.session
    subject = own_subject(s, actor)
    month = month or periods.month_of(periods.now())
    first, last = periods.month_bounds(month)
    sessions = list(s.scalars(sessions_query([subject.id], first, last)))
    p = policy.policy(s)
    seconds, waiting, days = counted(sessions, first, last, p.education_daily_cap_hours * 3600)
    required = required_minutes(subject, month, p.education_hours)
    minutes = seconds // 60
    return {
        "month": month,
        "required_minutes": required,
        "counted_minutes": minutes,
        "pending_minutes": waiting // 60,
        "remaining_minutes": max(0, required - minutes),
        "met": minutes >= required,
        "daily_cap_minutes": p.education_daily_cap_hours * 60,
        "days": [{"date": d, "minutes": v // 60} for d, v in sorted(days.items())],
    }


def list_own(actor: Actor, args: dict) -> Select:
    access.require(actor, "education.self")
    stmt = select(EducationSession).where(EducationSession.subject_id == (actor.subject_id or -1))
    for key in ("status", "mode"):
        if args.get(key):
            stmt = stmt.where(getattr(EducationSession, key) == args[key])
    return stmt.order_by(EducationSession.id.desc())
