"""Admin-managed data published as numbered versions (keyword dictionaries, suggestion triggers …)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.errors import DomainError


def add_next_version(session: Session, model: type, **fields) -> object:
    """Insert ``model(version=max + 1, **fields)`` in the caller's transaction.

    Two admins publishing at the same moment cannot both get one number: the loser's insert hits the
    primary key and is refused with 409 CONFLICT, and nothing of it is kept.
    """
    version = (session.scalar(select(func.max(model.version))) or 0) + 1
    row = model(version=version, **fields)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise DomainError("CONFLICT", detail="another version was published at the same moment") from None
    return row
