"""Staff decisions on requests (approve, reject, recommend, revoke) and the transfer after a residence change.

Each decision runs in one transaction with the request row locked: the state machine of
``activities.requests`` is enforced (illegal → 409), the decider must be the role the request is routed to
(docs/requests.md#decisions), the limits are checked again at approval (another leave may have been approved meanwhile),
the decision is audited and the subject notified. Repeating the decision the request already carries
returns it unchanged (200).

Escalation (docs/requests.md#escalation): a bureau user of the district may approve or reject a request still
pending with the officer once its due time has passed; the decision records the escalation (an
``escalations`` row: who, since when overdue; ``escalated`` in the audit row). A pending or recommended
request whose start date has passed is ``expired`` (docs/requests.md#expiry): by the job ``request_expiry``
(``scheduled_expiry``) and at a decision, which then answers REQUEST_EXPIRED.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import DomainError, NotFound, register
from backend.models import OrgUnit, Subject, SubjectChange, User, UserUnit
from backend.models.escalation import Escalation
from backend.models.request import SubjectRequest
from backend.services.activities import periods, policy
from backend.services.activities.requests import REQUEST_STATES, check_leave_limits
from backend.services.core import audit
from backend.services.core.actors import SYSTEM, Actor
from backend.services.core.notifications import notify
from backend.services.identity import access

register("TRANSFER_NOT_APPROVED", 422, "没有已批准的执行地变更申请", "No approved residence change for this subject")
register(
    "TRANSFER_OTHER_DISTRICT",
    422,
    "迁往其他区县须由接收地社区矫正机构办理入矫",
    "A move to another district is not a transfer: the receiving district must enrol the subject",
)

TARGETS = {"approve": "approved", "reject": "rejected", "recommend": "recommended", "revoke": "revoked"}
TWO_STAGE = ("leave_long", "residence_change", "restricted_place")
#: requests still awaiting a decision: these expire once their start date has passed
OPEN = ("pending", "recommended")
TITLES = {
    "approved": "您的申请已批准",
    "rejected": "您的申请未获批准",
    "recommended": "您的申请已呈报县级社区矫正机构审批",
    "revoked": "您的外出批准已撤销",
}
access.allow("subject.transfer", access.STAFF)


def _load(s: Session, actor: Actor, request_id: int) -> tuple[SubjectRequest, Subject]:
    row = s.execute(
        select(SubjectRequest, Subject)
        .join(Subject, Subject.id == SubjectRequest.subject_id)
        .where(SubjectRequest.id == request_id, access.subject_scope(actor))
        .with_for_update(of=SubjectRequest)
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise NotFound("request")
    return row[0], row[1]


def _note(note: str | None, required: bool) -> str | None:
    note = (note or "").strip() or None
    if required and note is None:
        raise DomainError("DECISION_NOTE_REQUIRED", {"note": ["required"]})
    return note


def overdue_since(actor: Actor, r: SubjectRequest, now: datetime) -> datetime | None:
    """The missed due time when a bureau user decides a request still pending with the officer, else None.

    docs/requests.md#escalation: the bureau may decide an officer's request once it is overdue (the scope of
    ``_load`` keeps it to the bureau's own district).
    """
    if actor.role != "bureau" or r.status != "pending" or r.decider_role != "officer":
        return None
    return r.due_at if r.due_at is not None and r.due_at < now else None


def _check_route(actor: Actor, r: SubjectRequest, target: str, escalated: bool = False) -> None:
    """The actor's role must be the one the request awaits; the officer may only recommend a two-stage one."""
    if target == "recommended":
        if r.route not in TWO_STAGE:
            raise DomainError("RECOMMEND_NOT_NEEDED")
        if r.status == "pending" and actor.role != "officer":
            raise DomainError("NOT_THE_DECIDER", {"decider_role": ["officer"]})
        return
    if escalated:  # overdue with the officer: the bureau approves or rejects it itself, one stage or two
        return
    if r.decider_role is None or actor.role == r.decider_role:
        if target == "approved" and r.status == "pending" and r.route in TWO_STAGE:
            raise DomainError("BUREAU_DECIDES")
        return
    raise DomainError("NOT_THE_DECIDER", context={"decider_role": r.decider_role})


def _revoke(r: SubjectRequest, actor: Actor) -> None:
    if r.status == "approved" and r.start_date <= periods.local_date(periods.now()):
        raise DomainError("REVOKE_TOO_LATE")
    if r.status == "approved" and not r.auto_approved and r.route in TWO_STAGE and actor.role != "bureau":
        raise DomainError("NOT_THE_DECIDER", {"decider_role": ["bureau"]})


def decide(actor: Actor, request_id: int, decision: str, note: str | None) -> SubjectRequest:
    """Approve, reject, recommend (to the bureau) or revoke (an approved leave before it starts).

    A request whose start date has passed is expired here (committed) and the decision refused with
    REQUEST_EXPIRED; a bureau user deciding an overdue officer request records the escalation.
    """
    access.require(actor, "request.decide")
    target = TARGETS[decision]
    now = periods.now()
    with db.tx() as s:
        r, subject = _load(s, actor, request_id)
        if r.status == target:
            return r
        lapsed = r.status == "expired" or _expire_if_due(s, r, subject, periods.local_date(now), by=actor)
        if not lapsed:
            _apply(s, actor, r, subject, decision, note, now)
    if lapsed:  # after the commit: the expiry stays recorded
        raise DomainError("REQUEST_EXPIRED", context={"start_date": r.start_date.isoformat(), "status": r.status})
    return r


