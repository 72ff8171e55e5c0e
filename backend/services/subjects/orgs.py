"""Org units: create with a materialised path; list a subtree."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import DomainError
from backend.models import OrgUnit
from backend.models.org import LEVELS
from backend.services.core import areas, audit
from backend.services.core.actors import Actor
from backend.services.identity import access


def create_unit(
    session: Session, *, level: str, name: str, code: str, parent_id: int | None, area: dict | None = None
) -> OrgUnit:
    """Insert a unit one level below its parent (a province has none)."""
    if level not in LEVELS:
        raise DomainError("ORG_UNIT_INVALID", {"level": ["unknown level"]})
    parent = session.get(OrgUnit, parent_id) if parent_id is not None else None
    expected_parent = LEVELS[LEVELS.index(level) - 1] if level != "province" else None
    if (parent.level if parent else None) != expected_parent:
        raise DomainError("ORG_UNIT_INVALID", {"parent_id": [f"a {level} belongs under a {expected_parent}"]})
    if area is not None and level != "district":
        raise DomainError("ORG_UNIT_INVALID", {"area": ["only districts carry an area"]})
    if area is not None:
        areas.validate(area)  # GeoJSON geometry (docs/checkins.md#geofence)
    if session.scalar(select(OrgUnit.id).where(OrgUnit.code == code)) is not None:
        raise DomainError("CONFLICT", {"code": ["already used"]})
    unit = OrgUnit(level=level, name=name, code=code, parent_id=parent_id, area=area)
    session.add(unit)
    session.flush()
    unit.path = (parent.path if parent else "/") + f"{unit.id}/"
    return unit


def add_unit(actor: Actor, data: dict) -> OrgUnit:
    access.require(actor, "admin.org_units")
    with db.tx() as s:
        unit = create_unit(s, **data)
        audit.record(
            s,
            "org_unit.create",
            actor=actor,
            target_type="org_unit",
            target_id=unit.id,
            details={"level": unit.level, "code": unit.code},
        )
    return unit


def subtree(session: Session, unit_id: int) -> list[OrgUnit]:
    root = session.get(OrgUnit, unit_id)
    if root is None:
        return []
    return list(session.scalars(select(OrgUnit).where(OrgUnit.path.like(root.path + "%")).order_by(OrgUnit.path)))


access.allow("org.staff_read", {"officer", "bureau"})
_LEVEL_ORDER = {"province": 0, "city": 1, "district": 2, "office": 3, "grid": 4}


def staff_units(session: Session, actor: Actor) -> list[OrgUnit]:
    """The units a staff user works in: an officer's offices, their grids and their district; a bureau user's
    district, its offices and their grids. District first, then offices, then grids (each by id)."""
    access.require(actor, "org.staff_read")
    if actor.role == "officer":
        offices = select(OrgUnit.id).where(OrgUnit.id.in_(actor.unit_ids or [-1]), OrgUnit.level == "office")
    else:
        offices = access.district_office_ids(actor.unit_ids)
    office_rows = list(session.scalars(select(OrgUnit).where(OrgUnit.id.in_(offices))))
    office_ids = [o.id for o in office_rows]
    above = {int(i) for o in office_rows for i in o.path.strip("/").split("/") if i.isdigit()}
    if actor.role == "bureau":
        above |= set(actor.unit_ids)
    districts = list(session.scalars(select(OrgUnit).where(OrgUnit.id.in_(above or [-1]), OrgUnit.level == "district")))
    grids = list(
        session.scalars(select(OrgUnit).where(OrgUnit.parent_id.in_(office_ids or [-1]), OrgUnit.level == "grid"))
    )
    return sorted([*districts, *office_rows, *grids], key=lambda u: (_LEVEL_ORDER.get(u.level, 9), u.id))
