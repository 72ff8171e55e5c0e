"""Location history (SPEC.md §3, §8): the GPS points of a subject's check-ins and uploads, for staff only.

Every read needs a purpose and is audited (who, whose, which dates, how many points). Grid workers never
get it (no policy entry for them), and nothing else counts as a location: no tracking, no other source.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from backend.db import db
from backend.errors import DomainError, register
from backend.models import Upload
from backend.models.checkin import CheckIn
from backend.services import access, audit, periods
from backend.services.actors import Actor

register("DATE_RANGE_INVALID", 422, "日期范围不正确(最长一年)", "The date range is not valid (at most one year)")
access.allow("subject.locations", access.STAFF)
MAX_DAYS = 366


def _taken(u: Upload) -> datetime:
    """The photo's capture time (a naive EXIF time is Shanghai time), else its upload time."""
    value = (u.facts or {}).get("captured_at")
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        at = None
    if at is None:
        return u.created_at
    return at if at.tzinfo else at.replace(tzinfo=periods.TZ)


def history(actor: Actor, subject_id: int, purpose: str | None, date_from: date | None, date_to: date | None) -> list:
    """Points newest first: check-ins (claimed GPS) and uploads (EXIF GPS) of the subject within the dates."""
    access.require(actor, "subject.locations")
    access.get_subject(db.session, actor, subject_id)  # 404 outside the jurisdiction, before anything else
    if not purpose or not purpose.strip():
        raise DomainError("PURPOSE_REQUIRED")
    today = periods.local_date(periods.now())
    date_to = date_to or today
    date_from = date_from or date_to - timedelta(days=29)
    if date_to < date_from or (date_to - date_from).days >= MAX_DAYS:
        raise DomainError("DATE_RANGE_INVALID", {"date_from": [f"before date_to, at most {MAX_DAYS} days"]})
    lo, hi = periods.local_midnight(date_from), periods.local_midnight(date_to + timedelta(days=1))
    with db.tx() as s:
        subject = access.get_subject(s, actor, subject_id)
        points = [
            {
                "source": "checkin",
                "id": c.id,
                "at": c.counted_at or c.received_at,
                "latitude": c.latitude,
                "longitude": c.longitude,
                "accuracy_m": c.accuracy_m,
            }
            for c in s.scalars(
                select(CheckIn).where(
                    CheckIn.subject_id == subject.id, CheckIn.received_at >= lo, CheckIn.received_at < hi
                )
            )
        ]
        for u in s.scalars(
            select(Upload).where(Upload.subject_id == subject.id, Upload.created_at >= lo, Upload.created_at < hi)
        ):
            lat, lon = (u.facts or {}).get("latitude"), (u.facts or {}).get("longitude")
            if lat is not None and lon is not None:
                at = _taken(u)
                points.append(
                    {"source": "upload", "id": u.id, "at": at, "latitude": lat, "longitude": lon, "accuracy_m": None}
                )
        audit.record(
            s,
            "subject.read_locations",
            actor=actor,
            target_type="subject",
            target_id=subject.id,
            purpose=purpose.strip(),
            details={"date_from": date_from.isoformat(), "date_to": date_to.isoformat(), "points": len(points)},
        )
    return sorted(points, key=lambda p: (p["at"], p["source"], p["id"]), reverse=True)
