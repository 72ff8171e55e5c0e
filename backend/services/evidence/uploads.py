"""Uploads: declare → send the bytes (presigned S3 POST, or this server's PUT) → complete → checks queued.

Guarantees: storage keys are made here from random tokens, so nothing a client names becomes a path; the
bytes a check sees are exactly the declared ones (size and SHA-256 verified on the object we keep, which
on S3 is a server-side copy the phone holds no credential for); completion and the outbox row of the
checks commit together, so a completed upload is always checked, even if Redis was down at that moment.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend import runtime
from backend.db import db
from backend.errors import DomainError, NotFound, register
from backend.models import Subject, Upload, User, utcnow
from backend.services.core import audit, outbox
from backend.services.core.actors import Actor
from backend.services.core.statemachine import StateMachine
from backend.services.identity import access
from backend.storage import get_storage
from media.sniff import DECLARABLE_TYPES
from media.storage import StorageError
from media.stream import Mismatch, TooLarge, VerifyingReader, digest_of

#: pending → processing (complete) → accepted | suspect | rejected (checks); accepted → suspect (a claim
#: check or the face check at attachment); pending → expired (not completed in time). Review is separate.
UPLOAD_STATES = StateMachine(
    "upload",
    {
        "pending": {"processing", "expired"},
        "processing": {"accepted", "suspect", "rejected"},
        "accepted": {"suspect"},
        "suspect": set(),
        "rejected": set(),
        "expired": set(),
    },
    "pending",
)
CHECKED = ("accepted", "suspect", "rejected")

#: who may upload evidence for what (docs/photos.md#who-may-upload-what)
PURPOSES_BY_ROLE = {
    "subject": frozenset({"checkin", "service", "education", "merit", "appeal"}),
    "grid_worker": frozenset({"field", "service"}),
    "officer": frozenset({"enrolment", "education", "service", "field", "merit"}),
    "bureau": frozenset({"enrolment", "education", "service", "field", "merit"}),
}
UPLOADERS = frozenset(PURPOSES_BY_ROLE)
access.allow("upload.create", UPLOADERS)
access.allow("upload.read", UPLOADERS)
access.allow("upload.original", access.STAFF)
access.allow("upload.review", {"officer"})

for _c in [
    ("UPLOAD_TOO_LARGE", 413, "照片超过大小上限", "The photo is larger than allowed"),
    ("UPLOAD_TYPE_NOT_ALLOWED", 415, "不支持的照片类型", "This content type cannot be uploaded"),
    ("UPLOAD_PURPOSE_NOT_ALLOWED", 422, "您不能上传该用途的照片", "Your role cannot upload photos for this purpose"),
    (
        "UPLOAD_CONTENT_MISMATCH",
        409,
        "上传内容与申报的大小或校验值不符",
        "The bytes differ from the declared size or SHA-256",
    ),
    ("UPLOAD_CONTENT_MISSING", 422, "照片内容尚未上传", "The photo's bytes have not arrived yet"),
    ("UPLOAD_EXPIRED", 409, "上传已过期,请重新上传", "The upload expired; declare a new one"),
    ("UPLOAD_UNKNOWN", 422, "照片不存在或不属于您", "No such upload of yours"),
    ("UPLOAD_NOT_ATTACHABLE", 422, "该照片未通过检查或尚未上传完成", "The upload is rejected, expired or not complete"),
    ("UPLOAD_ALREADY_ATTACHED", 422, "该照片已用于其他记录", "The upload is already attached to a record"),
    ("UPLOAD_NOT_UNDER_REVIEW", 409, "该照片无需审核", "The upload is not awaiting review"),
    ("UPLOAD_ORIGINAL_GONE", 409, "原始照片已按保存期限删除", "The original was deleted under the retention policy"),
    (
        "UPLOAD_QUOTA_EXCEEDED",
        429,
        "未完成的上传或近一小时上传量已达上限,请稍后再试",
        "Too many uploads not completed, or too many bytes declared in the last hour; try again later",
    ),
]:
    register(*_c)


@dataclass
class Declared:
    upload: Upload
    #: {"method": "POST", "url", "fields"} (S3) or {"method": "PUT", "url": None, "headers"} (local)
    instructions: dict


def _unavailable(exc: StorageError) -> DomainError:
    return DomainError("SERVICE_UNAVAILABLE", detail="photo storage", retry_after=10)


def declare(actor: Actor, purpose: str, content_type: str, size_bytes: int, sha256: str) -> Declared:
    """Record a pending upload and say how to send its bytes; nothing is stored under a client's name."""
    access.require(actor, "upload.create")
    if purpose not in PURPOSES_BY_ROLE.get(actor.role, ()):
        raise DomainError("UPLOAD_PURPOSE_NOT_ALLOWED", {"purpose": [purpose]})
    content_type = content_type.split(";")[0].strip().lower()
    if content_type not in DECLARABLE_TYPES:
        raise DomainError(
            "UPLOAD_TYPE_NOT_ALLOWED", {"content_type": ["one of: " + ", ".join(sorted(DECLARABLE_TYPES))]}
        )
    settings = runtime.settings()
    if size_bytes > settings.upload_max_bytes:
        raise DomainError("UPLOAD_TOO_LARGE", {"size_bytes": [f"at most {settings.upload_max_bytes}"]})
    storage = get_storage()
    now, token = utcnow(), uuid.uuid4().hex
    incoming = f"incoming/{token}"
    try:
        post = storage.presign_upload(incoming, content_type, size_bytes, settings.upload_link_seconds)
    except StorageError as exc:
        raise _unavailable(exc) from exc
    with db.tx() as s:
        _check_quota(s, actor, size_bytes, now)
        upload = Upload(
            owner_id=actor.user_id,
            subject_id=actor.subject_id if actor.role == "subject" else None,
            purpose=purpose,
            status=UPLOAD_STATES.initial,
            declared_type=content_type,
            size_bytes=size_bytes,
            sha256=sha256.lower(),
            storage_key=f"originals/{now:%Y/%m}/{token}",
            incoming_key=incoming if post is not None else None,
            upload_expires_at=now + timedelta(hours=settings.upload_pending_hours),
            created_at=now,
        )
        s.add(upload)
        s.flush()
        audit.record(s, "upload.declare", actor=actor, target_type="upload", target_id=upload.id)
    link_expires = now + timedelta(seconds=settings.upload_link_seconds)
    if post is None:
        post = {"method": "PUT", "url": None, "headers": {"Content-Type": content_type}}
    return Declared(upload, {**post, "expires_at": link_expires})


