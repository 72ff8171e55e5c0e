"""Attaching an upload to its record, with the claim checks (docs/photos.md#claim-checks), and the review it may need.

Later features (check-in, reports, requests, appeals, face references) call ``attach`` inside their own
create transaction. An upload attaches once. If its checks are still running, the claim is stored and
checked when they finish (a caller may defer them to a job in any case: check-ins do). A suspect verdict
opens a review for the officer and an ``EVIDENCE_SUSPECT`` warning; it never penalises by itself. Other
checks (the face check) add their reasons with ``add_reasons``; features learn of verdicts through
``on_verdict`` and of confirmed fraud through ``on_confirmed`` (the Scoring feature turns that into
EVIDENCE_FRAUD).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from backend.db import is_pg
from backend.errors import DomainError
from backend.models import Subject, Upload, UploadHashBand, utcnow
from backend.services.core import audit, outbox, rowlocks
from backend.services.core.actors import Actor
from backend.services.core.handlers import handler
from backend.services.core.statemachine import StateMachine
from backend.services.core.warnings import raise_warning
from backend.services.evidence.uploads import UPLOAD_STATES
from media import reasons as reason_codes
from media.claims import Claim, claim_reasons, new_exposure
from media.phash import bands, distance

#: perceptual-hash distance (of 64 bits) within which two photos may be the same picture. Calibrated on
#: the real photos in tests/photos: resized, re-encoded, brightened or 2 %-cropped copies land at 0–8,
#: different photos at 20 and more; photos of one scene taken a moment apart land at 4–14, which is
#: why a near hash only counts when the capture facts show no new exposure.
DUPLICATE_DISTANCE = 10
BANDS = DUPLICATE_DISTANCE + 1  # pigeonhole: within 10 differing bits, one of 11 bands is equal

EVALUATE_JOB = "evaluate_attachment"
REVIEW_STATES = StateMachine("upload_review", {"open": {"confirmed", "cleared"}}, "open")
VerdictHook = Callable[[Session, Upload], None]
ConfirmedHook = Callable[[Session, Upload, Actor], None]
_verdict_hooks: list[VerdictHook] = []
_confirmed_hooks: list[ConfirmedHook] = []


def on_verdict(fn: VerdictHook) -> VerdictHook:
    """Call ``fn(session, upload)`` in the same transaction whenever an attached upload gets or changes its verdict.

    That is: when it is attached after its checks, when its checks finish after it was attached (rejected
    included), and when a later check (the face check) adds reasons. Hooks must be idempotent.
    """
    _verdict_hooks.append(fn)
    return fn


def on_confirmed(fn: ConfirmedHook) -> ConfirmedHook:
    """Call ``fn(session, upload, officer)`` in the review's transaction when an officer confirms fraud."""
    _confirmed_hooks.append(fn)
    return fn


def confirmed_hooks() -> tuple[ConfirmedHook, ...]:
    return tuple(_confirmed_hooks)


_UPLOADS = Upload.__table__
#: the upload states in which a photo may be attached (checks running, or done and not rejected)
ATTACHABLE = ("processing", "accepted", "suspect")
#: one conditional update that attaches the caller's own attachable upload, and takes its row lock
_ATTACH = (
    update(_UPLOADS)
    .where(
        _UPLOADS.c.id == bindparam("the_upload"),
        _UPLOADS.c.owner_id == bindparam("the_owner"),
        or_(_UPLOADS.c.subject_id.is_(None), _UPLOADS.c.subject_id == bindparam("to_subject")),
        _UPLOADS.c.record_type.is_(None),
        _UPLOADS.c.status.in_(ATTACHABLE),
    )
    .values(
        subject_id=bindparam("to_subject"),
        record_type=bindparam("to_type"),
        record_id=bindparam("to_id"),
        attached_at=bindparam("at"),
        claim=bindparam("with_claim", type_=_UPLOADS.c.claim.type),
    )
    .returning(_UPLOADS.c.status)
)


