"""Supervised persons (社区矫正对象), their recorded changes and their public credit bases."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow

GENDERS = ("male", "female")
#: 管制 / 缓刑 / 假释 / 暂予监外执行
CORRECTION_TYPES = ("control", "probation", "parole", "temporary_execution")
#: 严管 / 普管 / 宽管
SUPERVISION_LEVELS = ("strict", "normal", "lenient")
RISK_LEVELS = ("low", "medium", "high")
STATUSES = ("in_correction", "released")


class Subject(Base):
    __tablename__ = "subjects"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    gender: Mapped[str] = mapped_column(String(8))
    #: Fernet ciphertext of the 身份证号; never logged, masked in responses
    id_number_enc: Mapped[str] = mapped_column(Text)
    #: keyed hash (HMAC-SHA256) of the normalised 身份证号, for exact lookup and uniqueness
    id_number_hash: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    correction_type: Mapped[str] = mapped_column(String(24))
    start_date: Mapped[date]
    end_date: Mapped[date]
    supervision_level: Mapped[str] = mapped_column(String(10))
    risk_level: Mapped[str] = mapped_column(String(10))
    office_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="in_correction", index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None]


class SubjectChange(Base):
    """Who changed which profile field of a subject, from what to what, when and why."""

    __tablename__ = "subject_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(String(100))
    new_value: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class PublicCreditBase(Base):
    """A provincial public credit score (0–1000) for a subject as of a date; the score uses 0.4 × it."""

    __tablename__ = "public_credit_bases"
    __table_args__ = (UniqueConstraint("subject_id", "as_of"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    as_of: Mapped[date]
    provincial_score: Mapped[int]
    source: Mapped[str] = mapped_column(String(40), default="import")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
