"""Grid field reports, the keyword dictionary and suggestion triggers (versioned data), suggestions, reminders."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow


class FieldReport(Base):
    """A grid worker's report on a subject (网格员信息报送): photos, text, tags, place, time, classification."""

    __tablename__ = "field_reports"
    __table_args__ = (
        UniqueConstraint("reporter_id", "client_id"),
        Index("ix_field_reports_subject_observed", "subject_id", "observed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: the subject's office and grid when the report was made (a later transfer keeps the report where it was)
    office_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    client_id: Mapped[str | None] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    tags: Mapped[list] = mapped_column(default=list)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    observed_at: Mapped[datetime]
    upload_ids: Mapped[list] = mapped_column(default=list)
    #: {"hits": [{keyword, category, polarity, severity, action, start, end}], "negated": [...], ...}
    classification: Mapped[dict] = mapped_column(default=dict)
    dictionary_version: Mapped[int]
    #: overall: negative (any negative hit), positive, need, or neutral
    polarity: Mapped[str] = mapped_column(String(10), index=True)
    severity: Mapped[str | None] = mapped_column(String(8))
    categories: Mapped[list] = mapped_column(default=list)
    #: recorded (nothing to review) | pending_review → confirmed / dismissed (state machine in services)
    status: Mapped[str] = mapped_column(String(16), index=True)
    due_at: Mapped[datetime | None]
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(Text)
    #: the KEYWORD_HIGH warning this report raised or joined
    warning_id: Mapped[int | None] = mapped_column(ForeignKey("warnings.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KeywordDictionary(Base):
    """One published version of the keyword dictionary; the highest version is in force."""

    __tablename__ = "keyword_dictionaries"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    #: {"entries": [{keyword, category, polarity, severity, action}], "negations": [...], ...}
    data: Mapped[dict]
    note: Mapped[str | None] = mapped_column(Text)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)


class SuggestionTriggerSet(Base):
    """One published version of the suggestion triggers; the highest version is in force.

    Rules: docs/warnings-and-suggestions.md#suggestions.
    """

    __tablename__ = "suggestion_trigger_sets"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    #: {"triggers": [{code, kind, category, priority, enabled, params}]}
    data: Mapped[dict]
    note: Mapped[str | None] = mapped_column(Text)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)


class Suggestion(Base):
    """A precision-correction suggestion (精准矫正建议) for the responsible officer."""

    __tablename__ = "suggestions"
    __table_args__ = (
        # no duplicate live suggestion of one kind for a subject (open or accepted and not yet done)
        Index(
            "uq_suggestions_live_kind",
            "subject_id",
            "kind",
            unique=True,
            sqlite_where=text("status IN ('open', 'accepted')"),
            postgresql_where=text("status IN ('open', 'accepted')"),
        ),
        Index("ix_suggestions_subject_kind_closed", "subject_id", "kind", "closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    #: the trigger code that made it
    kind: Mapped[str] = mapped_column(String(40))
    #: supervision, education, employment_help, counselling, incentive
    category: Mapped[str] = mapped_column(String(20), index=True)
    priority: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    #: {"summary": ..., "evidence": [{"kind": "score_event", "id": 3, ...}], "facts": {...}}
    rationale: Mapped[dict] = mapped_column(default=dict)
    trigger_version: Mapped[int]
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    #: open → accepted / dismissed / done; accepted → done / dismissed
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    due_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    dismiss_reason: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)


class EndDateReminder(Base):
    """A reminder sent to the officer N days before a subject's correction ends (one per end date)."""

    __tablename__ = "end_date_reminders"

    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), primary_key=True, autoincrement=False)
    days_before: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    end_date: Mapped[date] = mapped_column(primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = ["EndDateReminder", "FieldReport", "KeywordDictionary", "Suggestion", "SuggestionTriggerSet"]
