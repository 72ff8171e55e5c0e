"""Delivery of notifications per channel, each with its state: the in-app stream, push, SMS.

Rules: docs/schedules.md#delivery.

Every notification gets an ``app`` delivery (sent once the live stream wrote it to the user's open app);
a push delivery is recorded by ``core.push`` when the user has devices with a push token; an SMS delivery
is added for the purposes that go by SMS (a missed check-in; a check-in reminder to a subject without a
recent app session; an activation code, which has no notification).

An SMS is sent by its own job (``workers.jobs.send_delivery``), never inside a database transaction:

1. claim: the row goes from ``queued`` to ``sending`` and counts the attempt, committed;
2. the provider is called (no connection held);
3. the outcome is recorded: ``sent``; a transient error puts it back to ``queued`` with a retry after a
   backoff (``BACKOFF``, up to ``MAX_ATTEMPTS``, then ``failed``); a permanent one is ``failed``; no answer
   in time is ``unknown``, never retried.

A worker that dies between 1 and 3 leaves ``sending``; the sweep records it as ``unknown`` after
``SENDING_STALE``: at most once, never twice. The job is pushed after the commit that queued the row, and
the sweep (every cron tick) pushes again every queued row whose ``next_attempt_at`` has come (Redis was
down, a retry is due); a job that finds its row claimed or not yet due does nothing.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend import runtime
from backend.db import after_commit, db
from backend.models import Notification, Subject, utcnow
from backend.models.delivery import Delivery
from backend.services.core import crypto, outbox, sms

log = logging.getLogger(__name__)

#: the dotted path of the RQ job that sends one delivery (a string: backend does not import workers)
SEND_JOB = "workers.jobs.send_delivery"
#: waits before the 2nd, 3rd … attempt after a transient failure
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30))
MAX_ATTEMPTS = len(BACKOFF) + 1
#: a queued row is pushed again by the sweep when its job has not claimed it by then
REPUSH_AFTER = timedelta(minutes=2)
#: a row left ``sending`` this long belongs to a worker that died mid-send: its outcome is unknown
SENDING_STALE = timedelta(minutes=5)
#: what goes by SMS whatever else the user has (a check-in reminder goes by SMS only to idle subjects)
SMS_KINDS = frozenset({"checkin_missed"})


def queue_app(session: Session, n: Notification) -> None:
    """The in-app delivery of a new notification (sent when the live stream writes it)."""
    session.add(Delivery(notification_id=n.id, user_id=n.user_id, channel="app", purpose=n.kind))


def queue_sms(
    session: Session,
    user_id: int,
    purpose: str,
    *,
    notification_id: int | None = None,
    secret_params: dict | None = None,
) -> Delivery:
    """Queue an SMS to ``user_id``'s subject phone; sent by its job after this transaction commits.

    ``secret_params`` (an activation code) are stored encrypted and are the message's only parameters.
    """
    now = utcnow()
    d = Delivery(
        notification_id=notification_id,
        user_id=user_id,
        channel="sms",
        purpose=purpose,
        sealed=crypto.encrypt(json.dumps(secret_params)) if secret_params else None,
        next_attempt_at=now + REPUSH_AFTER,
        created_at=now,
        updated_at=now,
    )
    session.add(d)
    session.flush()
    delivery_id = d.id
    after_commit(session, lambda: push(delivery_id))
    return d


def push(delivery_id: int, attempt: int = 0) -> bool:
    """Enqueue the send job of a delivery; False (the sweep pushes it later) when Redis cannot be reached."""
    try:
        outbox.get_queue("default").enqueue(
            SEND_JOB,
            delivery_id,
            job_id=f"delivery-{delivery_id}-{attempt}",
            job_timeout=max(60, 3 * runtime.settings().sms_timeout_s),
            result_ttl=600,
            failure_ttl=7 * 86400,
            description=f"delivery {delivery_id}",
        )
        return True
    except Exception as exc:  # noqa: BLE001 - any Redis failure: the sweep pushes the row again
        log.warning(
            "delivery push failed; the sweep will retry", extra={"delivery_id": delivery_id, "error": repr(exc)}
        )
        return False


def _locked(delivery_id: int):
    """The row, locked, read afresh (the session keeps objects across commits)."""
    return (
        select(Delivery).where(Delivery.id == delivery_id).with_for_update().execution_options(populate_existing=True)
    )


def _due(d: Delivery, now) -> bool:
    """Whether a queued row may be tried now (its backoff after a transient failure has passed)."""
    if d.attempts == 0:
        return True
    return d.updated_at + BACKOFF[min(d.attempts, len(BACKOFF)) - 1] <= now


def _phone(session: Session, user_id: int) -> str | None:
    return session.scalar(select(Subject.phone).where(Subject.user_id == user_id).order_by(Subject.id.desc()))


def _params(session: Session, d: Delivery) -> dict:
    """The template's parameters: the sealed ones, or the facts of the notification (no names)."""
    if d.sealed:
        return json.loads(crypto.decrypt(d.sealed))
    n = session.get(Notification, d.notification_id) if d.notification_id else None
    data = dict(n.data or {}) if n is not None else {}
    if d.purpose == "checkin_reminder":
        return {"date": str(data.get("period_end", "")), "time": str(data.get("due_time", "22:00"))}
    if d.purpose == "checkin_missed":
        return {"date": str(data.get("period_end", ""))}
    return {}


