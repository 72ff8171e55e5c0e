"""Face references of a subject: enrolment, listing, deletion, and deletion at release.

Rules: docs/audit-and-privacy.md#face-data.

Guarantees: a reference holds exactly one face of usable size, found in a staff upload of purpose
``enrolment`` or in a check-in selfie an officer cleared; its descriptor is stored encrypted with
DATA_KEY like ID numbers, with the legal basis and the notice recorded; descriptors never leave this
module except as numbers compared on the server; deleting a reference wipes its descriptor; release
wipes them all and deletes the enrolment photos. Every use (enrol, refusal, list, delete, check) is audited.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import DomainError, NotFound, register
from backend.models import Subject, Upload, Warning, utcnow
from backend.models.faces import FaceReference
from backend.services.core import audit, crypto, outbox
from backend.services.core.actors import SYSTEM, Actor
from backend.services.core.handlers import handler
from backend.services.core.warnings import WARNING_STATES
from backend.services.evidence import attachments
from backend.services.identity import access
from backend.services.subjects.hooks import RELEASE_HOOKS
from backend.storage import get_storage
from media import faces
from media.storage import StorageError

access.allow("face.reference.read", access.STAFF)
access.allow("face.reference.manage", access.STAFF)
MAX_REFERENCES = 5
NOTICE_VERSION = "face-notice-v1"  # 人脸信息处理告知书: purpose, means, retention, deletion at release
LEGAL_BASIS_TEXT = {
    "statutory_duty": "《社区矫正法》第二十六条;《个人信息保护法》第十三条第一款第三项、第二十八条",
    "consent": "《个人信息保护法》第十三条第一款第一项、第二十九条(单独同意)",
}
MISSING_WARNING = "FACE_REFERENCE_MISSING"
_REFUSALS = {faces.NONE: "FACE_REFERENCE_NO_FACE", faces.MULTIPLE: "FACE_REFERENCE_MULTIPLE_FACES"}
_REFUSALS[faces.TOO_SMALL] = "FACE_REFERENCE_FACE_TOO_SMALL"

for _c in [
    ("FACE_REFERENCE_UPLOAD_INVALID", 422, "该照片不能用作人脸底库", "This upload cannot be a face reference"),
    ("FACE_REFERENCE_NOT_READY", 409, "照片仍在检查中,请稍后再试", "The photo is still being checked; try again"),
    ("FACE_REFERENCE_NO_FACE", 422, "照片中未检测到人脸", "No face was found in the photo"),
    ("FACE_REFERENCE_MULTIPLE_FACES", 422, "照片中有多张人脸,请只拍本人", "The photo shows more than one face"),
    ("FACE_REFERENCE_FACE_TOO_SMALL", 422, "照片中人脸过小,请靠近拍摄", "The face in the photo is too small"),
    ("FACE_REFERENCES_FULL", 422, "人脸底库照片已达上限", "The subject already has the most references allowed"),
]:
    register(*_c)


def encrypt_descriptor(descriptor: np.ndarray) -> str:
    return crypto.encrypt_bytes(faces.to_bytes(descriptor)).decode()


def decrypt_descriptor(token: str) -> np.ndarray:
    return faces.from_bytes(crypto.decrypt_bytes(token.encode()))


def active(session: Session, subject_id: int) -> list[FaceReference]:
    stmt = select(FaceReference).where(FaceReference.subject_id == subject_id, FaceReference.deleted_at.is_(None))
    return list(session.scalars(stmt.order_by(FaceReference.id)))


def descriptors(session: Session, subject_id: int) -> list[tuple[FaceReference, np.ndarray]]:
    """The subject's active references of the current model, decrypted for a comparison on this server."""
    return [(r, decrypt_descriptor(r.descriptor_enc)) for r in active(session, subject_id) if r.model == faces.MODEL]


def photo_bytes(upload: Upload) -> tuple[bytes, int | None] | None:
    """The display derivative (upright, no metadata) or else the original, with the orientation to apply."""
    storage = get_storage()
    display = (upload.derivatives or {}).get("display")
    candidates = [(display["key"], 1)] if display else []
    if upload.original_deleted_at is None:
        candidates.append((upload.storage_key, (upload.facts or {}).get("orientation")))
    for key, orientation in candidates:
        if storage.head(key) is not None:
            with contextlib.closing(storage.open(key)) as fh:
                return fh.read(), orientation
    return None