def attach(
    session: Session,
    actor: Actor,
    upload_id: int,
    *,
    subject_id: int,
    record_type: str,
    record_id: object,
    claim: Claim,
    defer: bool = False,
) -> None:
    """Attach the actor's own upload to a record of ``subject_id`` in the caller's transaction.

    422 for an unknown or foreign upload, for one not completed, rejected or expired, and for one already
    attached to another record; attaching again to the same record is a no-op (a retried create). With
    ``defer`` the attachment checks of an already checked upload run in an outbox job queued in this
    transaction (``evaluate_attachment``) instead of in it, as they do for one still being checked.

    The usual case is one conditional ``UPDATE … RETURNING`` (it takes the row lock); only when it matches
    nothing is the row read, to tell a retry from each refusal.
    """
    values = {
        "the_upload": upload_id,
        "the_owner": actor.user_id,
        "to_subject": subject_id,
        "to_type": record_type,
        "to_id": str(record_id),
        "at": utcnow(),
        "with_claim": claim.to_json(),
    }
    status = session.connection().execute(_ATTACH, values).scalar()
    loaded = session.identity_map.get(identity_key(Upload, upload_id))
    if loaded is not None:  # a copy loaded earlier in this session is stale now
        session.expire(loaded)
    if status is None:
        refuse_attach(session, actor, upload_id, subject_id, record_type, str(record_id))
        return  # attached to this record already: a retried create
    record_attached(session, actor, upload_id, subject_id, record_type, record_id)
    if status != "processing":
        if defer:
            outbox.add(session, EVALUATE_JOB, {"upload_id": upload_id})
        else:
            evaluate(session, session.get(Upload, upload_id))


def record_attached(
    session: Session, actor: Actor, upload_id: int, subject_id: int, record_type: str, record_id: object
) -> None:
    """The audit row of an attachment (``attach`` writes it; so does a caller that attached in its own SQL)."""
    audit.record(
        session,
        "upload.attach",
        actor=actor,
        target_type="upload",
        target_id=upload_id,
        details={"record_type": record_type, "record_id": str(record_id), "subject_id": subject_id},
    )


def refuse_attach(
    session: Session, actor: Actor, upload_id: int, subject_id: int, record_type: str, record_id: str
) -> None:
    """Why ``attach`` matched nothing: the refusal, or nothing when the upload is on this record already."""
    upload = session.scalar(select(Upload).where(Upload.id == upload_id))
    if upload is None or upload.owner_id != actor.user_id or upload.subject_id not in (None, subject_id):
        raise DomainError("UPLOAD_UNKNOWN", {"upload_id": [str(upload_id)]})
    if upload.record_type is not None:
        if (upload.record_type, upload.record_id) == (record_type, record_id):
            return
        raise DomainError("UPLOAD_ALREADY_ATTACHED", {"upload_id": [str(upload_id)]})
    raise DomainError("UPLOAD_NOT_ATTACHABLE", {"upload_id": [str(upload_id)]}, context={"status": upload.status})


@handler(EVALUATE_JOB)
def evaluate_attachment(session: Session, payload: dict) -> None:
    """The deferred attachment checks of a checked upload; a missing, detached or rejected one is nothing to do.

    The subject's row lock serialises one subject's evaluations, so of two near-duplicate photos attached
    at once the later evaluation sees the earlier one's indexed hash. It is taken first, then the upload's
    (the lock order of docs/schedules.md#lock-order).
    """
    subject = rowlocks.lock_subject_of(session, Upload, payload["upload_id"])
    upload = rowlocks.lock(session, Upload, payload["upload_id"]) if subject is not None else None
    if upload is None or upload.record_type is None or upload.status not in ("accepted", "suspect"):
        return
    evaluate(session, upload)