def _check_quota(s: Session, actor: Actor, size_bytes: int, now: datetime) -> None:
    """Refuse a declaration past the user's quota with 429 and when to retry (docs/photos.md#upload-quota).

    Counted from the uploads themselves, in the transaction that adds the new one: the user's row is locked
    first (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers), so concurrent declarations of
    one user cannot all slip under the limit together.
    """
    settings = runtime.settings()
    s.execute(select(User.id).where(User.id == actor.user_id).with_for_update())
    mine = Upload.owner_id == actor.user_id
    limit = settings.upload_quota_pending
    pending = list(
        s.scalars(
            select(Upload.upload_expires_at)
            .where(mine, Upload.status == "pending", Upload.upload_expires_at > now)
            .order_by(Upload.upload_expires_at)
        )
    )
    if len(pending) >= limit:  # a slot frees when one is completed, or else when enough of them expire
        frees_at = pending[len(pending) - limit]
        raise DomainError(
            "UPLOAD_QUOTA_EXCEEDED",
            {"pending": [f"at most {limit} uploads declared and not completed"]},
            retry_after=_seconds(frees_at - now),
        )
    window = timedelta(hours=1)
    recent = s.execute(
        select(Upload.created_at, Upload.size_bytes)
        .where(mine, Upload.created_at > now - window)
        .order_by(Upload.created_at)
    ).all()
    budget = settings.upload_quota_bytes_per_hour
    excess = sum(r.size_bytes for r in recent) + size_bytes - budget
    if excess > 0:  # wait until enough of the hour's declarations leave the window
        wait = window
        for r in recent:
            excess -= r.size_bytes
            if excess <= 0:
                wait = r.created_at + window - now
                break
        raise DomainError(
            "UPLOAD_QUOTA_EXCEEDED",
            {"size_bytes": [f"at most {budget} bytes declared in any 60 minutes"]},
            retry_after=_seconds(wait),
        )


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


def visible(session: Session, actor: Actor, upload_id: int, *, lock: bool = False) -> Upload:
    """The upload if the actor may see it: its owner; staff when its subject is in their jurisdiction."""
    cond = Upload.owner_id == actor.user_id
    if actor.role in access.STAFF:
        cond = or_(cond, Upload.subject_id.in_(select(Subject.id).where(access.subject_scope(actor))))
    stmt = select(Upload).where(Upload.id == upload_id, cond)
    upload = session.scalar(stmt.with_for_update() if lock else stmt)
    if upload is None:
        raise NotFound("upload")
    return upload


def _own(session: Session, actor: Actor, upload_id: int, *, lock: bool = False) -> Upload:
    stmt = select(Upload).where(Upload.id == upload_id, Upload.owner_id == actor.user_id)
    upload = session.scalar(stmt.with_for_update() if lock else stmt)
    if upload is None:
        raise NotFound("upload")
    return upload


def get(actor: Actor, upload_id: int) -> Upload:
    access.require(actor, "upload.read")
    with db.tx() as s:
        return visible(s, actor, upload_id)


