"""The inbox providers of the features that exist: one query per kind of work item (see ``inbox``).

Each returns the open items of its kind with ``inbox.COLUMNS``; the office is the subject's current one,
so a transferred subject's open items move with them. Routing by role and office is done by ``inbox``.
"""

from __future__ import annotations

from sqlalchemy import DateTime, Select, String, and_, cast, literal, null, select

from backend.db import db
from backend.models import Subject, Upload, Warning
from backend.models.education import EducationSession
from backend.models.field import FieldReport, Suggestion
from backend.models.request import SubjectRequest
from backend.models.scoring import ScoreEvent
from backend.models.scoring_decisions import Appeal, MeritApplication, ScoreAdjustment
from backend.models.service import ServiceReport
from backend.services.actors import Actor
from backend.services.field_sql import json_list_has_int
from backend.services.inbox import provider

#: warning kinds whose work item another provider lists (the upload review, the negative field report)
MIRRORED_WARNINGS = ("EVIDENCE_SUSPECT", "KEYWORD_HIGH")


def _officer() -> object:
    return literal("officer", type_=String)


@provider("request", "/api/v1/staff/requests/{id}/decision")
def requests(actor: Actor | None) -> Select:
    """Leave, visitor, residence-change and restricted-place requests awaiting a decision or a recommendation."""
    return (
        select(
            SubjectRequest.id.label("item_id"),
            SubjectRequest.subject_id,
            Subject.office_id,
            SubjectRequest.decider_role,
            SubjectRequest.due_at,
            SubjectRequest.created_at,
            SubjectRequest.type.label("subtype"),
            SubjectRequest.destination.label("title"),
        )
        .join(Subject, Subject.id == SubjectRequest.subject_id)
        .where(SubjectRequest.status.in_(("pending", "recommended")), SubjectRequest.decider_role.is_not(None))
    )


@provider("service_verification", "/api/v1/staff/service-reports/{id}/verification")
def service_reports(actor: Actor | None) -> Select:
    """Community service reports awaiting the officer's verification."""
    return (
        select(
            ServiceReport.id.label("item_id"),
            ServiceReport.subject_id,
            Subject.office_id,
            _officer().label("decider_role"),
            ServiceReport.due_at,
            ServiceReport.created_at,
            ServiceReport.source.label("subtype"),
            ServiceReport.activity_type.label("title"),
        )
        .join(Subject, Subject.id == ServiceReport.subject_id)
        .where(ServiceReport.status == "pending")
    )


@provider("education_verification", "/api/v1/staff/education-sessions/{id}/verification")
def education_sessions(actor: Actor | None) -> Select:
    """Offline and 集中教育 sessions awaiting the officer's confirmation."""
    return (
        select(
            EducationSession.id.label("item_id"),
            EducationSession.subject_id,
            Subject.office_id,
            _officer().label("decider_role"),
            EducationSession.due_at,
            EducationSession.created_at,
            EducationSession.mode.label("subtype"),
            EducationSession.course.label("title"),
        )
        .join(Subject, Subject.id == EducationSession.subject_id)
        .where(EducationSession.mode != "online", EducationSession.status == "pending")
    )


@provider("appeal", "/api/v1/staff/appeals/{id}/decision")
def appeals(actor: Actor | None) -> Select:
    """Pending appeals; an officer never sees one against an event they took part in."""
    stmt = (
        select(
            Appeal.id.label("item_id"),
            Appeal.subject_id,
            Subject.office_id,
            Appeal.decider_role,
            Appeal.due_at,
            Appeal.created_at,
            ScoreEvent.rule_code.label("subtype"),
            Appeal.reason.label("title"),
        )
        .join(Subject, Subject.id == Appeal.subject_id)
        .join(ScoreEvent, ScoreEvent.id == Appeal.event_id)
        .where(Appeal.status == "pending")
    )
    if actor is not None and actor.user_id is not None:
        stmt = stmt.where(~json_list_has_int(db.session, Appeal.excluded_user_ids, actor.user_id))
    return stmt


