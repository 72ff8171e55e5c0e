"""The score and the Photo evidence feature: evidence uploads of appeals, merits and employment attach to their
record through it, and an officer's confirmation of fraud emits EVIDENCE_FRAUD."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from backend.errors import DomainError
from backend.models import Subject, Upload, utcnow
from backend.services.core.actors import Actor
from backend.services.evidence import attachments as photos
from backend.services.scoring.ledger import emit_event
from media.claims import Claim

log = logging.getLogger(__name__)
MAX_UPLOADS = 9


def attach(session: Session, actor: Actor, subject: Subject, upload_ids: list[int], purpose: str) -> list[int]:
    """Check the number of evidence uploads; return the ids in order, without duplicates."""
    ids = list(dict.fromkeys(upload_ids or []))
    if len(ids) > MAX_UPLOADS:
        raise DomainError("VALIDATION_FAILED", {"upload_ids": [f"at most {MAX_UPLOADS}"]})
    return ids


def link(session: Session, actor: Actor, subject: Subject, upload_ids: list[int], record_type: str, record_id: int):
    """Attach the caller's own uploads to the record they are evidence for (422 for a foreign, rejected or
    already attached upload). Nothing is claimed about when or where the photo was taken."""
    for upload_id in upload_ids:
        photos.attach(
            session,
            actor,
            upload_id,
            subject_id=subject.id,
            record_type=record_type,
            record_id=record_id,
            claim=Claim(),
        )


@photos.on_confirmed
def emit_fraud(session: Session, upload: Upload, officer: Actor) -> None:
    """An officer confirmed a photo was not genuine: EVIDENCE_FRAUD, once per upload, confirmed by that officer."""
    if upload.subject_id is None:
        return
    try:
        emit_event(
            upload.subject_id,
            "EVIDENCE_FRAUD",
            "upload",
            upload.id,
            utcnow(),
            reason=f"照片经核实不实({upload.purpose})",
            confirmed_by=officer.user_id,
        )
    except DomainError as exc:
        if exc.code != "SUBJECT_RELEASED":
            raise
        log.info("fraud confirmed after release; the frozen score stays", extra={"upload_id": upload.id})
