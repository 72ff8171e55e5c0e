"""What the staff decisions about the score share: scoped loading, the decider check, notes, notifications."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import DomainError, NotFound, register
from backend.models import Subject, User, UserUnit, utcnow
from backend.services.core.actors import Actor
from backend.services.core.notifications import notify
from backend.services.identity import access

register("NOT_THE_DECIDER", 422, "该事项应由其他人员决定", "Someone else decides this item")
register("DECISION_NOTE_REQUIRED", 422, "驳回须填写理由", "A reason is required for this decision")
register("SUBJECT_NOT_RELEASED", 409, "该对象尚未解除矫正", "The subject has not been released")

STAFF = frozenset({"officer", "bureau"})


def load_scoped(session: Session, actor: Actor, model, obj_id: int, *, lock: bool = False):
    """The object if its subject is in the actor's jurisdiction (or is the actor), else NotFound."""
    stmt = (
        select(model)
        .join(Subject, Subject.id == model.subject_id)
        .where(model.id == obj_id, access.subject_scope(actor))
        .execution_options(populate_existing=True)
    )
    if lock:
        stmt = stmt.with_for_update(of=model)
    obj = session.scalar(stmt)
    if obj is None:
        raise NotFound(model.__tablename__)
    return obj


def check_decider(actor: Actor, role: str, excluded: list[int] | None = None, due_at: datetime | None = None) -> None:
    """The item is routed to ``role``; once overdue the bureau may decide it too (it sees overdue items in its
    inbox). People who took part in what it decides about are always excluded."""
    escalated = actor.role == "bureau" and due_at is not None and due_at < utcnow()
    if (actor.role != role and not escalated) or actor.user_id in (excluded or []):
        raise DomainError("NOT_THE_DECIDER", context={"decider_role": role})


def require_note(note: str | None) -> str:
    if not note or not note.strip():
        raise DomainError("DECISION_NOTE_REQUIRED", {"note": ["required"]})
    return note.strip()


def other_officers(session: Session, office_id: int, excluded: list[int]) -> list[int]:
    """Active officers of an office other than ``excluded``."""
    return list(
        session.scalars(
            select(User.id)
            .join(UserUnit, UserUnit.user_id == User.id)
            .where(
                UserUnit.org_unit_id == office_id,
                User.role == "officer",
                User.active.is_(True),
                User.id.not_in(excluded or [-1]),
            )
        )
    )


def tell_subject(session: Session, subject: Subject, kind: str, title: str, body: str, data: dict) -> None:
    notify(session, subject.user_id, kind, title, body, data=data)


def display_name(session: Session, user_id: int | None) -> str:
    user = session.get(User, user_id) if user_id else None
    return (user.display_name or user.username) if user else "系统"


def iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