def send(delivery_id: int) -> str:
    """Send one SMS delivery at most once per attempt (module docstring); returns what happened."""
    now = utcnow()
    with db.tx() as s:
        d = s.scalar(_locked(delivery_id))
        if d is None or d.channel != "sms":
            return "missing"
        if d.state != "queued":
            return f"already-{d.state}"
        if not _due(d, now):
            return "not-due"
        phone = _phone(s, d.user_id)
        if not phone:
            d.state, d.last_error, d.updated_at = "failed", "no phone number", now
            return "failed"
        p = sms.provider()
        message = sms.SmsMessage(d.id, phone, d.purpose, _params(s, d))
        d.state, d.attempts, d.provider, d.updated_at = "sending", d.attempts + 1, p.name, now
        attempts = d.attempts
    # the provider is called outside any transaction: the claim above is committed
    try:
        ref = p.send(message, timeout=runtime.settings().sms_timeout_s)
        outcome, error = "sent", None
    except sms.SmsError as exc:
        ref, outcome, error = None, exc.outcome, str(exc)[:500]
    except Exception as exc:  # noqa: BLE001 - a provider bug: whether it sent is not known
        ref, outcome, error = None, "unknown", repr(exc)[:500]
    return _record(delivery_id, attempts, outcome, ref, error)


def _record(delivery_id: int, attempts: int, outcome: str, ref: str | None, error: str | None) -> str:
    now = utcnow()
    with db.tx() as s:
        d = s.scalar(_locked(delivery_id))
        if d is None or d.state != "sending" or d.attempts != attempts:
            return "superseded"  # the sweep took it for a dead send meanwhile
        d.updated_at, d.last_error = now, error
        if outcome == "sent":
            d.state, d.provider_ref, d.sent_at, d.next_attempt_at = "sent", ref, now, None
        elif outcome == "transient" and attempts < MAX_ATTEMPTS:
            d.state, d.next_attempt_at = "queued", now + BACKOFF[attempts - 1]
        elif outcome == "unknown":
            d.state, d.next_attempt_at = "unknown", None
        else:
            d.state, d.next_attempt_at = "failed", None
        state = d.state
    log.info("sms delivery", extra={"delivery_id": delivery_id, "state": state, "attempt": attempts})
    return state


def sweep(now=None) -> dict:
    """Every cron tick: dead sends become ``unknown``; queued rows whose time came are pushed again."""
    now = now or utcnow()
    with db.tx() as s:
        stale = (
            s.execute(
                update(Delivery)
                .where(Delivery.state == "sending", Delivery.updated_at < now - SENDING_STALE)
                .values(
                    state="unknown",
                    last_error="the sending worker stopped before recording the outcome",
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            ).rowcount
            or 0
        )
        due = s.execute(
            select(Delivery.id, Delivery.attempts)
            .where(Delivery.state == "queued", Delivery.channel == "sms", Delivery.next_attempt_at <= now)
            .order_by(Delivery.id)
            .limit(1000)
        ).all()
        if due:
            s.execute(
                update(Delivery)
                .where(Delivery.id.in_([r.id for r in due]))
                .values(next_attempt_at=now + REPUSH_AFTER)
                .execution_options(synchronize_session=False)
            )
    pushed = 0
    for row in due:
        if not push(row.id, row.attempts):
            break
        pushed += 1
    return {"unknown": stale, "pushed": pushed}


def mark_app_sent(session: Session, notification_ids: list[int]) -> None:
    """The live stream wrote these notifications to an open app: their in-app deliveries are sent."""
    if not notification_ids:
        return
    now = utcnow()
    session.execute(
        update(Delivery)
        .where(Delivery.notification_id.in_(notification_ids), Delivery.channel == "app", Delivery.state != "sent")
        .values(state="sent", attempts=Delivery.attempts + 1, sent_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def for_notifications(session: Session, ids: list[int]) -> dict[int, list[Delivery]]:
    """Each notification's deliveries, by channel order (the list and stream show them)."""
    out: dict[int, list[Delivery]] = {i: [] for i in ids}
    if not ids:
        return out
    order = {"app": 0, "push": 1, "sms": 2}
    rows = session.scalars(select(Delivery).where(Delivery.notification_id.in_(ids)))
    for d in sorted(rows, key=lambda d: (d.notification_id, order.get(d.channel, 9))):
        out[d.notification_id].append(d)
    return out


def sms_activation_code(session: Session, user_id: int, code: str, expires) -> Delivery | None:
    """Text a subject their new one-time activation code (sealed in the row); None when they have no phone."""
    if not _phone(session, user_id):
        return None
    days = max(1, round((expires - utcnow()).total_seconds() / 86400))
    return queue_sms(session, user_id, "activation_code", secret_params={"code": code, "days": str(days)})
