"""An officer's review of suspect evidence: confirm fraud or clear it, with a note.

Rules: docs/photos.md#review-of-suspect-photos.

Guarantees: one transaction records the decision, handles the upload's ``EVIDENCE_SUSPECT`` warning,
writes the audit row and runs the ``on_confirmed`` hooks (Scoring emits EVIDENCE_FRAUD there), so the
penalty exists exactly when the confirmation does. Repeating the same decision returns the upload as it
is (200); a different decision after one was made is 409.
"""

from __future__ import annotations

from sqlalchemy import select

from backend.db import db
from backend.errors import DomainError
from backend.models import Subject, Upload, Warning, utcnow
from backend.services.core import audit, rowlocks
from backend.services.core.actors import Actor
from backend.services.core.warnings import WARNING_STATES
from backend.services.evidence import attachments
from backend.services.evidence.uploads import visible
from backend.services.identity import access

DECISIONS = {"confirm": "confirmed", "clear": "cleared"}


def review(actor: Actor, upload_id: int, decision: str, note: str) -> Upload:
    """Confirm (fraud) or clear a suspect, attached upload of a subject in the officer's jurisdiction."""
    access.require(actor, "upload.review")
    target = DECISIONS.get(decision)
    if target is None:
        raise DomainError("VALIDATION_FAILED", {"decision": ["one of: " + ", ".join(sorted(DECISIONS))]})
    with db.tx() as s:
        # the lock order of docs/schedules.md#lock-order: the subject's row, then the upload's (read again)
        subject_id = visible(s, actor, upload_id).subject_id
        if subject_id is not None:
            rowlocks.lock(s, Subject, subject_id)
        upload = rowlocks.lock(s, Upload, upload_id)
        if upload.review_status is None:
            raise DomainError("UPLOAD_NOT_UNDER_REVIEW", context={"status": upload.status})
        if upload.review_status == target:
            return upload
        attachments.REVIEW_STATES.apply(upload, target, field="review_status")
        upload.reviewed_by, upload.reviewed_at, upload.review_note = actor.user_id, utcnow(), note
        attachments.close_case(upload)  # before the warning's query flushes the upload: one UPDATE of it
        _handle_warning(s, upload, actor, target, note)
        audit.record(
            s,
            "upload.review",
            actor=actor,
            target_type="upload",
            target_id=upload.id,
            details={
                "decision": target,
                "subject_id": upload.subject_id,
                "reasons": [r["code"] for r in upload.reasons],
            },
        )
        if target == "confirmed":
            for hook in attachments.confirmed_hooks():
                hook(s, upload, actor)
    return upload


def _handle_warning(s, upload: Upload, actor: Actor, outcome: str, note: str) -> None:
    warning = s.scalar(
        select(Warning).where(
            Warning.subject_id == upload.subject_id,
            Warning.kind == "EVIDENCE_SUSPECT",
            Warning.period_key == f"upload:{upload.id}",
            Warning.status != "handled",
        )
    )
    if warning is None:
        return
    WARNING_STATES.apply(warning, "handled")
    warning.handled_at, warning.handled_by = utcnow(), actor.user_id
    warning.outcome, warning.note = outcome, note
