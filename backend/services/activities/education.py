"""Education (修心教育 / 阳光教育): online sessions timed by server heartbeats, offline ones verified.

Rules: docs/education-and-service.md.

Online minutes come only from heartbeats the server receives (every 60 s): the time between two
heartbeats counts when it is at most 120 s, otherwise the clock stopped in between, so a session never
counts more than wall time. Offline and 集中教育 (``centralised``) sessions need a photo and an officer's
confirmation before they count. Across sessions overlapping time counts once, and at most 4 h a day
(Asia/Shanghai). State machines: ``education_online`` active → ended; ``education_offline`` pending →
verified | rejected.

A month's judgement (``judge_month`` / ``score_month``) is shared by the monthly job and by the
re-evaluation that a late confirmation triggers (``rescore_month``): confirming a session of a month
already scored writes through the ledger what the job would have written had it been confirmed in time
(docs/education-and-service.md#late-confirmation). The requirement is prorated by day over the level in
force on each day (``subjects.levels``, docs/education-and-service.md#monthly-requirement).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import DomainError, NotFound, register
from backend.models import Subject
from backend.models.education import EducationSession
from backend.models.scoring import ScoreEvent
from backend.services.activities import periods, policy
from backend.services.activities.checkins import own_subject
from backend.services.core import audit, rowlocks
from backend.services.core.actors import Actor
from backend.services.core.notifications import notify
from backend.services.core.statemachine import StateMachine
from backend.services.evidence import attachments
from backend.services.identity import access
from backend.services.scoring import emit_event, revoke_event
from backend.services.subjects import levels
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
#: the source kind of a month's events; the source id is "<subject>:<YYYY-MM>"
MONTH_SOURCE = "education_month"
MONTH_RULES = ("EDU_MONTH_MET", "EDU_MONTH_MISSED", "EDU_EXTRA_HOUR")

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
        # the subject's row first (docs/schedules.md#lock-order): the monthly job holds it while it judges
        # the subject's month, so a confirmation is either seen by the job or sees the job's events
        rowlocks.lock_subject_of(s, EducationSession, session_id)
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
        rescored = _rescore_after_confirmation(s, actor, subject, e) if target == "verified" else []
        title = "您的线下学习记录已核实" if target == "verified" else "您的线下学习记录未通过核实"
        body = " ".join([x for x in [note, *(r.get("notice") for r in rescored)] if x])
        data = {"session_id": e.id, "status": target}
        if rescored:
            data["rescored_months"] = [r["month"] for r in rescored if r["changed"]]
        notify(s, subject.user_id, "education_verified", title, body, data)
    return e


def _months_of(e: EducationSession) -> list[str]:
    """The calendar months (Shanghai) in which the session's counted time falls."""
    months: set[str] = set()
    for a, b in e.intervals:
        start, end = _parse(a), _parse(b)
        if end > start:
            months |= {periods.month_of(start), periods.month_of(end - timedelta(microseconds=1))}
    return sorted(months)


def _rescore_after_confirmation(s: Session, actor: Actor, subject: Subject, e: EducationSession) -> list[dict]:
    """Re-evaluate every month of the session that the monthly job has already scored (none: nothing)."""
    if subject.status != "in_correction":  # a released subject's score is frozen
        return []
    day = periods.local_date(periods.now())
    out = []
    for month in _months_of(e):
        why = f"线下学习记录 #{e.id} 于 {day.isoformat()} 核实,{month} 重新评定"
        result = rescore_month(s, subject, month, ref=f"education_session:{e.id}", why=why)
        if result is None:
            continue
        out.append(result)
        audit.record(
            s,
            "education.rescore",
            actor=actor,
            target_type="subject",
            target_id=subject.id,
            details={"session_id": e.id, **{k: v for k, v in result.items() if k != "notice"}},
        )
    return out


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


def required_minutes(
    subject: Subject,
    month: str,
    hours: dict[str, int] = REQUIRED_HOURS,
    level_on: Callable[[date], str] | None = None,
) -> int:
    """The month's requirement: each day in correction counts its level's hours ÷ the days in the month.

    ``level_on`` gives the level in force on a day (the level history); without it every day has the
    subject's current level. So a whole month at one level needs that level's hours, a partial first or
    last month is prorated, and a month with a level change is prorated between the two levels.
    """
    first, last = periods.month_bounds(month)
    lo, hi = max(first, subject.start_date), min(last, subject.end_date)
    if hi < lo:
        return 0
    total = (last - first).days + 1
    if level_on is None:
        return round(hours.get(subject.supervision_level, 8) * 60 * ((hi - lo).days + 1) / total)
    hour_days = sum(hours.get(level_on(lo + timedelta(days=n)), 8) for n in range((hi - lo).days + 1))
    return round(hour_days * 60 / total)


@dataclass(frozen=True)
class MonthResult:
    """A subject's education in a month against its requirement."""

    month: str
    required: int
    minutes: int

    @property
    def met(self) -> bool:
        return self.minutes >= self.required

    @property
    def extra(self) -> int:
        return max(0, self.minutes - self.required)

    @property
    def note(self) -> str:
        return f"{self.month} 学习 {self.minutes} 分钟,要求 {self.required} 分钟"


