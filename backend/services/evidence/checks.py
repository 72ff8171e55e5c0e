"""The intrinsic checks of a completed upload, run by the outbox job ``check_upload``.

Idempotent: the row is locked and only a ``processing`` upload is checked; derivative keys are derived
from the original's, so a rerun after a crash overwrites the same objects. A hostile file never fails
the job: every parser error, time-out or decoder crash inside the sandbox becomes a ``rejected`` verdict.
Storage being down does fail it (a transient error): the outbox relay runs it again later.
"""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import runtime
from backend.db import db
from backend.models import Upload, utcnow
from backend.services.core import audit
from backend.services.core.handlers import handler, preparer
from backend.services.evidence import attachments
from backend.services.evidence.uploads import UPLOAD_STATES
from backend.storage import get_storage
from media.checks import Inspection, Limits, inspect_isolated

log = logging.getLogger(__name__)


def limits() -> Limits:
    s = runtime.settings()
    return Limits(max_bytes=s.upload_max_bytes, max_pixels=s.upload_max_pixels)


def derivative_key(storage_key: str, name: str) -> str:
    return f"derived/{storage_key.removeprefix('originals/')}/{name}.jpg"


@dataclass
class Inspected:
    """What the slow phase found for one stored original: the verdict and the derivatives it stored."""

    storage_key: str
    result: Inspection
    derivatives: dict


def inspect_original(upload_id: int, storage_key: str, size_bytes: int, declared_type: str | None = None) -> Inspected:
    """Read the original, inspect it in the sandbox (against its declared content type: ``TYPE_MISMATCH``)
    and store its derivatives; touches no database row.

    Safe to repeat: derivative keys are derived from the original's, so a rerun overwrites the same objects.
    """
    storage = get_storage()
    with contextlib.closing(storage.open(storage_key)) as fh:
        data = fh.read(size_bytes + 1)
    timeout_s = runtime.settings().photo_check_timeout_s
    result = inspect_isolated(data, limits(), declared_type=declared_type, timeout_s=timeout_s)
    derivatives = {}
    for name, d in (("display", result.display), ("thumbnail", result.thumbnail)):
        if d is not None:
            key = derivative_key(storage_key, name)
            storage.put(key, io.BytesIO(d.data), d.content_type)
            derivatives[name] = {"key": key, "width": d.width, "height": d.height, "content_type": d.content_type}
    return Inspected(storage_key, result, derivatives)


@preparer("check_upload")
def prepare_check(payload: dict) -> Inspected | None:
    """First phase of ``check_upload``, outside the job's transaction: decoding a large or hostile photo
    (up to the sandbox's time limit) must not hold SQLite's write lock or a PostgreSQL row lock."""
    session = db.new_session()
    try:
        row = session.execute(
            select(Upload.storage_key, Upload.size_bytes, Upload.status, Upload.declared_type).where(
                Upload.id == payload["upload_id"]
            )
        ).first()
    finally:
        session.close()
    if row is None or row.status != "processing":
        return None
    return inspect_original(payload["upload_id"], row.storage_key, row.size_bytes, row.declared_type)


def run_checks(session: Session, upload: Upload, inspected: Inspected | None = None) -> Inspection:
    """Record the verdict of the stored original on the (locked) row, inspecting it first if not done yet."""
    if inspected is None or inspected.storage_key != upload.storage_key:
        inspected = inspect_original(upload.id, upload.storage_key, upload.size_bytes, upload.declared_type)
    result, derivatives = inspected.result, inspected.derivatives
    upload.derivatives = derivatives
    upload.format = result.facts.get("format")
    upload.facts = result.facts
    upload.phash = result.phash
    upload.reasons = [{"code": c, "detail": result.details.get(c, {})} for c in result.reasons]
    UPLOAD_STATES.apply(upload, result.verdict)
    upload.checked_at = utcnow()
    audit.record(
        session,
        "upload.check",
        target_type="upload",
        target_id=upload.id,
        details={"verdict": upload.status, "reasons": result.reasons},
    )
    if upload.record_type is not None and upload.status != "rejected":
        attachments.evaluate(session, upload)  # attached while it was being checked
    else:
        attachments.close_case(upload)
        attachments.notify_verdict(session, upload)  # a record holding a rejected photo learns of it
    return result


@handler("check_upload")
def check_upload(session: Session, payload: dict) -> None:
    """Check one upload once: a missing row, or one already checked, is nothing to do."""
    upload = session.scalar(select(Upload).where(Upload.id == payload["upload_id"]).with_for_update())
    if upload is None or upload.status != "processing":
        log.info("upload not awaiting checks; nothing to do", extra={"upload_id": payload["upload_id"]})
        return
    run_checks(session, upload, payload.get("_prepared"))
