"""Per-channel delivery of notifications (in-app stream, push, SMS) and reminders recorded as sent once.

Rules: docs/schedules.md#delivery.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow

CHANNELS = ("app", "push", "sms")
#: queued: waiting (maybe for a retry); sending: handed to the provider, outcome not recorded yet;
#: sent; failed (for good); unknown (the provider may or may not have sent it: never retried)
STATES = ("queued", "sending", "sent", "failed", "unknown")


class Delivery(Base):
    """One channel's delivery of one notification (or of a message without one, e.g. an activation code)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "channel"),
        Index("ix_deliveries_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    #: the notification's kind, or what a message without a notification is (activation_code)
    purpose: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(8), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    provider: Mapped[str | None] = mapped_column(String(16))
    #: the provider's id of the message (Alibaba Cloud's BizId)
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    #: template parameters that must not be stored in the clear (an activation code), Fernet-encrypted
    sealed: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class ReminderSent(Base):
    """A reminder recorded as sent (insert-or-skip), so a rerun or a catch-up never sends it twice."""

    __tablename__ = "reminders_sent"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = ["CHANNELS", "STATES", "Delivery", "ReminderSent"]
