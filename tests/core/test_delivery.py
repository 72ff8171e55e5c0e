"""Delivery per channel: an in-app delivery for every notification, SMS for the purposes that go by SMS, retries
with backoff, a timeout recorded as unknown and never sent again (docs/schedules.md#delivery)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from backend.db import db
from backend.models import Device, utcnow
from backend.models.delivery import Delivery
from backend.services.core import delivery, push, sms
from backend.services.core.notifications import notify
from backend.services.subjects import profiles
from tests.conftest import wait_for
from tests.factories import auth_header
from workers.jobs import run_outbox


class Scripted:
    """An SMS provider answering from a script: "ok", or an SmsError outcome (transient, permanent, unknown)."""

    name = "scripted"

    def __init__(self, *script: str) -> None:
        self.script, self.calls = list(script), []

    def send(self, message: sms.SmsMessage, timeout: float) -> str:
        self.calls.append(message)
        step = self.script.pop(0) if self.script else "ok"
        if step == "ok":
            return f"ref-{len(self.calls)}"
        raise sms.SmsError(f"scripted {step}", step)


@pytest.fixture
def gateway():
    used = []

    def use(p):
        used.append(sms.set_provider(p))
        return p

    yield use
    sms.set_provider(used[0] if used else None)


def _notify(user_id: int, kind: str, **kw) -> int:
    with db.tx() as s:
        return notify(s, user_id, kind, "标题", "正文", {"period_end": "2026-12-07"}, **kw).id


def _deliveries(notification_id: int) -> dict[str, Delivery]:
    with db.tx() as s:
        query = select(Delivery).where(Delivery.notification_id == notification_id)
        rows = s.scalars(query.execution_options(populate_existing=True)).all()
        return {d.channel: d for d in rows}


def _get(delivery_id: int) -> Delivery:
    with db.tx() as s:
        return s.get(Delivery, delivery_id, populate_existing=True)


def _age(delivery_id: int, by: timedelta) -> None:
    """As if the last attempt was ``by`` earlier (the backoff's clock is the row's updated_at)."""
    with db.tx() as s:
        d = s.get(Delivery, delivery_id, populate_existing=True)
        s.execute(update(Delivery).where(Delivery.id == delivery_id).values(updated_at=d.updated_at - by))


def test_every_notification_has_an_app_delivery_and_a_missed_checkin_also_an_sms(world, client):
    user = world.users["subject_A"].id
    plain = _notify(user, "request_decided")
    missed = _notify(user, "checkin_missed")
    told = _notify(user, "checkin_reminder", sms=True)
    assert set(_deliveries(plain)) == {"app"}
    assert set(_deliveries(missed)) == {"app", "sms"}
    assert set(_deliveries(told)) == {"app", "sms"}
    assert {d.state for d in _deliveries(missed).values()} == {"queued"}

    resp = client.get("/api/v1/me/notifications", headers=auth_header(client, "subjectA"))
    assert resp.status_code == 200
    by_id = {n["id"]: n for n in resp.get_json()}
    assert [d["channel"] for d in by_id[missed]["deliveries"]] == ["app", "sms"]
    sms_row = by_id[missed]["deliveries"][1]
    assert sms_row["state"] == "queued" and sms_row["attempts"] == 0 and sms_row["last_error"] is None
    assert [d["channel"] for d in by_id[plain]["deliveries"]] == ["app"]


def test_the_push_channel_is_recorded_beside_the_others(world):
    user = world.users["subject_A"].id
    with db.tx() as s:
        s.add(Device(user_id=user, device_id="phone", platform="android", push_token="tok"))
    before = push.set_provider(push.LoggingProvider())
    try:
        with db.tx() as s:
            n = notify(s, user, "request_decided", "标题")
        from backend.models import OutboxMessage

        with db.tx() as s:
            row = s.scalar(
                select(OutboxMessage.id).where(OutboxMessage.payload["notification_id"].as_integer() == n.id)
            )
        assert run_outbox(row) == "done"
    finally:
        push.set_provider(before)
    got = _deliveries(n.id)
    assert got["push"].state == "sent" and got["push"].attempts == 1 and got["push"].provider == "log"


def test_an_sms_is_sent_once(world, gateway):
    p = gateway(Scripted("ok"))
    nid = _notify(world.users["subject_A"].id, "checkin_missed")
    d = _deliveries(nid)["sms"]
    assert delivery.send(d.id) == "sent"
    assert delivery.send(d.id) == "already-sent"
    got = _get(d.id)
    assert (got.state, got.attempts, got.provider_ref, got.provider) == ("sent", 1, "ref-1", "scripted")
    [message] = p.calls
    assert message.phone == "13800000000" and message.purpose == "checkin_missed"
    assert message.params == {"date": "2026-12-07"}


def test_transient_failures_are_retried_with_backoff(world, gateway):
    p = gateway(Scripted("transient", "transient", "ok"))
    nid = _notify(world.users["subject_A"].id, "checkin_missed")
    d = _deliveries(nid)["sms"]
    assert delivery.send(d.id) == "queued"
    first = _get(d.id)
    assert first.attempts == 1 and first.last_error == "scripted transient"
    assert first.next_attempt_at - first.updated_at == delivery.BACKOFF[0]
    assert delivery.send(d.id) == "not-due"  # too early: nothing is sent
    assert len(p.calls) == 1
    assert delivery.sweep()["pushed"] == 0  # the retry's time has not come

    _age(d.id, delivery.BACKOFF[0])
    assert delivery.send(d.id) == "queued"
    assert _get(d.id).attempts == 2
    assert delivery.send(d.id) == "not-due"  # now 2 minutes
    _age(d.id, delivery.BACKOFF[1])
    assert delivery.send(d.id) == "sent"
    assert _get(d.id).attempts == 3 and len(p.calls) == 3


def test_the_sweep_pushes_a_queued_delivery_whose_time_came(world, gateway):
    gateway(Scripted())
    nid = _notify(world.users["subject_A"].id, "checkin_missed")
    d = _deliveries(nid)["sms"]
    assert delivery.sweep()["pushed"] == 0  # just queued: its after-commit push is in flight
    assert delivery.sweep(now=utcnow() + delivery.REPUSH_AFTER + timedelta(seconds=1))["pushed"] == 1
    assert _get(d.id).next_attempt_at > utcnow() + delivery.REPUSH_AFTER - timedelta(seconds=5)


def test_too_many_transient_failures_fail_for_good(world, gateway):
    gateway(Scripted(*["transient"] * delivery.MAX_ATTEMPTS))
    nid = _notify(world.users["subject_A"].id, "checkin_missed")
    d = _deliveries(nid)["sms"]
    for attempt in range(1, delivery.MAX_ATTEMPTS + 1):
        outcome = delivery.send(d.id)
        assert outcome == ("failed" if attempt == delivery.MAX_ATTEMPTS else "queued")
        _age(d.id, timedelta(hours=1))
    got = _get(d.id)
    assert (got.state, got.attempts, got.next_attempt_at) == ("failed", delivery.MAX_ATTEMPTS, None)


def test_a_timeout_is_unknown_and_never_sent_again(world, gateway):
    p = gateway(Scripted("unknown"))
    nid = _notify(world.users["subject_A"].id, "checkin_missed")
    d = _deliveries(nid)["sms"]
    assert delivery.send(d.id) == "unknown"
    _age(d.id, timedelta(hours=1))
    assert delivery.sweep(now=utcnow() + timedelta(hours=1))["pushed"] == 0
    assert delivery.send(d.id) == "already-unknown"
    assert len(p.calls) == 1
    assert _get(d.id).last_error == "scripted unknown"


def test_a_permanent_refusal_fails_at_once(world, gateway):
    p = gateway(Scripted("permanent"))
    nid = _notify(world.users["subject_A"].id, "checkin_missed")
    d = _deliveries(nid)["sms"]
    assert delivery.send(d.id) == "failed"
    assert delivery.send(d.id) == "already-failed" and len(p.calls) == 1


def test_a_send_whose_worker_died_becomes_unknown(world, gateway):
    gateway(Scripted())
    nid = _notify(world.users["subject_A"].id, "checkin_missed")
    d = _deliveries(nid)["sms"]
    with db.tx() as s:  # claimed, then the worker died before it recorded the outcome
        s.execute(
            update(Delivery)
            .where(Delivery.id == d.id)
            .values(state="sending", attempts=1, updated_at=utcnow() - delivery.SENDING_STALE - timedelta(seconds=1))
        )
    assert delivery.sweep()["unknown"] == 1
    assert _get(d.id).state == "unknown"
    assert delivery.send(d.id) == "already-unknown"


def test_a_subject_without_a_phone_fails_without_a_send(world, gateway):
    p = gateway(Scripted())
    from backend.models import Subject

    with db.tx() as s:
        s.execute(update(Subject).where(Subject.id == world.subjects["A"].id).values(phone=None))
    nid = _notify(world.users["subject_A"].id, "checkin_missed")
    d = _deliveries(nid)["sms"]
    assert delivery.send(d.id) == "failed"
    assert _get(d.id).last_error == "no phone number" and p.calls == []


def test_an_activation_code_goes_by_sms_and_is_stored_sealed(world, gateway):
    p = gateway(Scripted())
    user = world.users["subject_A"].id
    with db.tx() as s:
        code, _expires = profiles.issue_activation_code(s, user, world.users["officer_A"].id)
    with db.tx() as s:
        [d] = s.scalars(select(Delivery).where(Delivery.user_id == user, Delivery.purpose == "activation_code")).all()
        assert d.notification_id is None and d.sealed and code not in d.sealed
        delivery_id = d.id
    assert delivery.send(delivery_id) == "sent"
    [message] = p.calls
    assert message.purpose == "activation_code" and message.params == {"code": code, "days": "7"}


def test_the_worker_sends_it_after_commit(worker_process, world):
    nid = _notify(world.users["subject_A"].id, "checkin_missed")
    d = _deliveries(nid)["sms"]
    # the worker's own provider (SMS_PROVIDER=log); a loaded machine may take a while to start the worker
    wait_for(lambda: _get(d.id).state == "sent", timeout=90)
    got = _get(d.id)
    assert got.provider == "log" and got.attempts == 1 and got.provider_ref == f"log-{d.id}"
