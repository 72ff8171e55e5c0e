"""Community service (公益活动): reports with photos, verified by an officer → SERVICE_HOUR.

Rules: docs/education-and-service.md#community-service.

A subject reports their own service (an organisation or a witness is required); a grid worker reports
service observed in the field, which counts as witnessed (by them) and still needs the officer. State
machine ``service_report``: pending → verified | rejected (with a reason). Verification emits SERVICE_HOUR
with the report's minutes: the ledger grants whole hours, carries the minutes within the month and applies
the monthly cap; the event's source ("service_report", id) makes a repeated verification emit nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import DomainError, NotFound, register
from backend.models import Subject
from backend.models.service import ServiceReport
from backend.services.activities import periods
from backend.services.activities.checkins import own_subject
from backend.services.core import audit, rowlocks
from backend.services.core.actors import Actor
from backend.services.core.notifications import notify
from backend.services.core.statemachine import StateMachine
from backend.services.evidence import attachments
from backend.services.identity import access
from backend.services.scoring import emit_event
from media.claims import Claim

SERVICE_STATES = StateMachine(
    "service_report", {"pending": {"verified", "rejected"}, "verified": set(), "rejected": set()}, "pending"
)
DUE = timedelta(days=3)
MAX_SPAN = timedelta(hours=24)
MAX_AGE = timedelta(days=31)

for _c in [
    ("SERVICE_PHOTO_REQUIRED", 422, "公益活动须至少上传一张照片", "Community service needs at least one photo"),
    ("SERVICE_WITNESS_REQUIRED", 422, "须填写组织单位或证明人", "Name the organisation or a witness"),
    ("SERVICE_SPAN_INVALID", 422, "活动起止时间不正确", "The service's start and end times are not valid"),
    ("SERVICE_HOURS_EXCEED_SPAN", 422, "服务时长不能超过活动起止时间", "The hours exceed the service's time span"),
    ("SERVICE_OVERLAP", 422, "与已有的公益活动记录时间重叠", "The service overlaps another report of the subject"),
]:
    register(*_c)

access.allow("service.self", {"subject"})
access.allow("service.observe", {"grid_worker"})
access.allow("service.verify", {"officer"})


def _validate(data: dict, now: datetime, *, witnessed: bool) -> int:
    start, end = data["started_at"], data["ended_at"]
    if end <= start or end - start > MAX_SPAN:
        raise DomainError("SERVICE_SPAN_INVALID", {"ended_at": ["after started_at, within 24 hours"]})
    if end > now + timedelta(minutes=10) or start < now - MAX_AGE:
        raise DomainError("SERVICE_SPAN_INVALID", {"started_at": ["not in the future, at most 31 days ago"]})
    minutes = round(float(data["hours"]) * 60)
    if minutes > (end - start).total_seconds() / 60:
        raise DomainError("SERVICE_HOURS_EXCEED_SPAN", {"hours": ["more than the time span"]})
    if not data.get("upload_ids"):
        raise DomainError("SERVICE_PHOTO_REQUIRED", {"upload_ids": ["at least one"]})
    if not witnessed and not (data.get("organisation") or "").strip() and not (data.get("witness_name") or "").strip():
        raise DomainError("SERVICE_WITNESS_REQUIRED", {"organisation": ["or witness_name"]})
    return minutes


def _overlapping(s: Session, subject_id: int, data: dict) -> list[ServiceReport]:
    """The subject's reports that still count or may (not rejected) and overlap the new span, oldest first."""
    return list(
        s.scalars(
            select(ServiceReport)
            .where(
                ServiceReport.subject_id == subject_id,
                ServiceReport.status != "rejected",
                ServiceReport.started_at < data["ended_at"],
                ServiceReport.ended_at > data["started_at"],
            )
            .order_by(ServiceReport.id)
        )
    )


def _same_activity(r: ServiceReport, data: dict) -> bool:
    return r.source == "subject" and r.activity_type.casefold() == data["activity_type"].strip().casefold()


def _witness(s: Session, actor: Actor, r: ServiceReport, data: dict) -> ServiceReport:
    """A grid worker's observation of a service the subject reported: it witnesses that report, counts nothing.

    The worker's photos join the report; the first worker to witness it is recorded (docs/education-and-service.md
    #overlapping-reports).
    """
    claim = Claim(r.started_at + (r.ended_at - r.started_at) / 2, data.get("latitude"), data.get("longitude"))
    added = [u for u in dict.fromkeys(data["upload_ids"]) if u not in r.upload_ids]
    for upload_id in added:
        attachments.attach(
            s, actor, upload_id, subject_id=r.subject_id, record_type="service_report", record_id=r.id, claim=claim
        )
    if added:
        r.upload_ids = [*r.upload_ids, *added]
    first = r.witnessed_by is None
    if first:
        r.witnessed_by = actor.user_id
    if added or first:
        details = {"subject_id": r.subject_id, "upload_ids": added}
        audit.record(
            s, "service_report.witness", actor=actor, target_type="service_report", target_id=r.id, details=details
        )
    return r


