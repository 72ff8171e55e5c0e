"""Location history: the GPS points of a subject's check-ins and uploads, for staff only.

Rules: docs/audit-and-privacy.md#location-history.

Every read needs a purpose and is audited (who, whose, which dates, how many points). Grid workers never
get it (no policy entry for them), and nothing else counts as a location: no tracking, no other source.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from sqlalchemy import Select, func, select

from backend.db import db
from backend.errors import DomainError, register
from backend.models import Upload
from backend.models.checkin import CheckIn
from backend.services.activities import periods
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.identity import access

register("DATE_RANGE_INVALID", 422, "日期范围不正确(最长一年)", "The date range is not valid (at most one year)")
access.allow("subject.locations", access.STAFF)
MAX_DAYS = 366
#: rows read per round trip when an export streams
CHUNK = 500


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


def _window(actor: Actor, subject_id: int, purpose: str | None, date_from: date | None, date_to: date | None):
    """Check the caller, the subject, the purpose and the dates; the stripped purpose and the dates."""
    access.require(actor, "subject.locations")
    access.get_subject(db.session, actor, subject_id)  # 404 outside the jurisdiction, before anything else
    if not purpose or not purpose.strip():
        raise DomainError("PURPOSE_REQUIRED")
    today = periods.local_date(periods.now())
    date_to = date_to or today
    date_from = date_from or date_to - timedelta(days=29)
    if date_to < date_from or (date_to - date_from).days >= MAX_DAYS:
        raise DomainError("DATE_RANGE_INVALID", {"date_from": [f"before date_to, at most {MAX_DAYS} days"]})
    return purpose.strip(), date_from, date_to


def _bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    return periods.local_midnight(date_from), periods.local_midnight(date_to + timedelta(days=1))


def _checkins(subject_id: int, lo: datetime, hi: datetime) -> Select:
    return select(CheckIn).where(CheckIn.subject_id == subject_id, CheckIn.received_at >= lo, CheckIn.received_at < hi)


def _uploads(subject_id: int, lo: datetime, hi: datetime) -> Select:
    return select(Upload).where(Upload.subject_id == subject_id, Upload.created_at >= lo, Upload.created_at < hi)


def _checkin_point(c: CheckIn) -> dict:
    at = c.counted_at or c.received_at
    return {
        "source": "checkin",
        "id": c.id,
        "at": at,
        "latitude": c.latitude,
        "longitude": c.longitude,
        "accuracy_m": c.accuracy_m,
    }


def _upload_point(u: Upload) -> dict | None:
    lat, lon = (u.facts or {}).get("latitude"), (u.facts or {}).get("longitude")
    if lat is None or lon is None:
        return None
    return {"source": "upload", "id": u.id, "at": _taken(u), "latitude": lat, "longitude": lon, "accuracy_m": None}


def history(actor: Actor, subject_id: int, purpose: str | None, date_from: date | None, date_to: date | None) -> list:
    """Points newest first: check-ins (claimed GPS) and uploads (EXIF GPS) of the subject within the dates."""
    purpose, date_from, date_to = _window(actor, subject_id, purpose, date_from, date_to)
    lo, hi = _bounds(date_from, date_to)
    with db.tx() as s:
        subject = access.get_subject(s, actor, subject_id)
        points = [_checkin_point(c) for c in s.scalars(_checkins(subject.id, lo, hi))]
        points += [p for u in s.scalars(_uploads(subject.id, lo, hi)) if (p := _upload_point(u)) is not None]
        audit.record(
            s,
            "subject.read_locations",
            actor=actor,
            target_type="subject",
            target_id=subject.id,
            purpose=purpose,
            details={"date_from": date_from.isoformat(), "date_to": date_to.isoformat(), "points": len(points)},
        )
    return sorted(points, key=lambda p: (p["at"], p["source"], p["id"]), reverse=True)


def export(
    actor: Actor, subject_id: int, purpose: str | None, date_from: date | None, date_to: date | None
) -> Iterator:
    """Audit a CSV export of the history now; its points (check-ins, then uploads, each newest first) come lazily.

    The returned iterator reads the rows in chunks from ``db.session`` as it is consumed (while a response
    streams), so that session must stay open until it is exhausted.
    """
    purpose, date_from, date_to = _window(actor, subject_id, purpose, date_from, date_to)
    with db.tx() as s:
        subject = access.get_subject(s, actor, subject_id)
        filters = {"date_from": date_from.isoformat(), "date_to": date_to.isoformat()}
        audit.record(
            s,
            "locations.export",
            actor=actor,
            target_type="subject",
            target_id=subject.id,
            purpose=purpose,
            details={"filters": filters},
        )
    return _stream(subject.id, *_bounds(date_from, date_to))


def _stream(subject_id: int, lo: datetime, hi: datetime) -> Iterator[dict]:
    s = db.session
    checkins = _checkins(subject_id, lo, hi).order_by(
        func.coalesce(CheckIn.counted_at, CheckIn.received_at).desc(), CheckIn.id.desc()
    )
    for c in s.scalars(checkins.execution_options(yield_per=CHUNK)):
        yield _checkin_point(c)
    uploads = _uploads(subject_id, lo, hi).order_by(Upload.created_at.desc(), Upload.id.desc())
    for u in s.scalars(uploads.execution_options(yield_per=CHUNK)):
        if (p := _upload_point(u)) is not None:
            yield p
