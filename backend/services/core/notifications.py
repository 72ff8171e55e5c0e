"""Notifications: stored first in the caller's transaction, delivered afterwards by an outbox job.

Delivery per channel (in-app live stream, push, SMS) and its states: ``core.delivery``,
docs/schedules.md#delivery. The live stream's source is ``watch``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import NotFound
from backend.models import Notification, utcnow
from backend.services.core import delivery, outbox
from backend.services.core.actors import Actor
from backend.services.core.handlers import handler


def notify(
    session: Session,
    user_id: int,
    kind: str,
    title: str,
    body: str = "",
    data: dict | None = None,
    *,
    sms: bool | None = None,
) -> Notification:
    """Store a notification for ``user_id`` and queue its delivery (after commit, never lost).

    Channels (docs/schedules.md#delivery): the in-app live stream always; push to the user's devices with
    a token (the outbox job); SMS when ``sms`` is true, or, when it is not given, for the kinds that always
    go by SMS (``delivery.SMS_KINDS``: a missed check-in).
    """
    n = Notification(user_id=user_id, kind=kind, title=title, body=body, data=data or {})
    session.add(n)
    session.flush()
    delivery.queue_app(session, n)
    if sms if sms is not None else kind in delivery.SMS_KINDS:
        delivery.queue_sms(session, user_id, kind, notification_id=n.id)
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


def with_deliveries(session: Session, items: list[Notification]) -> list[Notification]:
    """Give each notification its ``deliveries`` (channel, state, attempts, last error) for the app to show."""
    found = delivery.for_notifications(session, [n.id for n in items])
    for n in items:
        n.deliveries = found.get(n.id, [])
    return items


def mark_read(actor: Actor, notification_id: int) -> Notification:
    with db.tx() as s:
        n = s.get(Notification, notification_id)
        if n is None or n.user_id != actor.user_id:
            raise NotFound("notification")
        if n.read_at is None:
            n.read_at = utcnow()
        with_deliveries(s, [n])
    return n


# --- the live stream ---------------------------------------------------------------------------------------

#: seconds between two looks at the database for new notifications of a stream
POLL_S = 1.0
#: a comment line at least this often keeps proxies from closing a quiet stream
HEARTBEAT_S = 15.0
#: notifications sent at most per look (the rest follow at the next)
BATCH = 100
#: without Last-Event-ID a stream starts with this many unread notifications at most
UNREAD_AT_START = 20


def _snapshot(n: Notification, deliveries: list) -> dict:
    keys = ("id", "kind", "title", "body", "data", "created_at", "read_at")
    out = {k: getattr(n, k) for k in keys}
    out["deliveries"] = [
        {k: getattr(d, k) for k in ("channel", "state", "attempts", "last_error", "sent_at", "updated_at")}
        for d in deliveries
    ]
    return out


def _look(user_id: int, after: int | None) -> tuple[list[dict], int]:
    """One short look (its own session, closed before returning): the notifications to send and the new cursor.

    ``after`` None: the newest unread ones (up to ``UNREAD_AT_START``), the cursor at the newest of all.
    Those sent count as delivered in the app (their ``app`` deliveries become ``sent``).
    """
    session = db.new_session()
    try:
        mine = select(Notification).where(Notification.user_id == user_id)
        if after is None:
            newest = session.scalar(select(func.max(Notification.id)).where(Notification.user_id == user_id)) or 0
            rows = list(
                session.scalars(
                    mine.where(Notification.read_at.is_(None)).order_by(Notification.id.desc()).limit(UNREAD_AT_START)
                )
            )[::-1]
        else:
            rows = list(session.scalars(mine.where(Notification.id > after).order_by(Notification.id).limit(BATCH)))
            newest = rows[-1].id if rows else after
        found = delivery.for_notifications(session, [n.id for n in rows])
        out = [_snapshot(n, found.get(n.id, [])) for n in rows]
        session.rollback()
    finally:
        session.close()
    if out:
        writer = db.new_session(write=True)
        try:
            delivery.mark_app_sent(writer, [n["id"] for n in out])
            writer.commit()
        finally:
            writer.close()
    return out, newest


def watch(
    user_id: int,
    after: int | None,
    seconds: float,
    *,
    poll_s: float = POLL_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[tuple[list[dict], int]]:
    """The user's notifications as they are stored: (notifications, cursor) pairs, an empty list as a heartbeat.

    First what is stored after ``after`` (a Last-Event-ID; without one, the unread ones), then every
    ``poll_s`` what is new, for ``seconds`` at most (0: only what is stored). The cursor is the id to resume
    after (the newest notification of the user when the stream started without ``after``, so a reconnect
    does not send the unread ones again). No database connection is held between looks; the caller formats
    the events.
    """
    deadline = clock() + max(0.0, seconds)
    batch, cursor = _look(user_id, after)
    yield batch, cursor
    quiet_since = clock()
    while clock() < deadline:
        sleep(max(0.0, min(poll_s, deadline - clock())))
        batch, cursor = _look(user_id, cursor)
        if batch:
            quiet_since = clock()
            yield batch, cursor
        elif clock() - quiet_since >= HEARTBEAT_S:
            quiet_since = clock()
            yield [], cursor