def receive(actor: Actor, upload_id: int, body: BinaryIO, content_type: str | None) -> Upload:
    """Store the bytes sent to this server (local storage only), verified as they stream to disk.

    A body that differs from the declaration (size or SHA-256) is refused with 409 and nothing is kept;
    a body longer than declared is cut off with 413; resending the identical bytes is accepted.
    """
    access.require(actor, "upload.create")
    storage = get_storage()
    with db.tx() as s:
        upload = _own(s, actor, upload_id)
    if upload.incoming_key is not None:
        raise NotFound("upload content")  # S3: the bytes go to the presigned POST, never through us
    if upload.status == "expired":
        raise DomainError("UPLOAD_EXPIRED")
    if content_type is not None and content_type.split(";")[0].strip().lower() != upload.declared_type:
        raise DomainError("UNSUPPORTED_MEDIA_TYPE", context={"declared_type": upload.declared_type})
    reader = VerifyingReader(body, upload.size_bytes, upload.sha256)
    try:
        if upload.status != "pending" or storage.head(upload.storage_key) is not None:
            reader.drain()  # already here: only an identical resend is fine
        else:
            storage.put(upload.storage_key, reader, upload.declared_type)
    except TooLarge as exc:
        raise DomainError("UPLOAD_TOO_LARGE", {"size_bytes": [f"declared {upload.size_bytes}"]}) from exc
    except Mismatch as exc:
        raise DomainError("UPLOAD_CONTENT_MISMATCH") from exc
    except StorageError as exc:
        raise _unavailable(exc) from exc
    return upload


def _verify_object(upload: Upload) -> None:
    """Bring the bytes to ``storage_key`` (S3: copy from the incoming key) and check size and SHA-256."""
    storage = get_storage()
    if upload.incoming_key is not None and storage.head(upload.incoming_key) is not None:
        if storage.head(upload.incoming_key) != upload.size_bytes:
            storage.delete(upload.incoming_key)
            raise DomainError("UPLOAD_CONTENT_MISMATCH")
        storage.copy(upload.incoming_key, upload.storage_key)
    size = storage.head(upload.storage_key)
    if size is None:
        raise DomainError("UPLOAD_CONTENT_MISSING")
    with contextlib.closing(storage.open(upload.storage_key)) as fh:
        try:
            found = digest_of(fh, upload.size_bytes)
        except TooLarge:
            found = (None, None)
    if found != (upload.size_bytes, upload.sha256):
        storage.delete(upload.storage_key)
        if upload.incoming_key is not None:
            storage.delete(upload.incoming_key)
        raise DomainError("UPLOAD_CONTENT_MISMATCH")


def _check_resend(upload: Upload) -> None:
    """After completion an identical resend to S3 is harmless; different bytes are a conflict (409)."""
    storage = get_storage()
    if upload.incoming_key is None or storage.head(upload.incoming_key) is None:
        return
    with contextlib.closing(storage.open(upload.incoming_key)) as fh:
        try:
            found = digest_of(fh, upload.size_bytes)
        except TooLarge:
            found = (None, None)
    storage.delete(upload.incoming_key)
    if found != (upload.size_bytes, upload.sha256):
        raise DomainError("UPLOAD_CONTENT_MISMATCH")


def complete(actor: Actor, upload_id: int) -> Upload:
    """Verify the bytes and queue the intrinsic checks; calling it again returns the upload as it is.

    The storage work runs outside any transaction (it may read 30 MB); the state change re-reads the row
    under a lock, so two concurrent completions queue the checks once.
    """
    access.require(actor, "upload.create")
    with db.tx() as s:
        upload = _own(s, actor, upload_id)
    try:
        if upload.status == "expired":
            raise DomainError("UPLOAD_EXPIRED")
        if upload.status != "pending":
            _check_resend(upload)
            return upload
        _verify_object(upload)
    except StorageError as exc:
        raise _unavailable(exc) from exc
    with db.tx() as s:
        upload = _own(s, actor, upload_id, lock=True)
        if upload.status == "expired":
            raise DomainError("UPLOAD_EXPIRED")
        if upload.status == "pending":
            UPLOAD_STATES.apply(upload, "processing")
            upload.completed_at = utcnow()
            outbox.add(s, "check_upload", {"upload_id": upload.id})
            audit.record(s, "upload.complete", actor=actor, target_type="upload", target_id=upload.id)
    if upload.incoming_key is not None:
        with contextlib.suppress(StorageError):
            get_storage().delete(upload.incoming_key)  # the cleanup job retries what fails here
    return upload


def link_expiry(upload: Upload) -> datetime:
    return upload.created_at + timedelta(seconds=runtime.settings().upload_link_seconds)
