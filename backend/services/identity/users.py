"""Staff and admin accounts: create with assigned org units (subjects are created by enrolment)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import DomainError
from backend.models import OrgUnit, User, UserUnit
from backend.services.core import audit
from backend.services.core.actors import SYSTEM, Actor
from backend.services.identity import access, passwords

#: which level of org unit each staff role is assigned to
UNIT_LEVEL = {"officer": "office", "grid_worker": "grid", "bureau": "district"}


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    unit_ids: list[int] | None = None,
    check_password: bool = True,
) -> User:
    if role not in ("grid_worker", "officer", "bureau", "admin"):
        raise DomainError("VALIDATION_FAILED", {"role": ["staff role expected; subjects are enrolled"]})
    if check_password:
        passwords.check_policy(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise DomainError("USERNAME_TAKEN")
    unit_ids = list(unit_ids or [])
    want = UNIT_LEVEL.get(role)
    if want is None and unit_ids:
        raise DomainError("ORG_UNIT_INVALID", {"unit_ids": ["admins have no org units"]})
    if want is not None:
        if not unit_ids:
            raise DomainError("ORG_UNIT_INVALID", {"unit_ids": [f"a {role} needs at least one {want}"]})
        levels = session.execute(select(OrgUnit.id, OrgUnit.level).where(OrgUnit.id.in_(unit_ids))).all()
        if len(levels) != len(set(unit_ids)) or any(lv != want for _, lv in levels):
            raise DomainError("ORG_UNIT_INVALID", {"unit_ids": [f"every unit must be a {want}"]})
    user = User(
        username=username,
        role=role,
        display_name=display_name or username,
        password_hash=passwords.hash_password(password),
    )
    session.add(user)
    session.flush()
    for uid in set(unit_ids):
        session.add(UserUnit(user_id=user.id, org_unit_id=uid))
    return user


def add_user(actor: Actor, data: dict) -> User:
    access.require(actor, "admin.users")
    with db.tx() as s:
        user = create_user(s, **data)
        audit.record(
            s,
            "user.create",
            actor=actor,
            target_type="user",
            target_id=user.id,
            details={"role": user.role, "unit_ids": sorted(set(data.get("unit_ids") or []))},
        )
    return user


def create_user_cli(data: dict) -> User:
    with db.tx() as s:
        user = create_user(s, **data)
        audit.record(
            s,
            "user.create",
            actor=SYSTEM,
            target_type="user",
            target_id=user.id,
            details={"role": user.role, "via": "cli"},
        )
    return user


def unit_ids_of(session: Session, user_id: int) -> list[int]:
    return list(session.scalars(select(UserUnit.org_unit_id).where(UserUnit.user_id == user_id)))
