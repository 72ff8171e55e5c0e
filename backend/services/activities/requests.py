"""Requests (申请): leave, visitor, residence change, restricted place — limits, routing and the subject's side.

State machine ``subject_request`` (every decision is audited and notified):

    pending ──approve/reject (officer)──▶ approved / rejected
    pending ──recommend (officer)──▶ recommended ──approve/reject (bureau)──▶ approved / rejected
    pending, recommended ──cancel (subject)──▶ cancelled
    pending, recommended ──start date passed (job, or at a decision)──▶ expired
    approved ──revoke (before the start date)──▶ revoked
    approved ──return report──▶ returned;  approved ──no return by end + 24 h──▶ overdue ──return──▶ returned
    approved (residence change) ──transfer──▶ completed

Routing and due times follow docs/requests.md#routing-and-due-times (``access.DECISIONS``): a leave of up to
7 days, a visitor meeting: the officer, due in 3 days (1 day for the fast track of a blue grade); a longer
leave, a residence change, a restricted place: the officer recommends, the bureau decides. A green grade's
business leave of up to 7 days is approved at submission (audited, the officer notified, revocable before it
starts).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import DomainError, NotFound, register
from backend.models import OrgUnit, Subject
from backend.models.request import SubjectRequest
from backend.services.activities import geofence, grade_effects, periods
from backend.services.activities import policy as activity_policy
from backend.services.activities.checkins import own_subject
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.core.notifications import notify
from backend.services.core.statemachine import StateMachine
from backend.services.identity import access

REQUEST_STATES = StateMachine(
    "subject_request",
    {
        "pending": {"approved", "rejected", "recommended", "cancelled", "expired"},
        "recommended": {"approved", "rejected", "cancelled", "expired"},
        "approved": {"revoked", "returned", "overdue", "completed"},
        "overdue": {"returned"},
        "rejected": set(),
        "cancelled": set(),
        "revoked": set(),
        "returned": set(),
        "completed": set(),
        "expired": set(),
    },
    "pending",
)
ROUTES = {"visitor": "visitor", "residence_change": "residence_change", "restricted_place": "restricted_place"}
#: requests whose days count (or may yet count) toward the yearly limit; approved-like ones block overlaps
LIVE = ("pending", "recommended", "approved", "overdue", "returned")
IN_FORCE = ("approved", "overdue", "returned")

for _c in [
    ("END_BEFORE_START", 422, "结束日期不能早于开始日期", "The end date is before the start date"),
    ("START_IN_PAST", 422, "开始日期不能早于今天", "The start date is in the past"),
    ("LEAVE_TOO_LONG", 422, "外出时间超过三十日", "A leave may last at most 30 days"),
    ("LEAVE_YEAR_LIMIT", 422, "本年度外出累计超过六十日", "Leaves may add up to at most 60 days in a calendar year"),
    ("LEAVE_OVERLAP", 422, "与已批准的外出时间重叠", "The dates overlap an approved leave"),
    (
        "REQUEST_AFTER_CORRECTION_END",
        422,
        "申请日期超出社区矫正期限",
        "The dates run past the end of the correction period",
    ),
    ("DESTINATION_DISTRICT_INVALID", 422, "目的地区县不正确", "The destination district is not a known district"),
    ("BUREAU_DECIDES", 422, "该申请须呈报县级社区矫正机构审批", "The bureau decides this request: recommend it"),
    ("RECOMMEND_NOT_NEEDED", 422, "该申请由司法所直接审批,无需呈报", "The office decides this request itself"),
    ("REVOKE_TOO_LATE", 422, "外出已经开始,不能撤销", "The leave has started and can no longer be revoked"),
    ("NOT_THE_DECIDER", 422, "该事项应由其他人员决定", "Someone else decides this item"),
    ("DECISION_NOTE_REQUIRED", 422, "驳回须填写理由", "A reason is required for this decision"),
    ("REQUEST_EXPIRED", 422, "申请的开始日期已过,申请已失效", "The request's start date has passed: it has expired"),
]:
    register(*_c)

access.allow("request.self", {"subject"})
access.allow("request.decide", access.STAFF)
access.allow("request.list", access.STAFF)


def days_in(start: date, end: date, year: int) -> int:
    """Calendar days of [start, end] (both included) that fall in ``year``."""
    lo, hi = max(start, date(year, 1, 1)), min(end, date(year, 12, 31))
    return max(0, (hi - lo).days + 1)


def effective_end(r: SubjectRequest) -> date:
    """A leave's last day: its end date, or the day of an earlier return report."""
    if r.returned_at is not None:
        return min(r.end_date, periods.local_date(r.returned_at))
    return r.end_date


