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

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import runtime
from backend.models import Upload, utcnow
from backend.services import audit, evidence
from backend.services.handlers import handler
from backend.services.uploads import UPLOAD_STATES
from backend.storage import get_storage
from media.checks import Inspection, Limits, inspect_isolated

log = logging.getLogger(__name__)


def limits() -> Limits:
    s = runtime.settings()
    return Limits(max_bytes=s.upload_max_bytes, max_pixels=s.upload_max_pixels)


def derivative_key(upload: Upload, name: str) -> str:
    return f"derived/{upload.storage_key.removeprefix('originals/')}/{name}.jpg"


def run_checks(session: Session, upload: Upload) -> Inspection:
    """Inspect the stored original, store the derivatives and record the verdict on the (locked) row."""
    storage = get_storage()
    with contextlib.closing(storage.open(upload.storage_key)) as fh:
        data = fh.read(upload.size_bytes + 1)
    result = inspect_isolated(data, limits(), timeout_s=runtime.settings().photo_check_timeout_s)
    derivatives = {}
    for name, d in (("display", result.display), ("thumbnail", result.thumbnail)):
        if d is not None:
            key = derivative_key(upload, name)
            storage.put(key, io.BytesIO(d.data), d.content_type)
            derivatives[name] = {"key": key, "width": d.width, "height": d.height, "content_type": d.content_type}
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
        evidence.evaluate(session, upload)  # attached while it was being checked
    else:
        evidence.close_case(upload)
        evidence.notify_verdict(session, upload)  # a record holding a rejected photo learns of it
    return result


@handler("check_upload")
def check_upload(session: Session, payload: dict) -> None:
    """Check one upload once: a missing row, or one already checked, is nothing to do."""
    upload = session.scalar(select(Upload).where(Upload.id == payload["upload_id"]).with_for_update())
    if upload is None or upload.status != "processing":
        log.info("upload not awaiting checks; nothing to do", extra={"upload_id": payload["upload_id"]})
        return
    run_checks(session, upload)
