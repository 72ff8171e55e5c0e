"""A job's slow first phase (PREPARERS) runs before its transaction: other writers are not blocked meanwhile."""

from __future__ import annotations

import threading

from sqlalchemy import select

from backend.db import db
from backend.models import Notification, OutboxMessage
from backend.services.core import outbox
from backend.services.core.handlers import HANDLERS, PREPARERS, handler, preparer

JOB = "test_two_phase"


def _write_elsewhere(user_id: int, done: list) -> None:
    try:
        with db.tx() as s:  # this thread's own session: on SQLite it needs the write lock at once
            s.add(Notification(user_id=user_id, kind="test", title="written during phase one"))
        done.append(True)
    finally:
        db.remove()


def test_prepare_runs_without_the_write_lock_and_feeds_the_handler(world):
    from workers.jobs import run_outbox

    user_id = world.users["officer_A"].id
    seen, wrote = [], []

    @preparer(JOB)
    def _prep(payload: dict) -> dict:
        t = threading.Thread(target=_write_elsewhere, args=(user_id, wrote))
        t.start()
        t.join(timeout=10)  # a held write lock would keep the writer waiting for SQLite's 30 s busy timeout
        return {"phase_one_saw": payload["n"], "writer_finished": bool(wrote)}

    @handler(JOB)
    def _handle(session, payload: dict) -> None:
        seen.append(payload["_prepared"])

    try:
        with db.tx() as s:
            row_id = outbox.add(s, JOB, {"n": 7})
        assert run_outbox(row_id) == "done"
        assert seen == [{"phase_one_saw": 7, "writer_finished": True}]
        assert run_outbox(row_id) == "already-done"  # the second run prepares nothing and changes nothing
        assert len(seen) == 1
        db.session.rollback()
        assert db.session.scalar(select(OutboxMessage.status).where(OutboxMessage.id == row_id)) == "done"
        assert db.session.scalar(select(Notification.title).where(Notification.kind == "test"))
    finally:
        HANDLERS.pop(JOB, None)
        PREPARERS.pop(JOB, None)


def test_photo_checks_have_a_lock_free_first_phase():
    import backend.registry  # noqa: F401 - every handler module

    assert "check_upload" in PREPARERS and "check_upload" in HANDLERS