def check_leave_limits(session: Session, r: SubjectRequest, *, for_approval: bool = False) -> None:
    """LEAVE_TOO_LONG, LEAVE_OVERLAP with another approved leave, LEAVE_YEAR_LIMIT.

    Rules: docs/requests.md#dates-and-limits.
    """
    p = activity_policy.policy(session)
    if r.days > p.leave_max_days:
        raise DomainError("LEAVE_TOO_LONG", {"end_date": [f"at most {p.leave_max_days} days, got {r.days}"]})
    others = list(
        session.scalars(
            select(SubjectRequest).where(
                SubjectRequest.subject_id == r.subject_id,
                SubjectRequest.type == "leave",
                SubjectRequest.status.in_(LIVE),
                SubjectRequest.id != (r.id or -1),
            )
        )
    )
    for o in others:
        if o.status in IN_FORCE and o.start_date <= r.end_date and r.start_date <= effective_end(o):
            raise DomainError("LEAVE_OVERLAP", context={"request_id": o.id})
    if not r.counts_toward_limit:
        return
    counted = [o for o in others if o.counts_toward_limit and (o.status in IN_FORCE or not for_approval)]
    for year in range(r.start_date.year, r.end_date.year + 1):
        used = sum(days_in(o.start_date, effective_end(o), year) for o in counted)
        if used + days_in(r.start_date, r.end_date, year) > p.leave_year_max_days:
            raise DomainError("LEAVE_YEAR_LIMIT", context={"year": year, "used_days": used})


def _route(kind: str, days: int, short_days: int) -> str:
    if kind == "leave":
        return "leave_short" if days <= short_days else "leave_long"
    return ROUTES[kind]


def _check_dates(subject: Subject, start: date, end: date) -> None:
    if end < start:
        raise DomainError("END_BEFORE_START", {"end_date": ["before start_date"]})
    if start < periods.local_date(periods.now()):
        raise DomainError("START_IN_PAST", {"start_date": ["before today (Asia/Shanghai)"]})
    if end > subject.end_date:
        raise DomainError("REQUEST_AFTER_CORRECTION_END", {"end_date": [f"after {subject.end_date.isoformat()}"]})


def _destination(session: Session, data: dict) -> tuple[dict | None, int | None]:
    area = data.get("destination_area")
    if area is not None:
        geofence.validate_area(area, "destination_area")
    district_id = data.get("destination_district_id")
    if district_id is not None:
        unit = session.get(OrgUnit, district_id)
        if unit is None or unit.level != "district":
            raise DomainError("DESTINATION_DISTRICT_INVALID", {"destination_district_id": [str(district_id)]})
    return area, district_id


def create(actor: Actor, data: dict) -> SubjectRequest:
    """Submit a request; check the limits; route it (or approve a green-channel leave at once)."""
    access.require(actor, "request.self")
    now = periods.now()
    with db.tx() as s:
        subject = own_subject(s, actor)
        if data.get("client_id"):
            found = s.scalar(
                select(SubjectRequest).where(
                    SubjectRequest.subject_id == subject.id, SubjectRequest.client_id == data["client_id"]
                )
            )
            if found is not None:
                return found
        _check_dates(subject, data["start_date"], data["end_date"])
        area, district_id = _destination(s, data)
        effects = grade_effects.effects_of(s, subject.id)
        policy = activity_policy.policy(s)
        business = bool(data.get("business"))
        days = (data["end_date"] - data["start_date"]).days + 1
        exempt = business and bool({grade_effects.GREEN_CHANNEL, grade_effects.FAST_TRACK} & effects.benefits)
        r = SubjectRequest(
            subject_id=subject.id,
            office_id=subject.office_id,
            client_id=data.get("client_id"),
            type=data["type"],
            destination=data["destination"].strip(),
            destination_area=area,
            destination_district_id=district_id,
            reason=data["reason"].strip(),
            business=business,
            start_date=data["start_date"],
            end_date=data["end_date"],
            days=days,
            counts_toward_limit=data["type"] == "leave" and not exempt,
            route=_route(data["type"], days, policy.short_leave_days),
            grade_at_submission=effects.grade,
            status="pending",
            created_at=now,
        )
        if r.type == "leave":
            check_leave_limits(s, r)
        s.add(r)
        s.flush()
        green = r.route == "leave_short" and business and grade_effects.GREEN_CHANNEL in effects.benefits
        if green:
            _auto_approve(s, actor, subject, r)
        else:
            r.decider_role = access.decider_role(r.route, 0)
            fast = r.route == "leave_short" and grade_effects.FAST_TRACK in effects.benefits
            r.due_at = now + timedelta(days=policy.fast_track_due_days if fast else policy.decision_due_days)
            _tell_officer(s, subject, r, "request_submitted", "有新的申请待审批")
        audit.record(
            s,
            "request.create",
            actor=actor,
            target_type="request",
            target_id=r.id,
            details={"type": r.type, "days": r.days, "route": r.route, "status": r.status, "grade": effects.grade},
        )
    return r


