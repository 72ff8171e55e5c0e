"""Staff decisions about the score: appeals (申诉), merit applications (加分), manual adjustments, employment."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow


class Appeal(Base):
    """A subject's appeal against one event; decided by someone other than whoever confirmed the event."""

    __tablename__ = "score_appeals"
    __table_args__ = (
        Index(
            "uq_score_appeals_open_event",
            "event_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("score_events.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list] = mapped_column(default=list)
    #: pending → upheld / dismissed (decided) or withdrawn
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    #: who decides (docs/score.md#appeals): "officer" (an officer of the office other than the confirmer) or "bureau"
    decider_role: Mapped[str] = mapped_column(String(10))
    #: staff who confirmed the appealed event (or proposed/approved it) and so may not decide the appeal
    excluded_user_ids: Mapped[list] = mapped_column(default=list)
    due_at: Mapped[datetime]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MeritApplication(Base):
    """我要加分: an application for MERIT_* points; an officer decides up to 10 points, the bureau above."""

    __tablename__ = "merit_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    rule_code: Mapped[str] = mapped_column(String(40))
    points: Mapped[int]
    description: Mapped[str] = mapped_column(Text)
    occurred_on: Mapped[date]
    evidence: Mapped[list] = mapped_column(default=list)
    #: pending → approved / rejected
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    decider_role: Mapped[str] = mapped_column(String(10))
    due_at: Mapped[datetime]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("score_events.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScoreAdjustment(Base):
    """A manual score correction: proposed by an officer, approved by a bureau user (two people)."""

    __tablename__ = "score_adjustments"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    dimension: Mapped[str] = mapped_column(String(16))
    points: Mapped[int]
    expires_in_days: Mapped[int | None]
    reason: Mapped[str] = mapped_column(Text)
    #: pending → approved / rejected
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    proposed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("score_events.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmploymentRecord(Base):
    """An officer's verification of a job or a study enrolment (EMPLOYMENT_VERIFIED once per record)."""

    __tablename__ = "employment_records"
    __table_args__ = (UniqueConstraint("subject_id", "kind", "organisation", "started_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    #: job or study
    kind: Mapped[str] = mapped_column(String(8))
    organisation: Mapped[str] = mapped_column(String(200))
    started_on: Mapped[date]
    evidence: Mapped[list] = mapped_column(default=list)
    note: Mapped[str | None] = mapped_column(Text)
    verified_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime] = mapped_column(default=utcnow)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("score_events.id"))


__all__ = ["Appeal", "EmploymentRecord", "MeritApplication", "ScoreAdjustment"]