def _create(s: Session, actor: Actor, subject: Subject, data: dict, source: str) -> ServiceReport:
    now = periods.now()
    if data.get("client_id"):
        found = s.scalar(
            select(ServiceReport).where(
                ServiceReport.reported_by == actor.user_id, ServiceReport.client_id == data["client_id"]
            )
        )
        if found is not None:
            return found
    minutes = _validate(data, now, witnessed=source == "grid_worker")
    rowlocks.lock(s, Subject, subject.id)  # two overlapping reports at once: the second one sees the first
    overlaps = _overlapping(s, subject.id, data)
    if source == "grid_worker":
        same = next((r for r in overlaps if _same_activity(r, data)), None)
        if same is not None:
            return _witness(s, actor, same, data)
    if overlaps:
        other = overlaps[0]
        raise DomainError(
            "SERVICE_OVERLAP",
            {"started_at": [f"overlaps service report {other.id}"]},
            context={
                "report_id": other.id,
                "started_at": other.started_at.isoformat(),
                "ended_at": other.ended_at.isoformat(),
            },
        )
    ids = list(dict.fromkeys(data["upload_ids"]))
    r = ServiceReport(
        subject_id=subject.id,
        office_id=subject.office_id,
        reported_by=actor.user_id,
        source=source,
        client_id=data.get("client_id"),
        activity_type=data["activity_type"].strip(),
        started_at=data["started_at"],
        ended_at=data["ended_at"],
        place=data["place"].strip(),
        latitude=data.get("latitude"),
        longitude=data.get("longitude"),
        organisation=(data.get("organisation") or "").strip() or None,
        witness_name=(data.get("witness_name") or "").strip() or None,
        witness_phone=data.get("witness_phone"),
        witnessed_by=actor.user_id if source == "grid_worker" else None,
        minutes=minutes,
        description=data.get("description"),
        upload_ids=ids,
        status="pending",
        due_at=now + DUE,
    )
    s.add(r)
    s.flush()
    claim = Claim(r.started_at + (r.ended_at - r.started_at) / 2, r.latitude, r.longitude)
    for upload_id in ids:
        attachments.attach(
            s, actor, upload_id, subject_id=subject.id, record_type="service_report", record_id=r.id, claim=claim
        )
    audit.record(
        s,
        "service_report.create",
        actor=actor,
        target_type="service_report",
        target_id=r.id,
        details={"subject_id": subject.id, "source": source, "minutes": minutes},
    )
    if subject.officer_id is not None:
        notify(s, subject.officer_id, "service_to_verify", "有公益活动记录待核实", subject.name, {"report_id": r.id})
    return r


def create_own(actor: Actor, data: dict) -> ServiceReport:
    """Report my community service (photos, organisation or witness, hours within the span)."""
    access.require(actor, "service.self")
    with db.tx() as s:
        return _create(s, actor, own_subject(s, actor), data, "subject")


def create_observed(actor: Actor, data: dict) -> ServiceReport:
    """A grid worker reports service observed in the field for a subject of their grids (counts as witnessed)."""
    access.require(actor, "service.observe")
    with db.tx() as s:
        subject = access.get_subject(s, actor, data["subject_id"])
        if subject.status != "in_correction":
            raise DomainError("SUBJECT_RELEASED")
        return _create(s, actor, subject, data, "grid_worker")


def verify(actor: Actor, report_id: int, decision: str, note: str | None) -> ServiceReport:
    """Verify (→ SERVICE_HOUR for the minutes) or reject with a reason; a repeat returns the report."""
    access.require(actor, "service.verify")
    target = {"verify": "verified", "reject": "rejected"}[decision]
    with db.tx() as s:
        r = s.scalar(
            select(ServiceReport)
            .join(Subject, Subject.id == ServiceReport.subject_id)
            .where(ServiceReport.id == report_id, access.subject_scope(actor))
            .with_for_update(of=ServiceReport)
        )
        if r is None:
            raise NotFound("service_report")
        if r.status == target:
            return r
        note = (note or "").strip() or None
        if target == "rejected" and note is None:
            raise DomainError("DECISION_NOTE_REQUIRED", {"note": ["required"]})
        SERVICE_STATES.apply(r, target)
        r.verified_by, r.verified_at, r.verification_note, r.due_at = actor.user_id, periods.now(), note, None
        subject = s.get(Subject, r.subject_id)
        if target == "verified" and r.minutes > 0:
            reason = f"{r.activity_type}:{r.place}({r.minutes} 分钟)"
            r.event_id = emit_event(
                subject,
                "SERVICE_HOUR",
                "service_report",
                r.id,
                r.ended_at,
                quantity=r.minutes,
                reason=reason,
                confirmed_by=actor.user_id,
            ).event.id
        audit.record(s, f"service_report.{target}", actor=actor, target_type="service_report", target_id=r.id)
        title = "您的公益活动已核实" if target == "verified" else "您的公益活动未通过核实"
        notify(s, subject.user_id, "service_verified", title, note or "", {"report_id": r.id, "status": target})
    return r


def list_own(actor: Actor, args: dict) -> Select:
    access.require(actor, "service.self")
    stmt = select(ServiceReport).where(ServiceReport.subject_id == (actor.subject_id or -1))
    if args.get("status"):
        stmt = stmt.where(ServiceReport.status == args["status"])
    return stmt.order_by(ServiceReport.id.desc())


def staff_list_query(actor: Actor, subject_id: int, args: dict) -> Select:
    """A subject of the caller's jurisdiction: its community-service reports, newest first (404 outside it)."""
    access.require(actor, "subject.read")
    subject = access.get_subject(db.session, actor, subject_id)
    stmt = select(ServiceReport).where(ServiceReport.subject_id == subject.id)
    if args.get("status"):
        stmt = stmt.where(ServiceReport.status == args["status"])
    return stmt.order_by(ServiceReport.started_at.desc(), ServiceReport.id.desc())


def staff_get(actor: Actor, report_id: int) -> ServiceReport:
    """One community-service report of a subject in the caller's jurisdiction, else 404 (verification screen)."""
    access.require(actor, "subject.read")
    r = db.session.scalar(
        select(ServiceReport)
        .join(Subject, Subject.id == ServiceReport.subject_id)
        .where(ServiceReport.id == report_id, access.subject_scope(actor))
    )
    if r is None:
        raise NotFound("service report")
    return r
