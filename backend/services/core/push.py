"""Push delivery of stored notifications: a provider interface and the logging provider used here.

No real push service is reachable from this deployment, so the default provider writes one log line per
device (ids and kind only: titles may name a person, and logs never carry personal data). The outbox's
``deliver_notification`` job calls ``deliver``: a transient provider failure raises, so the job fails and
the outbox relay retries it (up to its attempt limit); a token the provider reports as gone is cleared.
Delivery is at least once: a retry may repeat a push to a device that already got it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Device, Notification, utcnow
from backend.models.delivery import Delivery

log = logging.getLogger(__name__)


class PushError(Exception):
    """A push failed; ``permanent`` means the token is no longer valid (do not retry it)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class PushMessage:
    notification_id: int
    user_id: int
    kind: str
    title: str
    body: str
    data: dict


class PushProvider(Protocol):
    """Send one message to one device token; raise PushError on failure."""

    name: str

    def send(self, device: Device, message: PushMessage) -> None: ...


class LoggingProvider:
    """Records what would be pushed (ids only) and how many pushes were sent."""

    name = "log"

    def __init__(self) -> None:
        self.sent: list[tuple[int, int]] = []

    def send(self, device: Device, message: PushMessage) -> None:
        log.info(
            "push",
            extra={
                "notification_id": message.notification_id,
                "device": device.id,
                "platform": device.platform,
                "kind": message.kind,
            },
        )
        self.sent.append((message.notification_id, device.id))


_provider: PushProvider = LoggingProvider()


def provider() -> PushProvider:
    return _provider


def set_provider(p: PushProvider) -> PushProvider:
    """Swap the provider (tests; a real gateway's adapter); returns the previous one."""
    global _provider
    before, _provider = _provider, p
    return before


def deliver(session: Session, n: Notification) -> None:
    """Push ``n`` to every device of its user with a token; mark it delivered when no transient failure remains."""
    devices = list(
        session.scalars(
            select(Device).where(Device.user_id == n.user_id, Device.push_token.is_not(None)).order_by(Device.id)
        )
    )
    message = PushMessage(n.id, n.user_id, n.kind, n.title, n.body, dict(n.data or {}))
    p = provider()
    sent = gone = 0
    for device in devices:
        try:
            p.send(device, message)
            sent += 1
        except PushError as exc:
            if not exc.permanent:
                raise  # the whole delivery is retried by the outbox relay
            device.push_token = None
            gone += 1
            log.info("push token gone", extra={"device": device.id, "notification_id": n.id})
    n.delivery_attempts += 1
    n.data = {**(n.data or {}), "push_devices": sent, "push_provider": p.name, **({"push_gone": gone} if gone else {})}
    n.delivered_at = utcnow()
    if devices:  # the push channel's state beside the others (docs/schedules.md#delivery)
        session.add(
            Delivery(
                notification_id=n.id,
                user_id=n.user_id,
                channel="push",
                purpose=n.kind,
                state="sent" if sent else "failed",
                attempts=n.delivery_attempts,
                provider=p.name,
                last_error=None if sent else "every device token is gone",
                sent_at=n.delivered_at if sent else None,
                updated_at=n.delivered_at,
            )
        )