@provider("merit_application", "/api/v1/staff/merit-applications/{id}/decision")
def merit_applications(actor: Actor | None) -> Select:
    """我要加分 applications awaiting the officer (up to the limit) or the bureau."""
    return (
        select(
            MeritApplication.id.label("item_id"),
            MeritApplication.subject_id,
            Subject.office_id,
            MeritApplication.decider_role,
            MeritApplication.due_at,
            MeritApplication.created_at,
            MeritApplication.rule_code.label("subtype"),
            MeritApplication.description.label("title"),
        )
        .join(Subject, Subject.id == MeritApplication.subject_id)
        .where(MeritApplication.status == "pending")
    )


@provider("adjustment", "/api/v1/staff/adjustments/{id}/decision")
def adjustments(actor: Actor | None) -> Select:
    """Manual score corrections proposed by an officer, awaiting a bureau user's approval (no due time)."""
    return (
        select(
            ScoreAdjustment.id.label("item_id"),
            ScoreAdjustment.subject_id,
            Subject.office_id,
            literal("bureau", type_=String).label("decider_role"),
            cast(null(), DateTime(timezone=True)).label("due_at"),
            ScoreAdjustment.created_at,
            ScoreAdjustment.dimension.label("subtype"),
            ScoreAdjustment.reason.label("title"),
        )
        .join(Subject, Subject.id == ScoreAdjustment.subject_id)
        .where(ScoreAdjustment.status == "pending")
    )


@provider("suspect_evidence", "/api/v1/staff/uploads/{id}/review")
def suspect_evidence(actor: Actor | None) -> Select:
    """Suspect photos awaiting the officer's review (due with their EVIDENCE_SUSPECT warning)."""
    warning = and_(
        Warning.subject_id == Upload.subject_id,
        Warning.kind == "EVIDENCE_SUSPECT",
        Warning.period_key == literal("upload:", type_=String) + cast(Upload.id, String),
        Warning.status != "handled",
    )
    return (
        select(
            Upload.id.label("item_id"),
            Upload.subject_id,
            Subject.office_id,
            _officer().label("decider_role"),
            Warning.due_at,
            Upload.attached_at.label("created_at"),
            Upload.record_type.label("subtype"),
            literal("照片证据存疑,请审核", type_=String).label("title"),
        )
        .join(Subject, Subject.id == Upload.subject_id)
        .outerjoin(Warning, warning)
        .where(Upload.review_status == "open")
    )


@provider("negative_field_report", "/api/v1/staff/field-reports/{id}/review")
def negative_field_reports(actor: Actor | None) -> Select:
    """Negative grid reports awaiting the officer's confirmation or dismissal."""
    return (
        select(
            FieldReport.id.label("item_id"),
            FieldReport.subject_id,
            Subject.office_id,
            _officer().label("decider_role"),
            FieldReport.due_at,
            FieldReport.created_at,
            FieldReport.severity.label("subtype"),
            FieldReport.text.label("title"),
        )
        .join(Subject, Subject.id == FieldReport.subject_id)
        .where(FieldReport.status == "pending_review")
    )


@provider("warning", "/api/v1/staff/warnings/{id}/handle")
def warnings(actor: Actor | None) -> Select:
    """Unhandled warnings (except those whose work item is listed under its own kind)."""
    return (
        select(
            Warning.id.label("item_id"),
            Warning.subject_id,
            Subject.office_id,
            _officer().label("decider_role"),
            Warning.due_at,
            Warning.created_at,
            Warning.kind.label("subtype"),
            Warning.title,
        )
        .join(Subject, Subject.id == Warning.subject_id)
        .where(Warning.status != "handled", Warning.kind.not_in(MIRRORED_WARNINGS))
    )


@provider("suggestion", "/api/v1/staff/suggestions/{id}")
def suggestions(actor: Actor | None) -> Select:
    """Open suggestions to accept or dismiss, and accepted ones to complete."""
    return (
        select(
            Suggestion.id.label("item_id"),
            Suggestion.subject_id,
            Subject.office_id,
            _officer().label("decider_role"),
            Suggestion.due_at,
            Suggestion.created_at,
            Suggestion.kind.label("subtype"),
            Suggestion.title,
        )
        .join(Subject, Subject.id == Suggestion.subject_id)
        .where(Suggestion.status.in_(("open", "accepted")))
    )
