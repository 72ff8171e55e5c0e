"""Scheduled clean-up of photos: uploads never completed, stray incoming objects, and old originals.

Each run is idempotent and bounded (``batch`` rows): objects are deleted first and the rows marked after,
so a crash in between only makes the next run delete them again (a delete of a missing object is fine).
Each run writes one bulk audit row (counts and a digest of the ids), not one per photo. Originals of
suspect evidence stay until their review closes, and any upload under a dispute hold (an appeal's) stays until
the hold is released; the clock (ORIGINAL_RETENTION_DAYS, FRAUD_RETENTION_DAYS for confirmed fraud) runs from the
moment the case closed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from backend import runtime
from backend.db import db
from backend.models import Upload, utcnow
from backend.services.core import audit
from backend.services.evidence import attachments
from backend.services.evidence.uploads import UPLOAD_STATES
from backend.storage import get_storage
from media.storage import StorageError

log = logging.getLogger(__name__)


def _delete_all(keys: list[str]) -> bool:
    storage = get_storage()
    try:
        for key in keys:
            storage.delete(key)
    except StorageError as exc:
        log.warning("photo storage refused a delete; the next run retries", extra={"error": type(exc).__name__})
        return False
    return True


def expire_stale(now: datetime | None = None, batch: int = 500) -> dict:
    """Expire uploads still pending past their deadline, then delete whatever bytes they left behind.

    The row turns ``expired`` before its bytes go, so a completion racing with this run finds an expired
    upload (409) rather than a checked upload whose original vanished.
    """
    now = now or utcnow()
    with db.tx() as s:
        stale = list(
            s.scalars(
                select(Upload)
                .where(Upload.status == "pending", Upload.upload_expires_at < now)
                .order_by(Upload.id)
                .limit(batch)
                .with_for_update()
            )
        )
        for upload in stale:
            UPLOAD_STATES.apply(upload, "expired")
        if stale:
            audit.record_bulk(s, "upload.expire", [u.id for u in stale])
    with db.tx() as s:
        rows = s.execute(
            select(Upload.id, Upload.storage_key, Upload.incoming_key)
            .where(Upload.status == "expired", Upload.original_deleted_at.is_(None))
            .order_by(Upload.id)
            .limit(batch)
        ).all()
    done = [r.id for r in rows if _delete_all([r.storage_key, *([r.incoming_key] if r.incoming_key else [])])]
    with db.tx() as s:
        for upload in s.scalars(select(Upload).where(Upload.id.in_(done))):
            upload.original_deleted_at, upload.incoming_key = now, None
    return {"expired": len(stale), "bytes_deleted": len(done), "incoming_cleared": clear_incoming(now, batch)}


def clear_incoming(now: datetime, batch: int = 500) -> int:
    """Delete the S3 incoming object of completed uploads once their presigned POST can no longer be used."""
    cutoff = now - timedelta(seconds=runtime.settings().upload_link_seconds)
    with db.tx() as s:
        rows = s.execute(
            select(Upload.id, Upload.incoming_key)
            .where(Upload.incoming_key.is_not(None), Upload.status != "pending", Upload.created_at < cutoff)
            .limit(batch)
        ).all()
    done = [r.id for r in rows if _delete_all([r.incoming_key])]
    with db.tx() as s:
        for upload in s.scalars(select(Upload).where(Upload.id.in_(done))):
            upload.incoming_key = None
    return len(done)


def purge_originals(now: datetime | None = None, batch: int = 500) -> dict:
    """Delete originals whose case closed more than ORIGINAL_RETENTION_DAYS ago; keep the derivatives.

    Originals confirmed as fraud are kept FRAUD_RETENTION_DAYS; held originals (a dispute hold, an open review,
    fraud still within its period) are skipped and counted (docs/photos.md#originals-and-retention).
    """
    now = now or utcnow()
    cfg = runtime.settings()
    cutoff = now - timedelta(days=cfg.original_retention_days)
    fraud_cutoff = now - timedelta(days=cfg.fraud_retention_days)
    confirmed = Upload.review_status == "confirmed"
    stored = and_(Upload.original_deleted_at.is_(None), Upload.status.in_(("accepted", "suspect", "rejected")))
    with db.tx() as s:
        rows = s.execute(
            select(Upload.id, Upload.storage_key)
            .where(
                stored,
                Upload.retention_hold.is_(False),
                Upload.case_closed_at < cutoff,
                or_(Upload.review_status.is_(None), Upload.review_status != "open"),
                or_(Upload.review_status.is_(None), ~confirmed, Upload.case_closed_at < fraud_cutoff),
            )
            .order_by(Upload.id)
            .limit(batch)
        ).all()
        held = or_(
            Upload.retention_hold.is_(True),
            Upload.review_status == "open",
            and_(confirmed, Upload.case_closed_at >= fraud_cutoff),
        )
        old_enough = func.coalesce(Upload.case_closed_at, Upload.created_at) < cutoff
        skipped = s.scalar(select(func.count()).select_from(Upload).where(stored, old_enough, held)) or 0
    done = [r.id for r in rows if _delete_all([r.storage_key])]
    with db.tx() as s:
        for upload in s.scalars(select(Upload).where(Upload.id.in_(done))):
            upload.original_deleted_at = now
        if done or skipped:
            details = {"retention_days": (now - cutoff).days, "skipped": skipped}
            audit.record_bulk(s, "upload.purge_original", done, details=details)
    return {"deleted": len(done), "skipped": skipped}


def hold(session: Session, upload_id: int) -> None:
    """Keep an upload's original while a dispute (appeal) is open; call in the dispute's transaction.

    The hold is one flag: the dispute's owner releases it only when no other open dispute relies on the upload.
    """
    upload = session.get(Upload, upload_id, with_for_update=True)
    if upload is not None:
        upload.retention_hold, upload.case_closed_at = True, None


def release(session: Session, upload_id: int) -> None:
    """The dispute is decided: the retention clock starts now."""
    upload = session.get(Upload, upload_id, with_for_update=True)
    if upload is not None and upload.retention_hold:
        upload.retention_hold = False
        attachments.close_case(upload)


def run_expire(_start: datetime) -> dict:
    """Schedule entry: expire stale uploads (every 30 minutes)."""
    return expire_stale()


def run_purge(_start: datetime) -> dict:
    """Schedule entry: purge old originals (daily)."""
    return purge_originals()
