"""Staff and admin accounts: create with assigned org units (subjects are created by enrolment)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import DomainError, NotFound, register
from backend.models import OrgUnit, User, UserUnit
from backend.services.core import audit
from backend.services.core.actors import SYSTEM, Actor
from backend.services.identity import access, auth, passwords

register("LAST_ADMIN", 409, "不能停用最后一名在用的管理员", "The last active admin cannot be disabled")
register("CANNOT_DISABLE_SELF", 409, "不能停用自己的账号", "You cannot disable your own account")

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


def set_active(actor: Actor, user_id: int, active: bool) -> User:
    """Enable or disable a user; disabling revokes all their tokens at once (docs/roles.md#admin).

    An admin cannot disable their own account, and the last active admin cannot be disabled: the active
    admins' rows are locked (FOR UPDATE; SQLite's write lock serialises anyway) before they are counted,
    so two admins disabling each other at once cannot leave none.
    """
    with db.tx() as s:
        user = s.get(User, user_id)
        if user is None:
            raise NotFound("user")
        if user.active == active:
            return user
        if active and auth.is_released(s, user):
            raise DomainError("SUBJECT_RELEASED")  # a released subject's login stays closed
        if not active and user.role == "admin":
            if user.id == actor.user_id:
                raise DomainError("CANNOT_DISABLE_SELF")
            admins = s.scalars(
                select(User.id).where(User.role == "admin", User.active.is_(True)).order_by(User.id).with_for_update()
            ).all()
            if user.id in admins and len(admins) <= 1:
                raise DomainError("LAST_ADMIN")
            s.refresh(user)
            if not user.active:
                return user
        user.active = active
        if not active:
            auth.revoke_all(s, user)
        audit.record(s, "user.enable" if active else "user.disable", actor=actor, target_type="user", target_id=user.id)
    return user
