"""Escalation (docs/warnings-and-suggestions.md#escalation): overdue notices sent, and decisions taken by the bureau.

``overdue_notices``: one row per (item kind, item id, stage, due time) once its notice went out, so the
job (``oversight.escalation``) tells each stage once, whatever catches up. ``escalations``: one row per
officer item the bureau decided because it was overdue: who, what, and since when it was overdue.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow

#: notice stages: ``overdue`` tells the item's deciders, ``bureau`` tells the district's bureau users later
NOTICE_STAGES = ("overdue", "bureau")


class OverdueNotice(Base):
    """A notice sent for an overdue inbox item at one stage (once per item, stage and due time)."""

    __tablename__ = "overdue_notices"
    __table_args__ = (UniqueConstraint("item_kind", "item_id", "stage", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the inbox kind (``request``, ``service_verification``, …) and the item's id
    item_kind: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[int]
    stage: Mapped[str] = mapped_column(String(8))
    #: the due time the item was overdue against (a recommended request has a new one)
    due_at: Mapped[datetime]
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    #: how many users were told
    recipients: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class Escalation(Base):
    """A bureau user's decision on an officer item that was overdue (the decision itself is on the item)."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_item", "item_kind", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_kind: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[int]
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    #: the bureau user who decided, the role the item was routed to, the decision taken
    decided_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    from_role: Mapped[str] = mapped_column(String(8))
    decision: Mapped[str] = mapped_column(String(20))
    #: the item's due time: overdue since then
    overdue_since: Mapped[datetime]
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = ["NOTICE_STAGES", "Escalation", "OverdueNotice"]