def _source(upload: Upload, actor: Actor, subject: Subject) -> str:
    """Which kind of reference photo this upload can be, or a refusal (422, or 409 while it is checked)."""
    if upload.purpose == "enrolment" and upload.subject_id in (None, subject.id):
        mine = upload.owner_id == actor.user_id and upload.record_type is None
        reused = upload.subject_id == subject.id and upload.record_type == "face_reference"
        if mine or reused:
            if upload.status == "processing":
                raise DomainError("FACE_REFERENCE_NOT_READY")
            if upload.status in ("accepted", "suspect"):
                return "enrolment"
    if upload.purpose == "checkin" and upload.subject_id == subject.id and upload.review_status == "cleared":
        return "cleared_checkin"
    raise DomainError("FACE_REFERENCE_UPLOAD_INVALID", {"upload_id": [str(upload.id)]})


def _reference_upload(s: Session, actor: Actor, subject_id: int, upload_id: int, lock: bool = False):
    subject = access.get_subject(s, actor, subject_id)
    if subject.status != "in_correction":
        raise DomainError("SUBJECT_RELEASED")
    stmt = select(Upload).where(Upload.id == upload_id)
    upload = s.scalar(stmt.with_for_update() if lock else stmt)
    if upload is None:
        raise DomainError("FACE_REFERENCE_UPLOAD_INVALID", {"upload_id": [str(upload_id)]})
    return subject, upload, _source(upload, actor, subject)


def add_reference(
    actor: Actor, subject_id: int, upload_id: int, *, legal_basis: str, notice_given_at: datetime, replace: bool = False
) -> tuple[FaceReference, bool]:
    """Make a reference of one photo; (reference, created). The same upload again returns its reference.

    The photo is read and analysed between two transactions, so no row is locked while the model runs;
    the second transaction checks everything again under lock before it writes.
    """
    access.require(actor, "face.reference.manage")
    if legal_basis not in LEGAL_BASIS_TEXT:
        raise DomainError("VALIDATION_FAILED", {"legal_basis": ["one of: " + ", ".join(sorted(LEGAL_BASIS_TEXT))]})
    if notice_given_at > utcnow():
        raise DomainError("VALIDATION_FAILED", {"notice_given_at": ["not in the future"]})
    with db.tx() as s:
        subject, upload, _ = _reference_upload(s, actor, subject_id, upload_id)
        refs = active(s, subject.id)
        same = next((r for r in refs if r.upload_id == upload.id), None)
        if same is not None:
            return same, False
        if len(refs) >= MAX_REFERENCES and not replace:
            raise DomainError("FACE_REFERENCES_FULL", {"upload_id": [f"at most {MAX_REFERENCES} references"]})
    try:
        found = photo_bytes(upload)
    except StorageError as exc:
        raise DomainError("SERVICE_UNAVAILABLE", detail="photo storage", retry_after=10) from exc
    if found is None:
        raise DomainError("UPLOAD_ORIGINAL_GONE")
    analysis = faces.analyse_bytes(*found)
    if analysis.outcome != faces.ONE:
        _refused(actor, subject_id, upload_id, analysis)
    with db.tx() as s:
        subject, upload, source = _reference_upload(s, actor, subject_id, upload_id, lock=True)
        refs = active(s, subject.id)
        same = next((r for r in refs if r.upload_id == upload.id), None)
        if same is not None:
            return same, False
        replaced = [_wipe(r, actor, "replaced") for r in refs] if replace else []
        if len(refs) >= MAX_REFERENCES and not replace:
            raise DomainError("FACE_REFERENCES_FULL", {"upload_id": [f"at most {MAX_REFERENCES} references"]})
        ref = FaceReference(
            subject_id=subject.id,
            upload_id=upload.id,
            source=source,
            descriptor_enc=encrypt_descriptor(analysis.descriptor),
            model=faces.MODEL,
            face_box=analysis.face.to_json(),
            legal_basis=legal_basis,
            legal_basis_text=LEGAL_BASIS_TEXT[legal_basis],
            notice_version=NOTICE_VERSION,
            notice_given_at=notice_given_at,
            created_by=actor.user_id,
        )
        s.add(ref)
        s.flush()
        if source == "enrolment" and upload.record_type is None:
            upload.subject_id, upload.record_type, upload.record_id = subject.id, "face_reference", str(ref.id)
            upload.attached_at = utcnow()
            attachments.close_case(upload)  # the original follows the retention rules from now on
        _resolve_missing_warning(s, subject.id, actor)
        details = {"subject_id": subject.id, "upload_id": upload.id, "source": source, "legal_basis": legal_basis}
        audit.record(
            s,
            "face.reference.add",
            actor=actor,
            target_type="face_reference",
            target_id=ref.id,
            details={**details, "replaced": replaced},
        )
    return ref, True


