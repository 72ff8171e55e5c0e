"""Push delivery of stored notifications: the provider interface, retries through the outbox, dead tokens."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.db import db
from backend.models import Device, Notification, OutboxMessage
from backend.services.core import push
from backend.services.core.notifications import notify
from workers.jobs import run_outbox


class FlakyProvider:
    """Fails ``transient`` times with a retryable error; tokens in ``dead`` are reported gone."""

    name = "flaky"

    def __init__(self, transient: int = 0, dead: frozenset[str] = frozenset()) -> None:
        self.transient, self.dead, self.sent = transient, dead, []

    def send(self, device: Device, message: push.PushMessage) -> None:
        if device.push_token in self.dead:
            raise push.PushError("unregistered", permanent=True)
        if self.transient:
            self.transient -= 1
            raise push.PushError("gateway timeout")
        self.sent.append((message.notification_id, device.device_id))


@pytest.fixture
def provider():
    def use(p):
        before = push.set_provider(p)
        used.append(before)
        return p

    used: list = []
    yield use
    for before in used:
        push.set_provider(before)


def _device(user_id: int, device_id: str, token: str | None) -> None:
    with db.tx() as s:
        s.add(Device(user_id=user_id, device_id=device_id, platform="android", push_token=token))


def _notify(user_id: int) -> tuple[int, int]:
    with db.tx() as s:
        n = notify(s, user_id, "test", "测试通知")
        row = s.scalar(select(OutboxMessage.id).where(OutboxMessage.payload["notification_id"].as_integer() == n.id))
        return n.id, row


def _state(nid: int, row: int):
    with db.tx() as s:
        n, m = s.get(Notification, nid), s.get(OutboxMessage, row)
        return n.delivered_at is not None, n.data, m.status, m.attempts


def test_the_logging_provider_pushes_to_every_device_with_a_token(world, provider):
    p = provider(push.LoggingProvider())
    user = world.users["subject_A"].id
    _device(user, "phone", "tok-1")
    _device(user, "tablet", "tok-2")
    _device(user, "old", None)
    nid, row = _notify(user)
    assert run_outbox(row) == "done"
    delivered, data, status, _ = _state(nid, row)
    assert delivered and status == "done" and data["push_devices"] == 2 and data["push_provider"] == "log"
    assert sorted(p.sent) == [(nid, d) for d in sorted(_ids(user, ("phone", "tablet")))]
    assert run_outbox(row) == "already-done"  # a rerun pushes nothing again
    assert len(p.sent) == 2


def _ids(user_id: int, names: tuple[str, ...]) -> list[int]:
    with db.tx() as s:
        return list(s.scalars(select(Device.id).where(Device.user_id == user_id, Device.device_id.in_(names))))


def test_a_transient_failure_is_retried_through_the_outbox(world, provider):
    p = provider(FlakyProvider(transient=1))
    user = world.users["subject_A"].id
    _device(user, "phone", "tok-1")
    nid, row = _notify(user)
    with pytest.raises(push.PushError):
        run_outbox(row)
    delivered, _data, status, attempts = _state(nid, row)
    assert (delivered, status, attempts) == (False, "pending", 1)  # left for the relay
    assert run_outbox(row) == "done"
    assert _state(nid, row)[0] and p.sent == [(nid, "phone")]


def test_a_dead_token_is_cleared_and_the_others_still_get_it(world, provider):
    p = provider(FlakyProvider(dead=frozenset({"gone"})))
    user = world.users["subject_A"].id
    _device(user, "phone", "tok-1")
    _device(user, "lost", "gone")
    nid, row = _notify(user)
    assert run_outbox(row) == "done"
    delivered, data, _status, _attempts = _state(nid, row)
    assert delivered and data["push_devices"] == 1 and data["push_gone"] == 1 and p.sent == [(nid, "phone")]
    with db.tx() as s:
        assert s.scalar(select(Device.push_token).where(Device.device_id == "lost")) is None
