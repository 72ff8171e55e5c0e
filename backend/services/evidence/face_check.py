"""The face check of check-in selfies: an attachment check of the photo evidence pipeline (docs/photos.md#face-check).

When the selfie attached to a check-in (record type ``checkin``) has passed the intrinsic checks, the
``on_verdict`` hook queues one ``check_face`` job (outbox, so it is never lost). The job finds the
faces, compares the one usable face with the subject's references and records the result and the
distance to the nearest reference. NO_FACE, MULTIPLE_FACES, FACE_TOO_SMALL, FACE_MISMATCH (distance
above FACE_MATCH_THRESHOLD) and FACE_UNCERTAIN (within FACE_UNCERTAIN_BAND below it) are reasons:
the selfie turns suspect, which opens the officer's review and an ``EVIDENCE_SUSPECT`` warning; the
officer confirms (fraud) or clears, and may add a cleared selfie as a reference. NO_REFERENCE (no
enrolment yet; the photo is not analysed) is not held against the check-in: the officer gets one
``FACE_REFERENCE_MISSING`` warning, handled by the enrolment. The selfie's own descriptor is compared and
dropped, never stored; a released subject's pending checks find no reference and warn no one.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from backend import runtime
from backend.models import Subject, Upload, utcnow
from backend.models.faces import FaceCheck
from backend.services.core import audit, outbox, rowlocks
from backend.services.core.handlers import handler
from backend.services.core.warnings import raise_warning
from backend.services.evidence import attachments, faces
from media import faces as face_model
from media import reasons

log = logging.getLogger(__name__)
MATCH, NO_REFERENCE, UNREADABLE = "MATCH", "NO_REFERENCE", "UNREADABLE"
CHECKIN_RECORD = "checkin"  # the record type check-ins (and return reports) attach their selfie to
for _r in [
    ("NO_FACE", "照片中未检测到人脸", "No face was found in the selfie"),
    ("MULTIPLE_FACES", "照片中有多张人脸", "The selfie shows more than one face"),
    ("FACE_TOO_SMALL", "照片中人脸过小,无法比对", "The face in the selfie is too small to compare"),
    ("FACE_MISMATCH", "人脸与本人底库照片不符", "The face does not match the subject's reference photos"),
    ("FACE_UNCERTAIN", "人脸比对结果不确定,需人工核验", "The face match is uncertain and needs a person's review"),
]:
    reasons.register(_r[0], reasons.SUSPECT, _r[1], _r[2])
_OUTCOMES = {face_model.NONE: "NO_FACE", face_model.MULTIPLE: "MULTIPLE_FACES", face_model.TOO_SMALL: "FACE_TOO_SMALL"}


@attachments.on_verdict
def queue_face_check(session: Session, upload: Upload) -> None:
    """Queue the face check once per checked photo attached to a check-in (in the verdict's transaction)."""
    if upload.record_type != CHECKIN_RECORD or upload.status == "rejected" or upload.subject_id is None:
        return
    if session.get(FaceCheck, upload.id) is not None:
        return
    session.add(FaceCheck(upload_id=upload.id, subject_id=upload.subject_id, status="pending"))
    outbox.add(session, "check_face", {"upload_id": upload.id})


def classify(distance: float, threshold: float, band: float) -> str:
    """MATCH at or below ``threshold − band``; FACE_UNCERTAIN up to the threshold; FACE_MISMATCH above it."""
    if distance > threshold:
        return "FACE_MISMATCH"
    return "FACE_UNCERTAIN" if distance > round(threshold - band, 6) else MATCH


@handler("check_face")
def check_face(session: Session, payload: dict) -> None:
    """Run one selfie's face check once; a missing row, or one already checked, is nothing to do.

    Lock order (docs/schedules.md#lock-order): the subject's row first — the warning or the suspect
    verdict this check may raise refers to it, and ``place_checkin`` of the same check-in runs at the same
    time — then the upload's, then the face check's.
    """
    subject = rowlocks.lock_subject_of(session, Upload, payload["upload_id"])
    upload = rowlocks.lock(session, Upload, payload["upload_id"]) if subject is not None else None
    check = rowlocks.lock(session, FaceCheck, payload["upload_id"]) if upload is not None else None
    if upload is None or check is None or check.status != "pending":
        log.info("face check not pending; nothing to do", extra={"upload_id": payload["upload_id"]})
        return
    run(session, upload, check)


def run(session: Session, upload: Upload, check: FaceCheck) -> str:
    """Compare the selfie with the references; record the result, add any reason; return the result code."""
    settings = runtime.settings()
    detail = _compare(session, upload, check, settings.face_match_threshold, settings.face_uncertain_band)
    check.status, check.checked_at = "done", utcnow()
    audit.record(
        session,
        "face.check",
        target_type="upload",
        target_id=upload.id,
        details={
            "subject_id": check.subject_id,
            "result": check.result,
            "distance": detail.get("distance"),
            "references": check.references_compared,
        },
    )
    if check.result in reasons.REASONS:
        attachments.add_reasons(session, upload, [(check.result, detail)])
    elif check.result == NO_REFERENCE and (subject := session.get(Subject, check.subject_id)).status == "in_correction":
        raise_warning(
            session,
            subject,
            faces.MISSING_WARNING,
            "low",
            "未采集人脸底库,报到自拍无法比对",
            period_key="face",
            details={"upload_id": upload.id, "result": NO_REFERENCE},
            evidence=[{"kind": "upload", "id": upload.id}],
        )
    return check.result


def _compare(session: Session, upload: Upload, check: FaceCheck, threshold: float, band: float) -> dict:
    refs = faces.descriptors(session, check.subject_id)
    if not refs:
        check.result = NO_REFERENCE  # nothing to compare with: the photo is not even read
        return {}
    found = faces.photo_bytes(upload)
    if found is None:
        check.result = UNREADABLE  # both the derivative and the original are gone: nothing to compare
        return {}
    analysis = face_model.analyse_bytes(*found)
    check.faces_found = len(analysis.faces)
    check.face_px = analysis.face.size if analysis.face else max((b.size for b in analysis.faces), default=None)
    if analysis.outcome != face_model.ONE:
        check.result = _OUTCOMES[analysis.outcome]
        if analysis.outcome == face_model.MULTIPLE:
            return {"faces": len(analysis.faces)}
        if analysis.outcome == face_model.TOO_SMALL:
            return {"face_px": check.face_px, "min_px": face_model.MIN_FACE_PX}
        return {}
    check.references_compared = len(refs)
    dists = face_model.distances(analysis.descriptor, [d for _r, d in refs])
    nearest = min(range(len(dists)), key=dists.__getitem__)
    check.distance, check.threshold = round(dists[nearest], 4), threshold
    check.reference_id = refs[nearest][0].id
    check.result = classify(dists[nearest], threshold, band)
    return {"distance": check.distance, "threshold": threshold}
