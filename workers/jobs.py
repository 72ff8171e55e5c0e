"""The jobs RQ runs: one outbox row, the outbox relay, and the schedule tick (all JSON-serializable)."""

from __future__ import annotations

import logging

from sqlalchemy import select

from backend import runtime
from backend.db import db
from backend.models import OutboxMessage, utcnow
from backend.services.core import outbox
from backend.services.core.handlers import HANDLERS, PREPARERS
from workers.context import job

log = logging.getLogger("workers.jobs")


@job
def run_outbox(outbox_id: int) -> str:
    """Do the work of one outbox row exactly once.

    Locks the row (FOR UPDATE on PostgreSQL; SQLite's write lock), returns at once if it is missing or no
    longer pending, runs its handler and marks it done in the same transaction, so a rerun changes
    nothing. A handler error rolls the work back, counts the attempt and re-raises for RQ's failure
    registry; the relay pushes the row again later (up to ``outbox.MAX_ATTEMPTS``). Once done, the job is
    taken out of RQ's failed-job registry, where an earlier failed run of it may be.
    """
    try:
        prepared = _prepare(outbox_id)
        with db.tx() as s:
            msg = s.scalar(select(OutboxMessage).where(OutboxMessage.id == outbox_id).with_for_update())
            if msg is None:
                log.info("outbox row missing; nothing to do", extra={"outbox_id": outbox_id})
                return "missing"
            if msg.request_id:
                runtime.request_id_var.set(msg.request_id)  # the request that wrote the row
            if msg.status != "pending":
                log.info("outbox row already handled", extra={"outbox_id": outbox_id, "status": msg.status})
                return f"already-{msg.status}"
            name, queue = msg.job, (msg.payload or {}).get("_queue", "default")
            fn = HANDLERS.get(name)
            if fn is None:
                raise LookupError(f"no handler for outbox job {name!r}")
            payload = {k: v for k, v in msg.payload.items() if not k.startswith("_")}
            if prepared is not None:
                payload["_prepared"] = prepared
            fn(s, payload)
            msg.attempts += 1
            msg.status = "done"
            msg.done_at = utcnow()
    except Exception as exc:
        log.warning("outbox job failed", extra={"outbox_id": outbox_id, "error": repr(exc)})
        try:
            outbox.record_failure(outbox_id, repr(exc))
        except Exception:  # noqa: BLE001 - the database may be what failed; RQ keeps the original error
            log.exception("could not record the outbox failure", extra={"outbox_id": outbox_id})
        raise
    log.info("outbox job done", extra={"outbox_id": outbox_id, "job": name})
    outbox.forget_failure(outbox_id, queue)  # an earlier failed run of this row is no failure any more
    return "done"


def _prepare(outbox_id: int) -> object | None:
    """Run the job's lock-free first phase, if it has one, before its transaction (reads only)."""
    session = db.new_session()
    try:
        row = session.execute(
            select(OutboxMessage.job, OutboxMessage.payload, OutboxMessage.status).where(OutboxMessage.id == outbox_id)
        ).first()
    finally:
        session.close()
    if row is None or row.status != "pending" or row.job not in PREPARERS:
        return None
    return PREPARERS[row.job]({k: v for k, v in row.payload.items() if not k.startswith("_")})


@job
def relay_outbox() -> int:
    """Re-push rows left pending (Redis was down at commit, a crash after commit, a failed job).

    The same tick sweeps the SMS deliveries (``core.delivery.sweep``: retries whose backoff has passed,
    sends whose worker died); returns the outbox rows pushed.
    """
    from backend.services.core import delivery

    pushed = outbox.relay()
    try:
        delivery.sweep()
    except Exception:  # noqa: BLE001 - the next tick sweeps again; the outbox relay's result stands
        log.exception("delivery sweep failed")
    return pushed


@job
def tick_schedules() -> dict:
    """Run every schedule's due periods (Asia/Shanghai), catching up on any missed while nothing ran."""
    from workers.schedules import SCHEDULES, run_due

    return {s.name: run_due(s) for s in SCHEDULES}


@job
def send_delivery(delivery_id: int) -> str:
    """Send one SMS delivery (claimed, sent outside any transaction, outcome recorded: core.delivery)."""
    from backend.services.core import delivery

    return delivery.send(delivery_id)
