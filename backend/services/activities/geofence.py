"""Geofence: is a check-in inside the permitted area, and the officer's confirmation of a breach.

Rules: docs/checkins.md#geofence.

The permitted area is the subject's district (org-unit data: GeoJSON geometry, a Polygon or a Point with
``radius_m``, see ``core.areas``) or the destination of an approved leave in force (its area, or its destination
district's). A point is outside only when its distance to every permitted area exceeds
max(accuracy, 200 m). Outside raises a GEOFENCE warning, never a penalty by itself; an officer who
confirms the warning (``/staff/warnings/{id}/handle``) emits GEOFENCE_BREACH for that check-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session, aliased

from backend.errors import DomainError
from backend.models import OrgUnit, Subject, Warning
from backend.models.checkin import CheckIn
from backend.models.request import SubjectRequest
from backend.services.activities import periods
from backend.services.core import areas
from backend.services.core.actors import Actor
from backend.services.core.warnings import on_confirm, raise_warning
from backend.services.scoring import emit_event

MIN_TOLERANCE_M = 200.0


@dataclass(frozen=True)
class GeoResult:
    inside: bool | None  # None: no permitted area is known, nothing can be said
    distance_m: float | None
    basis: str | None  # "district:<id>" or "leave:<request id>" (the nearest area)


def validate_area(area: object, field: str = "area") -> dict:
    """The area if it is a usable GeoJSON area (else AREA_INVALID naming ``field``): see ``core.areas``."""
    return areas.validate(area, field)


def distance_to_area(area: dict, lat: float, lon: float) -> float | None:
    """Metres from the point to the area (0 inside); None for an unusable area."""
    return areas.distance_m(area, lat, lon)


_OFFICE = aliased(OrgUnit, name="geo_office")
_DISTRICT = aliased(OrgUnit, name="geo_district")


def with_district(stmt: Select, office_id: ColumnElement) -> Select:
    """``stmt`` plus two columns, the id and area of the district above the office ``office_id`` (outer joins).

    Lets a caller that loads the subject anyway fetch its district in the same statement, for ``check``.
    """
    return (
        stmt.add_columns(_DISTRICT.id, _DISTRICT.area)
        .outerjoin(_OFFICE, _OFFICE.id == office_id)
        .outerjoin(_DISTRICT, _DISTRICT.id == _OFFICE.parent_id)
    )


def leaves_in_force(session: Session, subject_id: int, at: datetime) -> list[SubjectRequest]:
    """Approved leaves whose dates include ``at``'s Shanghai date (and not yet reported back)."""
    day = periods.local_date(at)
    return list(
        session.scalars(
            select(SubjectRequest).where(
                SubjectRequest.subject_id == subject_id,
                SubjectRequest.type == "leave",
                SubjectRequest.status == "approved",
                SubjectRequest.start_date <= day,
                SubjectRequest.end_date >= day,
            )
        )
    )


def _leave_areas(session: Session, subject_id: int, at: datetime) -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = []
    for leave in leaves_in_force(session, subject_id, at):
        if leave.destination_area:
            out.append((f"leave:{leave.id}", leave.destination_area))
        if leave.destination_district_id:
            dest = session.get(OrgUnit, leave.destination_district_id)
            if dest is not None and dest.area:
                out.append((f"leave:{leave.id}", dest.area))
    return out


def _nearest(areas: list[tuple[str, dict]], lat: float, lon: float) -> tuple[float, str] | None:
    best: tuple[float, str] | None = None
    for basis, area in areas:
        d = distance_to_area(area, lat, lon)
        if d is not None and (best is None or d < best[0]):
            best = (d, basis)
    return best


def check(
    session: Session,
    subject_id: int,
    lat: float,
    lon: float,
    accuracy_m: float,
    at: datetime,
    *,
    district: tuple[int, dict | None] | None,
    home_only=False,
) -> GeoResult:
    """Whether the point is inside a permitted area at ``at`` (see the module docstring for the rule).

    The district is tried first; the destinations of leaves in force only when the point is outside it.
    ``district``: the (id, area) of the subject's district (None: none), which the caller loads with the
    subject through ``with_district``.
    """
    tolerance = max(float(accuracy_m), MIN_TOLERANCE_M)
    home = [(f"district:{district[0]}", district[1])] if district is not None and district[1] else []
    best = _nearest(home, lat, lon)
    if (best is None or best[0] > tolerance) and not home_only:
        away = _nearest(_leave_areas(session, subject_id, at), lat, lon)
        if away is not None and (best is None or away[0] < best[0]):
            best = away
    if best is None:
        return GeoResult(None, None, None)
    distance, basis = best
    return GeoResult(distance <= tolerance, round(distance, 1), basis)


def warn_outside(session: Session, subject: Subject, checkin: CheckIn) -> Warning:
    """Open the GEOFENCE warning of a check-in outside the permitted area (no penalty until confirmed)."""
    warning, _created = raise_warning(
        session,
        subject,
        "GEOFENCE",
        "medium",
        "报到位置超出活动范围,请核实",
        period_key=f"checkin:{checkin.id}",
        details={"checkin_id": checkin.id, "distance_m": checkin.distance_m, "area": checkin.area_basis},
        evidence=[{"kind": "checkin", "id": checkin.id}, {"kind": "upload", "id": checkin.upload_id}],
    )
    return warning


@on_confirm("GEOFENCE")
def confirm_breach(session: Session, warning: Warning, actor: Actor, note: str) -> None:
    """An officer confirms an unauthorised departure: GEOFENCE_BREACH for that check-in, once."""
    checkin_id = (warning.details or {}).get("checkin_id")
    checkin = session.get(CheckIn, checkin_id) if isinstance(checkin_id, int) else None
    if checkin is None or checkin.subject_id != warning.subject_id:
        raise DomainError("CONFLICT", detail="warning without its check-in")
    emit_event(
        warning.subject_id,
        "GEOFENCE_BREACH",
        "checkin",
        checkin.id,
        checkin.counted_at or checkin.received_at,
        reason=f"擅自离开活动区域(距离 {round(checkin.distance_m or 0)} 米):{note}"[:500],
        confirmed_by=actor.user_id,
    )
