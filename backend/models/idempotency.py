"""Stored results of creates, keyed by the caller, the create's kind, the resource its path names and the key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("user_id", "scope", "resource", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int]
    scope: Mapped[str] = mapped_column(String(64))
    #: the ids in the create's path ("subject_id=1"; "" for a path without ids): one key per resource
    resource: Mapped[str] = mapped_column(String(64), default="", server_default="")
    key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(default=0)
    response_body: Mapped[dict | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
