"""Warnings (预警, alerts to staff) and notifications (to any user)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow

SEVERITIES = ("low", "medium", "high")


class Warning(Base):  # noqa: A001 - the product's own word (预警)
    __tablename__ = "warnings"
    __table_args__ = (
        # at most one unhandled warning of a kind for a subject and period
        Index(
            "uq_warnings_open_kind_period",
            "subject_id",
            "kind",
            "period_key",
            unique=True,
            sqlite_where=text("status != 'handled'"),
            postgresql_where=text("status != 'handled'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    period_key: Mapped[str] = mapped_column(String(64), default="")
    title: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict] = mapped_column(default=dict)
    #: [{"kind": "checkin", "id": 12}, ...] — what the officer should look at
    evidence: Mapped[list] = mapped_column(default=list)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    handled_at: Mapped[datetime | None]
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """Stored first, then delivered by a job; the app reads and marks them."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    delivered_at: Mapped[datetime | None]
    delivery_attempts: Mapped[int] = mapped_column(default=0)
    read_at: Mapped[datetime | None]
