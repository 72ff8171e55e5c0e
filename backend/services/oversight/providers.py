"""The inbox providers of the features that exist: one query per kind of work item (listed by ``inbox``).

Each returns the open items of its kind with ``COLUMNS``; the office is the subject's current one,
so a transferred subject's open items move with them. Routing by role and office is done by ``inbox``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import DateTime, Integer, Select, String, and_, bindparam, cast, literal, null, select

from backend.db import db
from backend.models import Subject, Upload, Warning
from backend.models.education import EducationSession
from backend.models.field import FieldReport, Suggestion
from backend.models.request import SubjectRequest
from backend.models.scoring import ScoreEvent
from backend.models.scoring_decisions import Appeal, MeritApplication, ScoreAdjustment
from backend.models.service import ServiceReport
from backend.services.core.actors import Actor
from backend.services.core.dialect import json_list_has_int

#: warning kinds whose work item another provider lists (the upload review, the negative field report)
MIRRORED_WARNINGS = ("EVIDENCE_SUSPECT", "KEYWORD_HIGH")

#: what every provider selects, in this order
COLUMNS = ("item_id", "subject_id", "office_id", "decider_role", "due_at", "created_at", "subtype", "title")
ProviderFn = Callable[[Actor | None], Select]
#: the caller's user id, bound by whoever runs a provider's statement for an actor (the inbox binds it), so
#: that one statement serves every user of a role: its shape does not depend on who asks
CALLER = bindparam("inbox_caller", type_=Integer)


@dataclass(frozen=True)
class Provider:
    kind: str
    fn: ProviderFn
    #: the endpoint that acts on an item, with ``{id}``
    path: str


PROVIDERS: dict[str, Provider] = {}


def provider(kind: str, path: str) -> Callable[[ProviderFn], ProviderFn]:
    """Register the provider of the inbox items of ``kind`` (one provider per kind)."""

    def deco(fn: ProviderFn) -> ProviderFn:
        known = PROVIDERS.get(kind)
        if known is not None and (known.fn.__module__, known.fn.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ValueError(f"inbox kind {kind!r} already has a provider")
        PROVIDERS[kind] = Provider(kind, fn, path)
        return fn

    return deco


def _officer() -> object:
    return literal("officer", type_=String)


def _items(model, *, subtype, title, decider=None, due=None, created=None) -> Select:
    """``COLUMNS`` for rows of ``model``, joined to their subject (whose current office routes them).

    By default the officer decides, and the row's own ``due_at`` and ``created_at`` are used. A released
    subject's items are no one's work any more (docs/score.md#release-and-export): they are left out.
    """
    return select(
        model.id.label("item_id"),
        model.subject_id,
        Subject.office_id,
        (_officer() if decider is None else decider).label("decider_role"),
        (model.due_at if due is None else due).label("due_at"),
        (model.created_at if created is None else created).label("created_at"),
        subtype.label("subtype"),
        title.label("title"),
    ).join(Subject, and_(Subject.id == model.subject_id, Subject.status == "in_correction"))


@provider("request", "/api/v1/staff/requests/{id}/decision")
def requests(actor: Actor | None) -> Select:
    """Leave, visitor, residence-change and restricted-place requests awaiting a decision or a recommendation."""
    return _items(
        SubjectRequest,
        decider=SubjectRequest.decider_role,
        subtype=SubjectRequest.type,
        title=SubjectRequest.destination,
    ).where(SubjectRequest.status.in_(("pending", "recommended")), SubjectRequest.decider_role.is_not(None))


@provider("service_verification", "/api/v1/staff/service-reports/{id}/verification")
def service_reports(actor: Actor | None) -> Select:
    """Community service reports awaiting the officer's verification."""
    return _items(ServiceReport, subtype=ServiceReport.source, title=ServiceReport.activity_type).where(
        ServiceReport.status == "pending"
    )


@provider("education_verification", "/api/v1/staff/education-sessions/{id}/verification")
def education_sessions(actor: Actor | None) -> Select:
    """Offline and 集中教育 sessions awaiting the officer's confirmation."""
    return _items(EducationSession, subtype=EducationSession.mode, title=EducationSession.course).where(
        EducationSession.mode != "online", EducationSession.status == "pending"
    )


@provider("appeal", "/api/v1/staff/appeals/{id}/decision")
def appeals(actor: Actor | None) -> Select:
    """Pending appeals; an officer never sees one against an event they took part in."""
    stmt = (
        _items(Appeal, decider=Appeal.decider_role, subtype=ScoreEvent.rule_code, title=Appeal.reason)
        .join(ScoreEvent, ScoreEvent.id == Appeal.event_id)
        .where(Appeal.status == "pending")
    )
    if actor is not None and actor.user_id is not None:
        stmt = stmt.where(~json_list_has_int(db.session, Appeal.excluded_user_ids, CALLER))
    return stmt


@provider("merit_application", "/api/v1/staff/merit-applications/{id}/decision")
def merit_applications(actor: Actor | None) -> Select:
    """我要加分 applications awaiting the officer (up to the limit) or the bureau."""
    return _items(
        MeritApplication,
        decider=MeritApplication.decider_role,
        subtype=MeritApplication.rule_code,
        title=MeritApplication.description,
    ).where(MeritApplication.status == "pending")


@provider("adjustment", "/api/v1/staff/adjustments/{id}/decision")
def adjustments(actor: Actor | None) -> Select:
    """Manual score corrections proposed by an officer, awaiting a bureau user's approval (no due time)."""
    return _items(
        ScoreAdjustment,
        decider=literal("bureau", type_=String),
        due=cast(null(), DateTime(timezone=True)),
        subtype=ScoreAdjustment.dimension,
        title=ScoreAdjustment.reason,
    ).where(ScoreAdjustment.status == "pending")


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
        _items(
            Upload,
            due=Warning.due_at,
            created=Upload.attached_at,
            subtype=Upload.record_type,
            title=literal("照片证据存疑,请审核", type_=String),
        )
        .outerjoin(Warning, warning)
        .where(Upload.review_status == "open")
    )


@provider("negative_field_report", "/api/v1/staff/field-reports/{id}/review")
def negative_field_reports(actor: Actor | None) -> Select:
    """Negative grid reports awaiting the officer's confirmation or dismissal."""
    return _items(FieldReport, subtype=FieldReport.severity, title=FieldReport.text).where(
        FieldReport.status == "pending_review"
    )


@provider("warning", "/api/v1/staff/warnings/{id}/handle")
def warnings(actor: Actor | None) -> Select:
    """Unhandled warnings (except those whose work item is listed under its own kind)."""
    return _items(Warning, subtype=Warning.kind, title=Warning.title).where(
        Warning.status != "handled", Warning.kind.not_in(MIRRORED_WARNINGS)
    )


@provider("suggestion", "/api/v1/staff/suggestions/{id}")
def suggestions(actor: Actor | None) -> Select:
    """Open suggestions to accept or dismiss, and accepted ones to complete."""
    return _items(Suggestion, subtype=Suggestion.kind, title=Suggestion.title).where(
        Suggestion.status.in_(("open", "accepted"))
    )