def _apply(
    s: Session, actor: Actor, r: SubjectRequest, subject: Subject, decision: str, note: str | None, now: datetime
) -> None:
    """The decision on the locked request: checks, the new state, escalation, audit, the subject notified."""
    target = TARGETS[decision]
    REQUEST_STATES.check(r.status, target)
    since = overdue_since(actor, r, now) if target in ("approved", "rejected") else None
    if target == "revoked":
        _revoke(r, actor)
    else:
        _check_route(actor, r, target, escalated=since is not None)
    note = _note(note, required=target in ("rejected", "revoked"))
    if target == "approved" and r.type == "leave":
        check_leave_limits(s, r, for_approval=True)
    previous = REQUEST_STATES.apply(r, target)
    if target == "recommended":
        r.recommended_by, r.recommended_at, r.recommend_note = actor.user_id, now, note
        due = timedelta(days=policy.policy(s).decision_due_days)
        r.decider_role, r.due_at = access.decider_role(r.route, 1), now + due
        _tell_bureau(s, subject, r)
    else:
        if target != "revoked":
            r.decided_by, r.decided_at = actor.user_id, now
        r.decision_note = note if target != "revoked" else f"撤销:{note}"
        r.decider_role, r.due_at = None, None
    details = {"from": previous, "to": target, "type": r.type, "subject_id": subject.id, "note": note}
    if since is not None:
        _record_escalation(s, actor, r, subject, target, since, now)
        details |= {"escalated": True, "from_role": "officer", "overdue_since": since.isoformat()}
    audit.record(s, f"request.{decision}", actor=actor, target_type="request", target_id=r.id, details=details)
    data = {"request_id": r.id, "type": r.type, "status": r.status}
    notify(s, subject.user_id, "request_decided", TITLES[target], note or "", data=data)


def _record_escalation(
    s: Session, actor: Actor, r: SubjectRequest, subject: Subject, target: str, since: datetime, now: datetime
) -> None:
    """The escalation on the decision's record (docs/requests.md#escalation); the officer hears of it."""
    s.add(
        Escalation(
            item_kind="request",
            item_id=r.id,
            subject_id=subject.id,
            office_id=subject.office_id,
            decided_by=actor.user_id,
            from_role="officer",
            decision=target,
            overdue_since=since,
            decided_at=now,
        )
    )
    if subject.officer_id is not None:
        body = f"{subject.name}:{r.destination}"
        data = {"request_id": r.id, "status": target, "overdue_since": since.isoformat()}
        notify(s, subject.officer_id, "request_escalated", "超期申请已由县级社区矫正机构决定", body, data=data)


# --- expiry (docs/requests.md#expiry) --------------------------------------------------------------------------


def _expire_if_due(s: Session, r: SubjectRequest, subject: Subject, today: date, *, by: Actor | None = None) -> bool:
    """Expire an open request whose start date is before ``today``: state, subject notified; True if it did."""
    if r.status not in OPEN or r.start_date >= today:
        return False
    previous = REQUEST_STATES.apply(r, "expired")
    r.decider_role, r.due_at = None, None
    if by is not None:  # found at a decision: audited on its own (the job writes one row per run)
        details = {"from": previous, "start_date": r.start_date.isoformat(), "found_by": by.user_id}
        audit.record(s, "request.expire", actor=SYSTEM, target_type="request", target_id=r.id, details=details)
    data = {"request_id": r.id, "type": r.type, "status": r.status, "start_date": r.start_date.isoformat()}
    notify(s, subject.user_id, "request_expired", "您的申请已过开始日期,已失效", r.destination, data=data)
    return True


def run_expiry(fire_at: datetime) -> dict:
    """Expire every pending or recommended request whose start date is before the fire time's day (Shanghai).

    Idempotent: only open requests move, so a rerun or a catch-up expires nothing twice. One audit row per run.
    """
    today = periods.local_date(fire_at)
    with db.tx() as s:
        rows = s.execute(
            select(SubjectRequest, Subject)
            .join(Subject, Subject.id == SubjectRequest.subject_id)
            .where(SubjectRequest.status.in_(OPEN), SubjectRequest.start_date < today)
            .order_by(SubjectRequest.id)
            .with_for_update(of=SubjectRequest)
        ).all()
        expired = [r.id for r, subject in rows if _expire_if_due(s, r, subject, today)]
        if expired:
            audit.record_bulk(s, "request.expire", expired, details={"before": today.isoformat()})
    return {"expired": len(expired)}


def scheduled_expiry(period_start: datetime) -> dict:
    """The ``request_expiry`` schedule: one period's expiry at its fire time."""
    return run_expiry(period_start)


