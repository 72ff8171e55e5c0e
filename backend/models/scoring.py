"""The credit correction score (信用矫正分): rule sets, the event ledger, current scores, history and imports."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow

#: the six management dimensions; their maxima and initial values are rule-set data
DIMENSIONS = ("risk", "employment", "behaviour", "compliance", "public_welfare", "education")
EVENT_STATUSES = ("active", "expired", "revoked")


class RuleSet(Base):
    """One published version of the scoring rules (docs/score.md#rule-sets); the highest version is in force."""

    __tablename__ = "rule_sets"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    data: Mapped[dict]
    note: Mapped[str | None] = mapped_column(Text)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: the background recompute of every score under this version: pending → running → done / superseded
    recompute_status: Mapped[str] = mapped_column(String(16), default="done")
    recompute_done: Mapped[int] = mapped_column(default=0)
    recompute_total: Mapped[int] = mapped_column(default=0)
    recompute_finished_at: Mapped[datetime | None]


class ScoreEvent(Base):
    """One entry of the append-only ledger; only its status moves (active → expired / revoked)."""

    __tablename__ = "score_events"
    __table_args__ = (
        UniqueConstraint("rule_code", "source_kind", "source_id"),
        Index("ix_score_events_subject_rule_month", "subject_id", "rule_code", "month"),
        # the dashboard's 30-day window of check-in period events, read from the index alone on PostgreSQL
        Index(
            "ix_score_events_rule_occurred",
            "rule_code",
            "occurred_at",
            postgresql_include=["subject_id", "status"],
        ),
        Index(
            "ix_score_events_expiring",
            "expires_at",
            postgresql_where=text("status = 'active' AND expires_at IS NOT NULL"),
            sqlite_where=text("status = 'active' AND expires_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    dimension: Mapped[str] = mapped_column(String(16))
    #: points actually granted (after a monthly cap); what the score adds while the event is active
    points: Mapped[int]
    #: points the rule asked for before the cap
    requested_points: Mapped[int]
    rule_code: Mapped[str] = mapped_column(String(40))
    rule_version: Mapped[int]
    source_kind: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(64))
    #: count, or minutes for per-hour rules
    quantity: Mapped[int] = mapped_column(default=1)
    occurred_at: Mapped[datetime]
    #: calendar month of occurred_at in Asia/Shanghai ("2026-03"), for monthly caps and minute carry
    month: Mapped[str] = mapped_column(String(7))
    expires_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(8), default="active")
    status_changed_at: Mapped[datetime | None]
    #: what ended it: "expiry" or "appeal:12"
    status_ref: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    #: the staff user whose decision emitted it (None for automatic events such as a missed check-in)
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubjectScore(Base):
    """The current score of one subject, kept incrementally; always equal to a recompute from the ledger."""

    __tablename__ = "subject_scores"

    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), primary_key=True, autoincrement=False)
    rule_version: Mapped[int]
    #: latest imported provincial public credit score (0–1000); None while the base is pending
    provincial_score: Mapped[int | None]
    base_as_of: Mapped[date | None]
    public_base: Mapped[int]
    base_pending: Mapped[bool]
    # sums of the active events per dimension (unclamped)
    sum_risk: Mapped[int] = mapped_column(default=0)
    sum_employment: Mapped[int] = mapped_column(default=0)
    sum_behaviour: Mapped[int] = mapped_column(default=0)
    sum_compliance: Mapped[int] = mapped_column(default=0)
    sum_public_welfare: Mapped[int] = mapped_column(default=0)
    sum_education: Mapped[int] = mapped_column(default=0)
    # dimension values: clamp(initial + sum, 0, max)
    risk: Mapped[int]
    employment: Mapped[int]
    behaviour: Mapped[int]
    compliance: Mapped[int]
    public_welfare: Mapped[int]
    education: Mapped[int]
    management: Mapped[int]
    total: Mapped[int]
    grade: Mapped[str] = mapped_column(String(16), index=True)
    #: set at release (解矫): nothing changes the score afterwards
    frozen: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScoreChange(Base):
    """A dated change of a subject's score and its cause: the history the subject and staff see."""

    __tablename__ = "score_changes"
    __table_args__ = (
        Index("ix_score_changes_subject_at", "subject_id", "at"),
        # the dashboard's 30-day trend: the changes of a window of time, read from the index alone on PostgreSQL
        Index("ix_score_changes_at", "at", postgresql_include=["subject_id", "total_before", "total_after"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: event, expiry, revocation, base_import, risk_assessment, rule_version, recompute
    cause: Mapped[str] = mapped_column(String(20))
    ref: Mapped[str | None] = mapped_column(String(64))
    rule_version: Mapped[int]
    total_before: Mapped[int | None]
    total_after: Mapped[int]
    grade_before: Mapped[str | None] = mapped_column(String(16))
    grade_after: Mapped[str] = mapped_column(String(16))
    base_pending: Mapped[bool]
    details: Mapped[dict] = mapped_column(default=dict)


class ScoreSnapshot(Base):
    """The score at the end of one day (Asia/Shanghai), written only for days with a change."""

    __tablename__ = "score_snapshots"

    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(primary_key=True)
    total: Mapped[int]
    grade: Mapped[str] = mapped_column(String(16))
    base_pending: Mapped[bool]


class CreditBaseImport(Base):
    """One file of provincial public credit scores and its report; accepted whole or not at all."""

    __tablename__ = "credit_base_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str | None] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(8))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(12))
    rows: Mapped[int]
    accepted: Mapped[int]
    unchanged: Mapped[int]
    report: Mapped[dict] = mapped_column(default=dict)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScoreRelease(Base):
    """The frozen final score at release (解矫): the export record for the provincial platform."""

    __tablename__ = "score_releases"

    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), primary_key=True, autoincrement=False)
    released_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    total: Mapped[int]
    grade: Mapped[str] = mapped_column(String(16))
    record: Mapped[dict]


__all__ = [
    "DIMENSIONS",
    "CreditBaseImport",
    "RuleSet",
    "ScoreChange",
    "ScoreEvent",
    "ScoreRelease",
    "ScoreSnapshot",
    "SubjectScore",
]
