"""The officer's review of negative field reports (docs/field-reports.md#review: confirm → GRID_NEGATIVE, or dismiss).

``review``: the officer of the subject's office confirms (GRID_NEGATIVE, with their name) or dismisses;
the same decision again returns the report (200), another one is 409. When the last pending report of a
KEYWORD_HIGH warning is reviewed, the warning is handled with the matching outcome; handling the warning
(``/staff/warnings/{id}/handle``) reviews its pending reports, through the warning kind's hooks. A photo
of a report confirmed as not genuine takes back the report's GRID_POSITIVE.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import DomainError, register
from backend.models import Upload, Warning, utcnow
from backend.models.field import FieldReport
from backend.models.scoring import ScoreEvent
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.core.warnings import on_confirm, on_dismiss
from backend.services.evidence import attachments
from backend.services.field.reports import FIELD_REPORT_STATES, load
from backend.services.identity import access
from backend.services.oversight.warning_handling import mark_handled
from backend.services.scoring import emit_event, revoke_event

register("FIELD_REPORT_NOT_UNDER_REVIEW", 409, "该报告无需审核", "This report is not awaiting review")
register("FIELD_REPORT_DECIDED", 409, "该报告已审核,结论不能更改", "This report was already reviewed otherwise")
DECISIONS = {"confirm": "confirmed", "dismiss": "dismissed"}
access.allow("field_report.review", {"officer"})


def review(actor: Actor, report_id: int, decision: str, note: str | None) -> FieldReport:
    """Confirm (GRID_NEGATIVE) or dismiss a negative report awaiting the officer (see the module docstring)."""
    access.require(actor, "field_report.review")
    target = DECISIONS.get(decision)
    if target is None:
        raise DomainError("VALIDATION_FAILED", {"decision": ["one of: " + ", ".join(sorted(DECISIONS))]})
    with db.tx() as s:
        report = load(s, actor, report_id, lock=True)
        if report.status == target:
            return report
        if report.status in ("confirmed", "dismissed"):
            raise DomainError("FIELD_REPORT_DECIDED", context={"status": report.status})
        if report.status != "pending_review":
            raise DomainError("FIELD_REPORT_NOT_UNDER_REVIEW", context={"status": report.status})
        _decide(s, report, actor, target, note)
        _settle_warning(s, report, actor, note)
    return report


def _decide(s: Session, report: FieldReport, actor: Actor, target: str, note: str | None) -> None:
    FIELD_REPORT_STATES.apply(report, target)
    report.reviewed_by, report.reviewed_at, report.review_note = actor.user_id, utcnow(), note
    audit.record(
        s,
        f"field_report.{target}",
        actor=actor,
        target_type="field_report",
        target_id=report.id,
        details={"subject_id": report.subject_id, "note": note},
    )
    if target == "confirmed":
        words = "、".join(h["keyword"] for h in report.classification.get("hits", []) if h["polarity"] == "negative")
        emit_event(
            report.subject_id,
            "GRID_NEGATIVE",
            "field_report",
            report.id,
            report.observed_at,
            reason=f"网格员负面报告经核实: {words}"[:500],
            confirmed_by=actor.user_id,
        )


def _settle_warning(s: Session, report: FieldReport, actor: Actor, note: str | None) -> None:
    """Handle the report's KEYWORD_HIGH warning once none of its reports awaits review."""
    if report.warning_id is None:
        return
    w = s.scalar(select(Warning).where(Warning.id == report.warning_id).with_for_update())
    if w is None or w.status == "handled":
        return
    statuses = set(s.scalars(select(FieldReport.status).where(FieldReport.warning_id == w.id)))
    if "pending_review" in statuses:
        return
    mark_handled(w, actor, "confirmed" if "confirmed" in statuses else "dismissed", note)
    audit.record(
        s,
        "warning.handle",
        actor=actor,
        target_type="warning",
        target_id=w.id,
        details={"kind": w.kind, "outcome": w.outcome, "via": f"field_report:{report.id}"},
    )


def _review_linked(s: Session, w: Warning, actor: Actor, target: str, note: str) -> None:
    pending = s.scalars(
        select(FieldReport)
        .where(FieldReport.warning_id == w.id, FieldReport.status == "pending_review")
        .order_by(FieldReport.id)
        .with_for_update()
    ).all()
    for report in pending:
        _decide(s, report, actor, target, note)


@on_confirm("KEYWORD_HIGH")
def _confirm_keyword_warning(s: Session, w: Warning, actor: Actor, note: str) -> None:
    _review_linked(s, w, actor, "confirmed", note)


@on_dismiss("KEYWORD_HIGH")
def _dismiss_keyword_warning(s: Session, w: Warning, actor: Actor, note: str) -> None:
    _review_linked(s, w, actor, "dismissed", note)


@attachments.on_confirmed
def _photo_was_fraud(s: Session, upload: Upload, officer: Actor) -> None:
    """A report whose photo is confirmed as not genuine loses the GRID_POSITIVE it earned."""
    if upload.record_type != "field_report":
        return
    event = s.scalar(
        select(ScoreEvent).where(
            ScoreEvent.rule_code == "GRID_POSITIVE",
            ScoreEvent.source_kind == "field_report",
            ScoreEvent.source_id == upload.record_id,
        )
    )
    if event is not None and event.status != "revoked":
        revoke_event(s, event.id, f"upload:{upload.id}")