def _tell_bureau(s: Session, subject: Subject, r: SubjectRequest) -> None:
    office = s.get(OrgUnit, subject.office_id)
    bureau = s.scalars(
        select(User.id)
        .join(UserUnit, UserUnit.user_id == User.id)
        .where(UserUnit.org_unit_id == office.parent_id, User.role == "bureau", User.active.is_(True))
    ).all()
    for user_id in bureau:
        notify(
            s,
            user_id,
            "request_recommended",
            "有呈报的申请待审批",
            f"{subject.name}:{r.destination}",
            {"request_id": r.id},
        )


def _change(s: Session, subject: Subject, field: str, new: object, actor: Actor, reason: str) -> dict | None:
    old = getattr(subject, field)
    if old == new:
        return None
    setattr(subject, field, new)
    s.add(
        SubjectChange(
            subject_id=subject.id,
            field=field,
            old_value=None if old is None else str(old),
            new_value=None if new is None else str(new),
            reason=reason,
            changed_by=actor.user_id,
        )
    )
    return {"from": old, "to": new}


def _check_target(s: Session, office_id: int, grid_id: int, officer_id: int | None) -> None:
    office, grid = s.get(OrgUnit, office_id), s.get(OrgUnit, grid_id)
    if office is None or office.level != "office":
        raise DomainError("ORG_UNIT_INVALID", {"office_id": ["not an office"]})
    if grid is None or grid.level != "grid" or grid.parent_id != office_id:
        raise DomainError("ORG_UNIT_INVALID", {"grid_id": ["not a grid of this office"]})
    if officer_id is not None:
        ok = s.scalar(
            select(User.id)
            .join(UserUnit, UserUnit.user_id == User.id)
            .where(User.id == officer_id, User.role == "officer", UserUnit.org_unit_id == office_id)
        )
        if ok is None:
            raise DomainError("OFFICER_INVALID")


def _check_district(s: Session, actor: Actor, subject: Subject, r: SubjectRequest, office_id: int) -> None:
    """The move stays in the subject's district, which is the approved destination, and the caller can see the office.

    docs/requests.md#residence-change-and-transfer: a move to another district (the target office's, or the
    request's destination district) is refused with TRANSFER_OTHER_DISTRICT; an office outside the caller's
    area is ORG_UNIT_INVALID, as at enrolment.
    """
    district_id = s.get(OrgUnit, subject.office_id).parent_id
    target_district = s.get(OrgUnit, office_id).parent_id
    destination = r.destination_district_id
    if target_district != district_id or (destination is not None and destination != district_id):
        raise DomainError(
            "TRANSFER_OTHER_DISTRICT",
            {"office_id": ["in another district than the subject's"]},
            context={
                "district_id": district_id,
                "office_district_id": target_district,
                "destination_district_id": destination,
            },
        )
    if not access.office_in_scope(s, actor, office_id):
        raise DomainError("ORG_UNIT_INVALID", {"office_id": ["not an office in your jurisdiction"]})


def transfer(actor: Actor, subject_id: int, data: dict) -> Subject:
    """Carry out an approved residence change: move the subject to the new office and grid, history kept."""
    access.require(actor, "subject.transfer")
    with db.tx() as s:
        subject = access.get_subject(s, actor, subject_id)
        if subject.status != "in_correction":
            raise DomainError("SUBJECT_RELEASED")
        r = s.scalar(
            select(SubjectRequest)
            .where(SubjectRequest.id == data["request_id"], SubjectRequest.subject_id == subject.id)
            .with_for_update()
        )
        if r is not None and r.type == "residence_change" and r.status == "completed":
            return subject  # carried out already: a retried transfer changes nothing
        if r is None or r.type != "residence_change" or r.status != "approved":
            raise DomainError("TRANSFER_NOT_APPROVED", {"request_id": [str(data["request_id"])]})
        officer_id = data.get("officer_id")
        _check_target(s, data["office_id"], data["grid_id"], officer_id)
        _check_district(s, actor, subject, r, data["office_id"])
        reason = f"执行地变更(申请 {r.id})"
        old_office = subject.office_id
        changes = {
            f: c
            for f, v in (("office_id", data["office_id"]), ("grid_id", data["grid_id"]), ("officer_id", officer_id))
            if (c := _change(s, subject, f, v, actor, reason)) is not None
        }
        REQUEST_STATES.apply(r, "completed")
        r.completed_at = periods.now()
        for pending in s.scalars(
            select(SubjectRequest).where(
                SubjectRequest.subject_id == subject.id, SubjectRequest.status.in_(("pending", "recommended"))
            )
        ):
            pending.office_id = subject.office_id  # open requests follow the subject to the new office
        audit.record(
            s,
            "subject.transfer",
            actor=actor,
            target_type="subject",
            target_id=subject.id,
            details={
                "request_id": r.id,
                "from_office": old_office,
                "changes": {k: v["to"] for k, v in changes.items()},
            },
        )
        notify(s, subject.user_id, "subject_transferred", "您的执行地已变更", r.destination, {"request_id": r.id})
        if officer_id is not None:
            notify(s, officer_id, "subject_transferred_in", "有矫正对象转入", subject.name, {"subject_id": subject.id})
    return subject