def find_duplicate(session: Session, upload: Upload) -> tuple[Upload, int] | None:
    """An earlier attached photo of the same subject with a near pHash and no sign of a new exposure.

    Indexed: only photos sharing one of the hash's bands are fetched (index on subject, band, value).
    """
    if not upload.phash or upload.subject_id is None:
        return None
    pairs = enumerate(bands(upload.phash, BANDS))
    match = or_(*(and_(UploadHashBand.band == i, UploadHashBand.value == v) for i, v in pairs))
    sharing = select(UploadHashBand.upload_id).where(UploadHashBand.subject_id == upload.subject_id, match)
    candidates = session.scalars(
        select(Upload).where(Upload.id.in_(sharing), Upload.id != upload.id).order_by(Upload.id)
    )
    for earlier in candidates:
        d = distance(earlier.phash, upload.phash)
        if d <= DUPLICATE_DISTANCE and not new_exposure(earlier.facts, upload.facts):
            return earlier, d
    return None


def _index(session: Session, upload: Upload) -> None:
    if upload.phash and upload.subject_id is not None:
        rows = [
            {"upload_id": upload.id, "band": i, "subject_id": upload.subject_id, "value": value}
            for i, value in enumerate(bands(upload.phash, BANDS))
        ]
        insert = postgresql.insert if is_pg(session) else sqlite.insert
        # one statement, not a SELECT + INSERT per band; a band already indexed (a rerun) stays as it is
        session.execute(insert(UploadHashBand).values(rows).on_conflict_do_nothing())


def evaluate(session: Session, upload: Upload) -> None:
    """Run the claim checks and the duplicate search for a checked, attached upload; then index its hash."""
    found = claim_reasons(upload.facts, Claim.from_json(upload.claim or {}))
    dup = find_duplicate(session, upload)
    if dup is not None:
        found.append(("DUPLICATE_PHOTO", {"upload_id": dup[0].id, "distance": dup[1]}))
    _index(session, upload)
    add_reasons(session, upload, found)


def add_reasons(session: Session, upload: Upload, found: list[tuple[str, dict]]) -> None:
    """Add reasons to a checked upload (in the caller's transaction), move its verdict, open a review."""
    codes = [r["code"] for r in upload.reasons]
    new = [{"code": c, "detail": d} for c, d in found if c not in codes]
    if new:
        upload.reasons = [*upload.reasons, *new]
        codes += [r["code"] for r in new]
    verdict = reason_codes.verdict(codes)
    if verdict != upload.status and upload.status != "rejected":
        UPLOAD_STATES.apply(upload, verdict)
    if upload.status == "suspect" and upload.record_type is not None and upload.review_status is None:
        _open_review(session, upload)
    elif upload.review_status is None:
        close_case(upload)
    notify_verdict(session, upload)


def notify_verdict(session: Session, upload: Upload) -> None:
    """Run the ``on_verdict`` hooks for an attached upload (accepted, suspect or rejected)."""
    if upload.record_type is not None:
        for hook in _verdict_hooks:
            hook(session, upload)


def _open_review(session: Session, upload: Upload) -> None:
    upload.review_status = REVIEW_STATES.initial
    upload.case_closed_at = None
    subject = session.get(Subject, upload.subject_id)
    raise_warning(
        session,
        subject,
        "EVIDENCE_SUSPECT",
        "medium",
        "照片证据存疑,请审核",
        period_key=f"upload:{upload.id}",
        details={"upload_id": upload.id, "reasons": [r["code"] for r in upload.reasons]},
        evidence=[{"kind": "upload", "id": upload.id}, {"kind": upload.record_type, "id": upload.record_id}],
    )


def close_case(upload: Upload) -> None:
    """Start the retention clock of the original, unless a review or a dispute still needs it."""
    if not upload.retention_hold and upload.review_status in (None, "confirmed", "cleared"):
        upload.case_closed_at = upload.case_closed_at or utcnow()
