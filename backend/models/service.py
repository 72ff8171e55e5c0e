"""Community service reports (公益活动): by the subject, or observed in the field by a grid worker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow


class ServiceReport(Base):
    """One stretch of community service; ``status``: pending → verified | rejected (by an officer)."""

    __tablename__ = "service_reports"
    __table_args__ = (UniqueConstraint("reported_by", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    reported_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: "subject" (self-reported) or "grid_worker" (observed in the field: counts as witnessed)
    source: Mapped[str] = mapped_column(String(12))
    client_id: Mapped[str | None] = mapped_column(String(128))
    activity_type: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(200))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    organisation: Mapped[str | None] = mapped_column(String(200))
    witness_name: Mapped[str | None] = mapped_column(String(100))
    witness_phone: Mapped[str | None] = mapped_column(String(20))
    witnessed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    minutes: Mapped[int]
    description: Mapped[str | None] = mapped_column(Text)
    upload_ids: Mapped[list] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    due_at: Mapped[datetime | None]
    verified_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime | None]
    verification_note: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("score_events.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