def judge_month(
    subject: Subject, sessions: list, month: str, p: policy.Policy, history: levels.LevelHistory
) -> MonthResult | None:
    """Counted minutes against the requirement (the level in force on each day); None: nothing required."""
    first, last = periods.month_bounds(month)
    required = required_minutes(subject, month, p.education_hours, history.on)
    if required <= 0:
        return None
    seconds, _pending, _days = counted(sessions, first, last, p.education_daily_cap_hours * 3600)
    return MonthResult(month, required, seconds // 60)


def month_end(month: str) -> datetime:
    """The last second of the month (Shanghai): the time a month's events are dated with."""
    _first, last = periods.month_bounds(month)
    return periods.local_midnight(last + timedelta(days=1)) - timedelta(seconds=1)


def month_name(month: str) -> str:
    """'2026-11' → '2026年11月': a notice names the month it is about, not 本月 (it may be read after it)."""
    year, number = month.split("-")
    return f"{year}年{int(number)}月"


def month_source_id(subject_id: int, month: str) -> str:
    return f"{subject_id}:{month}"


def score_month(subject: Subject, r: MonthResult) -> list[str]:
    """The monthly job's events for a judged month: MISSED, or MET and the extra minutes (one per source)."""
    at, source_id = month_end(r.month), month_source_id(subject.id, r.month)
    if not r.met:
        emit_event(subject, "EDU_MONTH_MISSED", MONTH_SOURCE, source_id, at, reason=r.note)
        return ["missed"]
    emit_event(subject, "EDU_MONTH_MET", MONTH_SOURCE, source_id, at, reason=r.note)
    if r.extra:
        emit_event(subject, "EDU_EXTRA_HOUR", MONTH_SOURCE, source_id, at, quantity=r.extra, reason=r.note)
        return ["met", "extra"]
    return ["met"]


def rescore_month(s: Session, subject: Subject, month: str, *, ref: str, why: str) -> dict | None:
    """Judge an already scored month again and bring its events to what the job would write now.

    None when the month has not been scored (no event of the month yet: the job will). Only ever in the
    subject's favour, since confirmed time only adds: a month now met has its EDU_MONTH_MISSED revoked
    (reference ``ref``, reason ``why``), EDU_MONTH_MET recorded, and EDU_EXTRA_HOUR for the extra minutes
    not yet recorded (the ledger's minute carry makes a top-up grant what one event would have). A month
    still short is left as it is. Running it again finds nothing to write.
    """
    source_id = month_source_id(subject.id, month)
    scored = list(
        s.scalars(
            select(ScoreEvent)
            .where(
                ScoreEvent.subject_id == subject.id,
                ScoreEvent.source_kind == MONTH_SOURCE,
                ScoreEvent.rule_code.in_(MONTH_RULES),
                ScoreEvent.month == month,
            )
            .order_by(ScoreEvent.id)
        )
    )
    if not scored:
        return None
    first, last = periods.month_bounds(month)
    sessions = list(s.scalars(sessions_query([subject.id], first, last)))
    r = judge_month(subject, sessions, month, policy.policy(s), levels.history_of(s, subject))
    if r is None:
        return None
    out = {"month": month, "minutes": r.minutes, "required": r.required, "met": r.met, "revoked": [], "emitted": []}
    if r.met:
        at, note = month_end(month), f"{r.note}({why})"
        for ev in scored:
            if ev.rule_code == "EDU_MONTH_MISSED" and ev.status != "revoked":
                revoke_event(s, ev.id, ref, reason=f"{r.note},已达标,撤销未达标扣分({why})")
                out["revoked"].append(ev.id)
        if not any(ev.rule_code == "EDU_MONTH_MET" for ev in scored):
            made = emit_event(subject, "EDU_MONTH_MET", MONTH_SOURCE, source_id, at, reason=note)
            out["emitted"] += [made.event.id] if made.created else []
        extras = [ev for ev in scored if ev.rule_code == "EDU_EXTRA_HOUR"]
        have = sum(ev.quantity for ev in extras if ev.status != "revoked")
        if r.extra > have:
            top_up = source_id if not extras else f"{source_id}:{ref}"[:64]
            made = emit_event(subject, "EDU_EXTRA_HOUR", MONTH_SOURCE, top_up, at, quantity=r.extra - have, reason=note)
            out["emitted"] += [made.event.id] if made.created else []
    out["changed"] = bool(out["revoked"] or out["emitted"])
    if out["changed"]:
        out["notice"] = f"{month_name(month)}学习 {r.minutes} 分钟,要求 {r.required} 分钟,已重新评定为达标。"
    return out


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
    required = required_minutes(subject, month, p.education_hours, levels.history_of(s, subject).on)
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


def staff_list_query(actor: Actor, subject_id: int, args: dict) -> Select:
    """A subject of the caller's jurisdiction: its learning sessions, newest first (404 outside it)."""
    access.require(actor, "subject.read")
    subject = access.get_subject(db.session, actor, subject_id)
    stmt = select(EducationSession).where(EducationSession.subject_id == subject.id)
    for key in ("status", "mode"):
        if args.get(key):
            stmt = stmt.where(getattr(EducationSession, key) == args[key])
    return stmt.order_by(EducationSession.started_at.desc(), EducationSession.id.desc())


def staff_get(actor: Actor, session_id: int) -> EducationSession:
    """One learning session of a subject in the caller's jurisdiction, else 404 (for the verification screen)."""
    access.require(actor, "subject.read")
    e = db.session.scalar(
        select(EducationSession)
        .join(Subject, Subject.id == EducationSession.subject_id)
        .where(EducationSession.id == session_id, access.subject_scope(actor))
    )
    if e is None:
        raise NotFound("education session")
    return e
