"""Grid field reports (网格员信息报送, docs/field-reports.md): create with photos, classify, score, warn; read and list.

Guarantees of ``create`` (one transaction): the subject is in the grid worker's own grids (404 otherwise);
the photos are attached through the evidence pipeline with the report's claim (time and place), so a
suspect photo opens its own review; the text is classified with the dictionary in force and the result is
stored; a positive report emits GRID_POSITIVE (once per report, the ledger's unique key; the monthly cap
applies); a negative report waits for the officer (due in 3 days, ``field.review``); a high-severity hit
raises the day's KEYWORD_HIGH warning at once (one open warning per subject and day, each report linked).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import DomainError, NotFound, register
from backend.models import Subject, Upload, utcnow
from backend.models.field import FieldReport
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.core.statemachine import StateMachine
from backend.services.core.warnings import raise_warning
from backend.services.evidence import attachments
from backend.services.field import keywords
from backend.services.identity import access
from backend.services.oversight.warning_handling import day_start
from backend.services.scoring import emit_event
from media.claims import Claim

register(
    "FIELD_REPORT_TIME_INVALID",
    422,
    "观察时间不能晚于现在或早于三十日前",
    "observed_at must lie within the last 30 days",
)
register("FIELD_REPORT_PHOTO_REQUIRED", 422, "现场报告至少需要一张照片", "A field report needs at least one photo")
register(
    "FIELD_REPORT_PHOTO_INVALID", 422, "照片不是现场报告用途", "Only photos uploaded for field reports can be attached"
)

FIELD_REPORT_STATES = StateMachine(
    "field_report",
    {
        "new": {"recorded", "pending_review"},
        "pending_review": {"confirmed", "dismissed"},
        "recorded": set(),
        "confirmed": set(),
        "dismissed": set(),
    },
    "new",
)
REVIEW_DUE = timedelta(days=3)
MAX_AGE = timedelta(days=30)
FUTURE_SLACK = timedelta(minutes=10)
MAX_PHOTOS = 9
TZ = ZoneInfo("Asia/Shanghai")

access.allow("field_report.create", {"grid_worker"})
access.allow("field_report.read", access.STAFF)


def _check_photos(s: Session, upload_ids: list[int]) -> list[int]:
    ids = list(dict.fromkeys(upload_ids or []))
    if not ids:
        raise DomainError("FIELD_REPORT_PHOTO_REQUIRED", {"upload_ids": ["at least one"]})
    if len(ids) > MAX_PHOTOS:
        raise DomainError("FIELD_REPORT_PHOTO_INVALID", {"upload_ids": [f"at most {MAX_PHOTOS}"]})
    purposes = dict(s.execute(select(Upload.id, Upload.purpose).where(Upload.id.in_(ids))).tuples().all())
    wrong = [i for i in ids if i in purposes and purposes[i] != "field"]
    if wrong:
        raise DomainError("FIELD_REPORT_PHOTO_INVALID", {"upload_ids": [str(i) for i in wrong]})
    return ids  # unknown or foreign ids are refused by attachments.attach (UPLOAD_UNKNOWN)


def _check_time(observed_at: datetime, now: datetime) -> None:
    if observed_at > now + FUTURE_SLACK or observed_at < now - MAX_AGE:
        raise DomainError("FIELD_REPORT_TIME_INVALID", {"observed_at": ["within the last 30 days, not in the future"]})


def create(actor: Actor, data: dict) -> FieldReport:
    """Create a grid worker's report on a subject of their grids (see the module's guarantees)."""
    access.require(actor, "field_report.create")
    now = utcnow()
    _check_time(data["observed_at"], now)
    tags = list(dict.fromkeys(t.strip() for t in data.get("tags") or [] if t.strip()))
    with db.tx() as s:
        if data.get("client_id"):  # sent again after its idempotency record expired: the report made then
            found = s.scalar(
                select(FieldReport).where(
                    FieldReport.reporter_id == actor.user_id, FieldReport.client_id == data["client_id"]
                )
            )
            if found is not None:
                return found
        subject = access.get_subject(s, actor, data["subject_id"])
        if subject.status != "in_correction":
            raise DomainError("SUBJECT_RELEASED")
        photos = _check_photos(s, data.get("upload_ids") or [])
        result = keywords.classify(s, "\n".join([data["text"], *tags]))
        report = FieldReport(
            subject_id=subject.id,
            reporter_id=actor.user_id,
            office_id=subject.office_id,
            grid_id=subject.grid_id,
            client_id=data.get("client_id"),
            text=data["text"],
            tags=tags,
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
            observed_at=data["observed_at"],
            upload_ids=photos,
            classification=result.to_json(),
            dictionary_version=result.version,
            polarity=result.polarity,
            severity=result.severity,
            categories=result.categories,
            status=FIELD_REPORT_STATES.initial,
        )
        negative = result.polarity == "negative"
        FIELD_REPORT_STATES.apply(report, "pending_review" if negative else "recorded")
        report.due_at = now + REVIEW_DUE if negative else None
        s.add(report)
        s.flush()
        claim = Claim(captured_at=report.observed_at, latitude=report.latitude, longitude=report.longitude)
        for upload_id in photos:
            attachments.attach(
                s, actor, upload_id, subject_id=subject.id, record_type="field_report", record_id=report.id, claim=claim
            )
        if result.severity == "high":
            _raise_keyword_warning(s, subject, report)
        audit.record(
            s,
            "field_report.create",
            actor=actor,
            target_type="field_report",
            target_id=report.id,
            details={"subject_id": subject.id, "polarity": report.polarity, "categories": report.categories},
        )
        if result.polarity == "positive":
            emit_event(
                subject,
                "GRID_POSITIVE",
                "field_report",
                report.id,
                report.observed_at,
                reason="网格员正面反馈: " + "、".join(h["keyword"] for h in result.hits[:5]),
            )
    return report


def _raise_keyword_warning(s: Session, subject: Subject, report: FieldReport) -> None:
    day = report.observed_at.astimezone(TZ).date().isoformat()
    words = "、".join(dict.fromkeys(h["keyword"] for h in report.classification["hits"] if h["severity"] == "high"))
    link = {"kind": "field_report", "id": report.id}
    w, created = raise_warning(
        s,
        subject,
        "KEYWORD_HIGH",
        "high",
        f"网格员报告高风险情况:{words}"[:200],
        period_key=f"day:{day}",
        details={"keywords": words, "field_report_ids": [report.id]},
        evidence=[link],
        due_at=report.due_at,
    )
    if not created:  # the day's warning is open already: this report joins it
        w.evidence = [*w.evidence, link]
        w.details = {**w.details, "field_report_ids": [*w.details.get("field_report_ids", []), report.id]}
    report.warning_id = w.id


def load(s: Session, actor: Actor, report_id: int, lock: bool = False) -> FieldReport:
    stmt = (
        select(FieldReport)
        .join(Subject, Subject.id == FieldReport.subject_id)
        .where(FieldReport.id == report_id, access.subject_scope(actor))
        .execution_options(populate_existing=True)
    )
    if actor.role == "grid_worker":
        stmt = stmt.where(FieldReport.reporter_id == actor.user_id)
    if lock:
        stmt = stmt.with_for_update(of=FieldReport)
    report = s.scalar(stmt)
    if report is None:
        raise NotFound("field report")
    return report


def get(actor: Actor, report_id: int, purpose: str | None = None) -> FieldReport:
    """One report: a grid worker's own, or a staff user's in their jurisdiction (a location read is audited)."""
    if not (access.can(actor, "field_report.read") or access.can(actor, "field_report.create")):
        access.require(actor, "field_report.read")
    report = load(db.session, actor, report_id)
    if purpose and actor.role in access.STAFF and report.latitude is not None:
        with db.tx() as s:
            audit.record(
                s,
                "field_report.location",
                actor=actor,
                target_type="field_report",
                target_id=report.id,
                purpose=purpose,
                details={"subject_id": report.subject_id},
            )
    return report


def grid_list_query(actor: Actor, filters: dict) -> Select:
    """A grid worker's own reports on subjects still in their grids, newest first."""
    access.require(actor, "field_report.create")
    stmt = (
        select(FieldReport, Subject.name)
        .join(Subject, Subject.id == FieldReport.subject_id)
        .where(FieldReport.reporter_id == actor.user_id, access.subject_scope(actor))
    )
    return _filtered(stmt, filters).order_by(FieldReport.id.desc())


def staff_list_query(actor: Actor, filters: dict) -> Select:
    """Reports on subjects in the staff user's jurisdiction, awaiting review first, then newest first."""
    access.require(actor, "field_report.read")
    stmt = select(FieldReport, Subject.name).join(Subject, Subject.id == FieldReport.subject_id)
    stmt = _filtered(stmt.where(access.subject_scope(actor)), filters)
    if filters.get("polarity"):
        stmt = stmt.where(FieldReport.polarity == filters["polarity"])
    pending_first = (FieldReport.status != "pending_review").asc()
    return stmt.order_by(pending_first, FieldReport.id.desc())


def _filtered(stmt: Select, f: dict) -> Select:
    if f.get("subject_id") is not None:
        stmt = stmt.where(FieldReport.subject_id == f["subject_id"])
    if f.get("status"):
        stmt = stmt.where(FieldReport.status == f["status"])
    if f.get("date_from"):
        stmt = stmt.where(FieldReport.observed_at >= day_start(f["date_from"]))
    if f.get("date_to"):
        stmt = stmt.where(FieldReport.observed_at < day_start(f["date_to"], next_day=True))
    return stmt
