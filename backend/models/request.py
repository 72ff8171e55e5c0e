"""Requests (申请): leave 外出, visitor 会客, residence change 执行地变更, restricted place 进入特定场所."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow

REQUEST_TYPES = ("leave", "visitor", "residence_change", "restricted_place")


class SubjectRequest(Base):
    """A subject's request and its decisions; the state machine is in ``activities.requests``."""

    __tablename__ = "subject_requests"
    __table_args__ = (
        UniqueConstraint("subject_id", "client_id"),
        Index("ix_subject_requests_subject_type_status", "subject_id", "type", "status"),
        Index("ix_subject_requests_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    office_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    client_id: Mapped[str | None] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(20))
    destination: Mapped[str] = mapped_column(String(200))
    #: where the subject may be while a leave is in force: GeoJSON geometry, as an org unit's area
    destination_area: Mapped[dict | None]
    destination_district_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    reason: Mapped[str] = mapped_column(Text)
    business: Mapped[bool] = mapped_column(default=False)
    start_date: Mapped[date]
    end_date: Mapped[date]
    days: Mapped[int]
    #: whether its days count toward the yearly leave limit (business leaves of green/blue grades do not)
    counts_toward_limit: Mapped[bool] = mapped_column(default=True)
    #: the DECISIONS routing key (access.DECISIONS): leave_short, leave_long, visitor, …
    route: Mapped[str] = mapped_column(String(20))
    grade_at_submission: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    #: who decides next (officer / bureau) and by when; None once decided
    decider_role: Mapped[str | None] = mapped_column(String(8))
    due_at: Mapped[datetime | None]
    auto_approved: Mapped[bool] = mapped_column(default=False)
    recommended_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recommended_at: Mapped[datetime | None]
    recommend_note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]
    return_checkin_id: Mapped[int | None]
    overdue_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
