"""Access control: the one policy of role × action, and the one jurisdiction filter for every query.

An object outside the caller's jurisdiction is reported as not found (404), never as forbidden, so its
existence is not revealed. A role that may never do an action gets 403.
"""

from __future__ import annotations

from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import ColumnElement

from backend.errors import Forbidden, NotFound
from backend.models import OrgUnit, Subject
from backend.services.core.actors import Actor

ALL = frozenset({"subject", "grid_worker", "officer", "bureau", "admin"})
STAFF = frozenset({"officer", "bureau"})

#: role × action (docs/roles.md#permissions-by-action). Feature modules add their actions with ``allow``.
POLICY: dict[str, frozenset[str]] = {
    "self.read": ALL,
    "self.password": ALL,
    "self.devices": ALL,
    "self.notifications": ALL,
    "uploads.use": ALL,
    "subject.list": STAFF,
    "subject.read": STAFF,
    "subject.enrol": frozenset({"officer"}),
    "subject.update": STAFF,
    "subject.reveal_id_number": STAFF,
    "grid.subjects": frozenset({"grid_worker"}),
    "admin.org_units": frozenset({"admin"}),
    "admin.users": frozenset({"admin"}),
    "admin.audit": frozenset({"admin"}),
}

#: who decides what (docs/roles.md#who-decides-what): item kind → the role at each stage, in order. Feature issues
#: route by it.
DECISIONS: dict[str, tuple[str, ...]] = {
    "leave_short": ("officer",),  # up to 7 days
    "leave_long": ("officer", "bureau"),  # officer recommends, bureau decides
    "visitor": ("officer",),
    "residence_change": ("officer", "bureau"),
    "restricted_place": ("officer", "bureau"),
    "service_verification": ("officer",),
    "education_verification": ("officer",),
    "employment_verification": ("officer",),
    "suspect_evidence": ("officer",),
    "negative_field_report": ("officer",),
    "geofence_breach": ("officer",),
    "appeal": ("officer", "bureau"),  # another officer of the office than the confirmer, else the bureau
    "merit_small": ("officer",),  # up to 10 points
    "merit_large": ("bureau",),
    "manual_adjustment": ("officer", "bureau"),  # officer proposes, a bureau user approves
}


def allow(action: str, roles: frozenset[str] | set[str]) -> None:
    POLICY[action] = frozenset(roles)


def can(actor: Actor, action: str) -> bool:
    return actor.role in POLICY.get(action, frozenset())


def require(actor: Actor, action: str) -> None:
    """403 unless the actor's role may do ``action``; an unknown action is denied to everyone."""
    if not can(actor, action):
        raise Forbidden()


def decider_role(item_kind: str, stage: int = 0) -> str:
    return DECISIONS[item_kind][stage]


def district_office_ids(district_ids: tuple[int, ...]) -> Select:
    """Ids of the offices below the given districts: a prefix match on the district's materialised path.

    The prefix ends with ``/``, so district 3 never matches ``/1/2/33/…``; a unit whose path was never set
    (empty) matches nothing rather than everything.
    """
    if not district_ids:
        return select(OrgUnit.id).where(false())
    district = aliased(OrgUnit)
    return (
        select(OrgUnit.id)
        .join(district, OrgUnit.path.startswith(district.path))
        .where(
            district.id.in_(district_ids),
            district.level == "district",
            district.path.like("/%/"),
            OrgUnit.level == "office",
        )
    )


def subject_scope(actor: Actor) -> ColumnElement[bool]:
    """The WHERE clause that limits subjects to the actor's jurisdiction."""
    if actor.role == "subject":
        return Subject.user_id == actor.user_id
    if actor.role == "grid_worker":
        return Subject.grid_id.in_(actor.unit_ids) if actor.unit_ids else false()
    if actor.role == "officer":
        return Subject.office_id.in_(actor.unit_ids) if actor.unit_ids else false()
    if actor.role == "bureau":
        return Subject.office_id.in_(district_office_ids(actor.unit_ids))
    return false()  # admin and system actors see no subject records through the API


def scoped_subjects(actor: Actor) -> Select:
    return select(Subject).where(subject_scope(actor))


def get_subject(session: Session, actor: Actor, subject_id: int) -> Subject:
    """The subject if it is in the actor's jurisdiction, else NotFound (404)."""
    subject = session.scalar(scoped_subjects(actor).where(Subject.id == subject_id))
    if subject is None:
        raise NotFound("subject")
    return subject


def office_in_scope(session: Session, actor: Actor, office_id: int) -> bool:
    if actor.role == "officer":
        return office_id in actor.unit_ids
    if actor.role == "bureau":
        return session.scalar(district_office_ids(actor.unit_ids).where(OrgUnit.id == office_id)) is not None
    return False
