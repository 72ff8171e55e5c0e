"""Notifications: stored first in the caller's transaction, delivered afterwards by an outbox job."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import NotFound
from backend.models import Notification, utcnow
from backend.services.core import outbox
from backend.services.core.actors import Actor
from backend.services.core.handlers import handler


def notify(
    session: Session, user_id: int, kind: str, title: str, body: str = "", data: dict | None = None
) -> Notification:
    """Store a notification for ``user_id`` and queue its delivery (after commit, never lost)."""
    n = Notification(user_id=user_id, kind=kind, title=title, body=body, data=data or {})
    session.add(n)
    session.flush()
    outbox.add(session, "deliver_notification", {"notification_id": n.id})
    return n


@handler("deliver_notification")
def deliver(session: Session, payload: dict) -> None:
    """Push a stored notification to the user's devices (``core.push``; retried by the outbox on failure).

    Idempotent: an already delivered notification is left as it is.
    """
    from backend.services.core import push

    n = session.get(Notification, payload["notification_id"])
    if n is None or n.delivered_at is not None:
        return
    push.deliver(session, n)


def list_for(session: Session, actor: Actor):
    return select(Notification).where(Notification.user_id == actor.user_id).order_by(Notification.id.desc())


def mark_read(actor: Actor, notification_id: int) -> Notification:
    with db.tx() as s:
        n = s.get(Notification, notification_id)
        if n is None or n.user_id != actor.user_id:
            raise NotFound("notification")
        if n.read_at is None:
            n.read_at = utcnow()
    return n
