"""The supervision level (严管 / 普管 / 宽管) in force over time: one row per span a level held."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow

#: how a span was recorded: at enrolment, by a profile change, or reconstructed (migration, first change)
LEVEL_SOURCES = ("enrol", "update", "backfill")


class SupervisionLevelSpan(Base):
    """A level and the Asia/Shanghai days it held: from ``valid_from`` up to (not including) ``valid_to``.

    ``valid_to`` is None while the level is in force. Rows are only added and closed, never deleted:
    docs/education-and-service.md#level-history.
    """

    __tablename__ = "supervision_level_history"
    __table_args__ = (Index("ix_supervision_level_history_subject_from", "subject_id", "valid_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    level: Mapped[str] = mapped_column(String(10))
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
