"""Release (解矫): freeze the score and write the export record for the provincial platform.

Idempotent: releasing a released subject returns the existing record. Other features act on the release
in its transaction through ``subjects.hooks.RELEASE_HOOKS`` (the face feature deletes the face data there).
"""

from __future__ import annotations

from sqlalchemy import update

from backend.db import db
from backend.errors import DomainError
from backend.models import OrgUnit, utcnow
from backend.models.scoring import ScoreRelease, SubjectScore
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.identity import access
from backend.services.scoring import read, score
from backend.services.scoring.rules import current
from backend.services.subjects import profiles
from backend.services.subjects.hooks import RELEASE_HOOKS

access.allow("scoring.release", {"officer", "bureau"})
access.allow("scoring.export", {"officer", "bureau"})
EXPORT_FORMAT = "zhijiao.credit_correction_export.v1"


def release(actor: Actor, subject_id: int, note: str | None) -> ScoreRelease:
    """Release the subject: the score is frozen as it stands and the export record is written."""
    access.require(actor, "scoring.release")
    with db.tx() as s:
        subject = access.get_subject(s, actor, subject_id)
        existing = s.get(ScoreRelease, subject.id)
        if existing is not None:
            return existing
        if subject.status != "in_correction":
            raise DomainError("SUBJECT_RELEASED")
        row = score.lock(s, subject, current(s))
        s.execute(update(SubjectScore).where(SubjectScore.subject_id == subject.id).values(frozen=True))
        now = utcnow()
        subject.status, subject.released_at = "released", now
        s.flush()
        view = read.view(subject)
        office = s.get(OrgUnit, subject.office_id)
        record = {
            "format": EXPORT_FORMAT,
            "subject": {
                "id": subject.id,
                "name": subject.name,
                "id_number_masked": profiles.masked_id_number(subject),
                "correction_type": subject.correction_type,
                "start_date": subject.start_date.isoformat(),
                "end_date": subject.end_date.isoformat(),
                "office_code": office.code if office else None,
            },
            "released_at": now.isoformat(),
            "final_score": {
                k: view[k]
                for k in (
                    "total",
                    "public_base",
                    "base_pending",
                    "management",
                    "dimensions",
                    "grade",
                    "grade_name",
                    "colour",
                )
            },
            "city_conversions": view["city_conversions"],
            "rule_version": view["rule_version"],
            "note": note,
        }
        rel = ScoreRelease(
            subject_id=subject.id,
            released_at=now,
            released_by=actor.user_id,
            total=row["total"],
            grade=row["grade"],
            record=record,
        )
        s.add(rel)
        for hook in RELEASE_HOOKS:
            hook(s, subject)
        audit.record(
            s,
            "subject.release",
            actor=actor,
            target_type="subject",
            target_id=subject.id,
            details={"total": row["total"], "grade": row["grade"], "note": note},
        )
    return rel


def export(actor: Actor, subject_id: int) -> ScoreRelease:
    """The release export record (JSON) of a released subject."""
    access.require(actor, "scoring.export")
    s = db.session
    subject = access.get_subject(s, actor, subject_id)
    rel = s.get(ScoreRelease, subject.id)
    if rel is None:
        raise DomainError("SUBJECT_NOT_RELEASED")
    return rel