def _auto_approve(s: Session, actor: Actor, subject: Subject, r: SubjectRequest) -> None:
    REQUEST_STATES.apply(r, "approved")
    r.auto_approved, r.decided_at, r.decider_role, r.due_at = True, periods.now(), None, None
    r.decision_note = "信用优秀绿色通道:生产经营外出自动批准"
    audit.record(
        s,
        "request.auto_approve",
        actor=actor,
        target_type="request",
        target_id=r.id,
        details={"grade": r.grade_at_submission},
    )
    _tell_officer(s, subject, r, "request_auto_approved", "绿色通道外出已自动批准,可在开始前撤销")
    notify(s, subject.user_id, "request_decided", "您的外出申请已批准(绿色通道)", data=_data(r))


def _data(r: SubjectRequest) -> dict:
    return {"request_id": r.id, "type": r.type, "status": r.status, "start_date": r.start_date.isoformat()}


def _tell_officer(s: Session, subject: Subject, r: SubjectRequest, kind: str, title: str) -> None:
    if subject.officer_id is not None:
        notify(s, subject.officer_id, kind, title, f"{subject.name}:{r.destination}", data=_data(r))


def cancel(actor: Actor, request_id: int) -> SubjectRequest:
    """Withdraw one of my requests while it awaits a decision; cancelling again changes nothing."""
    access.require(actor, "request.self")
    with db.tx() as s:
        r = get_own(s, actor, request_id, lock=True)
        if r.status == "cancelled":
            return r
        REQUEST_STATES.apply(r, "cancelled")
        r.cancelled_at, r.decider_role, r.due_at = periods.now(), None, None
        audit.record(s, "request.cancel", actor=actor, target_type="request", target_id=r.id)
    return r


def get_own(session: Session, actor: Actor, request_id: int, *, lock: bool = False) -> SubjectRequest:
    stmt = select(SubjectRequest).where(
        SubjectRequest.id == request_id, SubjectRequest.subject_id == (actor.subject_id or -1)
    )
    r = session.scalar(stmt.with_for_update() if lock else stmt)
    if r is None:
        raise NotFound("request")
    return r


def list_own(actor: Actor, args: dict) -> Select:
    """My requests, newest first, by status and type."""
    access.require(actor, "request.self")
    stmt = select(SubjectRequest).where(SubjectRequest.subject_id == (actor.subject_id or -1))
    return _filters(stmt, args).order_by(SubjectRequest.id.desc())


def list_staff(actor: Actor, args: dict) -> Select:
    """Requests of subjects in my jurisdiction; ``awaiting_me`` keeps those whose next decision is my role's."""
    access.require(actor, "request.list")
    stmt = (
        select(SubjectRequest).join(Subject, Subject.id == SubjectRequest.subject_id).where(access.subject_scope(actor))
    )
    if args.get("awaiting_me"):
        stmt = stmt.where(SubjectRequest.decider_role == actor.role)
    return _filters(stmt, args).order_by(SubjectRequest.due_at.is_(None), SubjectRequest.due_at, SubjectRequest.id)


def _filters(stmt: Select, args: dict) -> Select:
    for key in ("status", "type", "subject_id"):
        if args.get(key):
            stmt = stmt.where(getattr(SubjectRequest, key) == args[key])
    if args.get("date_from"):
        stmt = stmt.where(SubjectRequest.end_date >= args["date_from"])
    if args.get("date_to"):
        stmt = stmt.where(SubjectRequest.start_date <= args["date_to"])
    return stmt
