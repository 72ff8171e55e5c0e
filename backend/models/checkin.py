"""Check-ins (报到打卡): a selfie, a GPS point and the period it counted for."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow

#: on_time / late: counted for ``period_end``; extra: nothing left to count for (no event)
OUTCOMES = ("on_time", "late", "extra")


class CheckIn(Base):
    """One check-in. ``status``: pending (its photo is still being checked) → counted | invalid."""

    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("subject_id", "client_id"),
        Index("ix_checkins_subject_due", "subject_id", "period_due_at"),
        Index("ix_checkins_subject_counted", "subject_id", "counted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    client_id: Mapped[str] = mapped_column(String(128))
    #: "checkin", or "return" for a leave's return report (销假), which is a check-in at home
    kind: Mapped[str] = mapped_column(String(8), default="checkin")
    request_id: Mapped[int | None] = mapped_column(ForeignKey("subject_requests.id"))
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id"), index=True)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float] = mapped_column(Float)
    #: what the phone claims: when the photo was taken
    captured_at: Mapped[datetime]
    #: the server's receive time
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: queued on the phone while offline (sent through /me/sync, or flagged so)
    offline: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(8), default="pending", index=True)
    #: the check-in's time under docs/checkins.md#check-in-time: receive time, or the capture time of a qualifying
    #: offline item
    counted_at: Mapped[datetime | None]
    time_basis: Mapped[str | None] = mapped_column(String(8))
    outcome: Mapped[str | None] = mapped_column(String(8))
    interval_days: Mapped[int | None]
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    period_due_at: Mapped[datetime | None]
    #: geofence: inside the permitted area (None: no area known), distance to it, what the area was
    inside_area: Mapped[bool | None]
    distance_m: Mapped[float | None] = mapped_column(Float)
    area_basis: Mapped[str | None] = mapped_column(String(32))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("score_events.id"))
    warning_id: Mapped[int | None] = mapped_column(ForeignKey("warnings.id"))
    classified_at: Mapped[datetime | None]
