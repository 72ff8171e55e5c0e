"""The jobs RQ runs: one outbox row, the outbox relay, and the schedule tick."""

from __future__ import annotations

import logging

from sqlalchemy import select

from backend import runtime
from backend.db import db
from backend.models import OutboxMessage, utcnow
from backend.services import outbox
from backend.services.handlers import HANDLERS
from workers.context import job

log = logging.getLogger("workers.jobs")


@job
def run_outbox(outbox_id: int) -> str:
    """Do the work of one outbox row exactly once.

    Locks the row (FOR UPDATE on PostgreSQL; SQLite's write lock), returns at once if it is missing or
    done, runs its handler and marks it done in the same transaction, so a rerun changes nothing.
    A handler error rolls the work back, records the error and re-raises for RQ's failure registry;
    the relay pushes the row again later.
    """
    try:
        with db.tx() as s:
            msg = s.scalar(select(OutboxMessage).where(OutboxMessage.id == outbox_id).with_for_update())
            if msg is None:
                log.info("outbox row missing; nothing to do", extra={"outbox_id": outbox_id})
                return "missing"
            if msg.status == "done":
                return "already-done"
            if msg.request_id:
                runtime.request_id_var.set(msg.request_id)
            fn = HANDLERS.get(msg.job)
            if fn is None:
                raise LookupError(f"no handler for outbox job {msg.job!r}")
            fn(s, {k: v for k, v in msg.payload.items() if not k.startswith("_")})
            msg.attempts += 1
            msg.status = "done"
            msg.done_at = utcnow()
            return "done"
    except Exception as exc:
        with db.tx() as s:
            msg = s.get(OutboxMessage, outbox_id)
            if msg is not None:
                msg.attempts += 1
                msg.last_error = repr(exc)[:2000]
        raise


@job
def relay_outbox() -> int:
    """Re-push rows left pending (Redis was down at commit, or the process died after commit)."""
    return outbox.relay()


@job
def tick_schedules() -> dict:
    """Run every schedule's due periods (Asia/Shanghai), catching up on any missed while nothing ran."""
    from workers.schedules import SCHEDULES, run_due

    return {s.name: run_due(s) for s in SCHEDULES}