def _refused(actor: Actor, subject_id: int, upload_id: int, analysis: faces.Analysis) -> None:
    """Audit the attempt (face data was processed) and refuse with the reason's own code."""
    code = _REFUSALS[analysis.outcome]
    with db.tx() as s:
        audit.record(
            s,
            "face.reference.refuse",
            actor=actor,
            target_type="upload",
            target_id=upload_id,
            details={"subject_id": subject_id, "code": code, "faces": len(analysis.faces)},
        )
    raise DomainError(code, {"upload_id": [str(upload_id)]})


def _wipe(ref: FaceReference, actor: Actor, reason: str) -> int:
    ref.descriptor_enc = None
    ref.deleted_at, ref.deleted_by, ref.delete_reason = utcnow(), actor.user_id, reason
    return ref.id


def _resolve_missing_warning(s: Session, subject_id: int, actor: Actor) -> None:
    """An open "no face reference" warning is handled by the enrolment it asked for."""
    stmt = select(Warning).where(
        Warning.subject_id == subject_id, Warning.kind == MISSING_WARNING, Warning.status != "handled"
    )
    for w in s.scalars(stmt.with_for_update()):
        WARNING_STATES.apply(w, "handled")
        w.handled_at, w.handled_by, w.outcome, w.note = utcnow(), actor.user_id, "enrolled", "face reference added"


def list_references(actor: Actor, subject_id: int) -> list[FaceReference]:
    """The subject's active references (no descriptor ever leaves); the read is audited."""
    access.require(actor, "face.reference.read")
    with db.tx() as s:
        subject = access.get_subject(s, actor, subject_id)
        refs = active(s, subject.id)
        audit.record(
            s,
            "face.reference.list",
            actor=actor,
            target_type="subject",
            target_id=subject.id,
            details={"count": len(refs)},
        )
    return refs


def delete_references(actor: Actor, subject_id: int, reference_id: int | None = None) -> list[FaceReference]:
    """Delete one reference (or all when none is named), wiping descriptors; returns those that remain."""
    access.require(actor, "face.reference.manage")
    with db.tx() as s:
        subject = access.get_subject(s, actor, subject_id)
        stmt = select(FaceReference).where(FaceReference.subject_id == subject.id).with_for_update()
        if reference_id is not None:
            ref = s.scalar(stmt.where(FaceReference.id == reference_id))
            if ref is None:
                raise NotFound("face reference")
            targets = [ref] if ref.deleted_at is None else []
        else:
            targets = list(s.scalars(stmt.where(FaceReference.deleted_at.is_(None))))
        wiped = [_wipe(r, actor, "staff") for r in targets]
        if wiped:
            audit.record(
                s,
                "face.reference.delete",
                actor=actor,
                target_type="subject",
                target_id=subject.id,
                details={"reference_ids": wiped},
            )
        return active(s, subject.id)


def delete_all_face_data(session: Session, subject: Subject) -> None:
    """Release (解矫): wipe every descriptor of the subject and queue the deletion of the enrolment photos."""
    refs = session.scalars(select(FaceReference).where(FaceReference.subject_id == subject.id).with_for_update())
    wiped = []
    for r in refs:
        if r.deleted_at is None:
            wiped.append(_wipe(r, SYSTEM, "release"))
        r.descriptor_enc = None
    outbox.add(session, "purge_face_photos", {"subject_id": subject.id})
    audit.record(
        session,
        "face.data.delete",
        target_type="subject",
        target_id=subject.id,
        details={"reason": "release", "reference_ids": wiped},
    )


RELEASE_HOOKS.append(delete_all_face_data)


@handler("purge_face_photos")
def purge_face_photos(session: Session, payload: dict) -> None:
    """Delete the original and derivatives of every enrolment photo of a released subject (idempotent)."""
    ids = select(FaceReference.upload_id).where(
        FaceReference.subject_id == payload["subject_id"], FaceReference.source == "enrolment"
    )
    uploads = list(session.scalars(select(Upload).where(Upload.id.in_(ids)).with_for_update()))
    storage, now, done = get_storage(), utcnow(), []
    for up in uploads:
        keys = [d["key"] for d in (up.derivatives or {}).values() if isinstance(d, dict) and d.get("key")]
        if not keys and up.original_deleted_at is not None:
            continue
        for key in [*keys, *([up.storage_key] if up.original_deleted_at is None else [])]:
            storage.delete(key)  # StorageError fails the job: the relay runs it again
        up.derivatives, up.original_deleted_at = {}, up.original_deleted_at or now
        done.append(up.id)
    if done:
        audit.record_bulk(session, "face.photos.purge", done, details={"subject_id": payload["subject_id"]})
