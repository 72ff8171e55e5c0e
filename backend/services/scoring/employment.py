"""Employment or study verification by an officer: one EMPLOYMENT_VERIFIED event per job or enrolment."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy.exc import IntegrityError

from backend.db import db
from backend.errors import DomainError, register
from backend.models.scoring_decisions import EmploymentRecord
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.identity import access
from backend.services.scoring import decisions, evidence
from backend.services.scoring.ledger import emit_event
from backend.services.scoring.sql import TZ

register("EMPLOYMENT_DUPLICATE", 409, "该就业(就学)已核实登记", "This job or study was already verified")
access.allow("scoring.employment", {"officer"})


def verify(actor: Actor, subject_id: int, data: dict) -> EmploymentRecord:
    """Record a verified job or study and emit EMPLOYMENT_VERIFIED for it."""
    access.require(actor, "scoring.employment")
    with db.tx() as s:
        subject = access.get_subject(s, actor, subject_id)
        if subject.status != "in_correction":
            raise DomainError("SUBJECT_RELEASED")
        rec = EmploymentRecord(
            subject_id=subject.id,
            kind=data["kind"],
            organisation=data["organisation"].strip(),
            started_on=data["started_on"],
            note=data.get("note"),
            evidence=evidence.attach(s, actor, subject, data.get("upload_ids") or [], "employment"),
            verified_by=actor.user_id,
        )
        try:
            with s.begin_nested():
                s.add(rec)
                s.flush()
        except IntegrityError:
            raise DomainError("EMPLOYMENT_DUPLICATE") from None
        evidence.link(s, actor, subject, rec.evidence, "employment", rec.id)
        started = datetime.combine(rec.started_on, time(12), TZ)
        reason = f"{'就业' if rec.kind == 'job' else '就学'}:{rec.organisation}"
        rec.event_id = emit_event(
            subject, "EMPLOYMENT_VERIFIED", "employment", rec.id, started, reason=reason, confirmed_by=actor.user_id
        ).event.id
        audit.record(
            s,
            "employment.verify",
            actor=actor,
            target_type="employment",
            target_id=rec.id,
            details={"subject_id": subject.id, "kind": rec.kind},
        )
        decisions.tell_subject(
            s, subject, "employment_verified", "您的就业(就学)情况已核实", reason, {"employment_id": rec.id}
        )
    return rec
