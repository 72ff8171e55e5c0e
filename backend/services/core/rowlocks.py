"""The one lock order of a subject's rows that the evidence and check-in jobs change (docs/schedules.md#lock-order).

Every job or request that locks more than one of a subject's rows takes them in this order, the subject's
own row first, and none takes an earlier one after a later one:

    subject → check-in → upload (the photo) → face check

Each lock is ``FOR NO KEY UPDATE`` (PostgreSQL; on SQLite the transaction's write lock serialises anyway):
it keeps other writers of the row out, but not the ``FOR KEY SHARE`` lock that PostgreSQL's foreign-key
check takes when a transaction inserts a row referring to it (a warning, a score event, a check-in), so
holding the subject or its photo never makes such an insert wait, and an insert never joins a cycle.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from backend.models import Subject

T = TypeVar("T")

#: the order, for the docs and the tests; ``lock`` does not enforce it, the callers follow it
ORDER = ("subjects", "checkins", "uploads", "face_checks")


def lock(session: Session, model: type[T], key: object) -> T | None:
    """The row of ``model`` with primary key ``key``, read afresh under its row lock (None if it is gone)."""
    pk = inspect(model).primary_key[0]
    stmt = select(model).where(pk == key).with_for_update(key_share=True)
    return session.scalar(stmt.execution_options(populate_existing=True))


def lock_subject_of(session: Session, model: type, key: object) -> Subject | None:
    """Lock the subject that the row ``key`` of ``model`` (a check-in, an upload) belongs to, before that row.

    Reads the row's ``subject_id`` without a lock (it never changes once set), then locks the subject:
    the first step of the order. Returns the subject, or None when the row or its subject is missing.
    """
    pk = inspect(model).primary_key[0]
    subject_id = session.scalar(select(model.subject_id).where(pk == key))
    return None if subject_id is None else lock(session, Subject, subject_id)
