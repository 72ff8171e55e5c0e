"""Education sessions (修心教育 / 阳光教育): online with server heartbeats, or offline / 集中教育 with a photo."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow

MODES = ("online", "offline", "centralised")


class EducationSession(Base):
    """One learning session; its counted time is ``intervals`` (UTC ISO pairs), never a client's claim."""

    __tablename__ = "education_sessions"
    __table_args__ = (
        UniqueConstraint("subject_id", "client_id"),
        Index("ix_education_sessions_subject_started", "subject_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    office_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    client_id: Mapped[str | None] = mapped_column(String(128))
    mode: Mapped[str] = mapped_column(String(12))
    course: Mapped[str] = mapped_column(String(200))
    #: online: active → ended; offline / centralised: pending → verified | rejected
    status: Mapped[str] = mapped_column(String(10), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    last_heartbeat_at: Mapped[datetime | None]
    heartbeats: Mapped[int] = mapped_column(default=0)
    #: [[start, end], ...] in UTC ISO 8601: the stretches that count (online: heartbeat gaps ≤ 120 s)
    intervals: Mapped[list] = mapped_column(default=list)
    #: the session's own counted seconds (before overlap with other sessions and the daily cap)
    credited_seconds: Mapped[int] = mapped_column(default=0)
    #: offline: minutes claimed (at most the span)
    claimed_minutes: Mapped[int | None]
    quiz_score: Mapped[int | None]
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id"))
    due_at: Mapped[datetime | None]
    verified_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime | None]
    verification_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
