"""raise_warning: one open warning per subject, kind and period; high severity notifies the officer."""

import threading

from sqlalchemy import func, select

from backend.db import db
from backend.models import Notification, OutboxMessage, Subject, Warning
from backend.services.core.warnings import WARNING_STATES, raise_warning


def _subject(world) -> Subject:
    return db.session.get(Subject, world.subjects["A"].id)


def test_duplicate_open_warning_is_not_created(world):
    with db.tx() as s:
        w1, created1 = raise_warning(s, _subject(world), "CHECKIN_MISSED", "medium", "未按时报到", period_key="p1")
    with db.tx() as s:
        w2, created2 = raise_warning(s, _subject(world), "CHECKIN_MISSED", "medium", "未按时报到", period_key="p1")
        w3, created3 = raise_warning(s, _subject(world), "CHECKIN_MISSED", "medium", "未按时报到", period_key="p2")
    assert created1 and not created2 and created3
    assert w1.id == w2.id != w3.id
    assert w1.officer_id == world.users["officer_A"].id
    assert w1.office_id == world.units["office_A"]


def test_handled_warning_allows_a_new_one(world):
    with db.tx() as s:
        w1, _ = raise_warning(s, _subject(world), "GEOFENCE", "medium", "越界", period_key="d1")
        WARNING_STATES.apply(w1, "handled")
    with db.tx() as s:
        w2, created = raise_warning(s, _subject(world), "GEOFENCE", "medium", "越界", period_key="d1")
    assert created and w2.id != w1.id


def test_high_severity_notifies_the_officer_through_the_outbox(world):
    with db.tx() as s:
        w, _ = raise_warning(s, _subject(world), "KEYWORD_HIGH", "high", "网格员报告:打架", period_key="r1")
    s = db.session
    notes = s.scalars(select(Notification).where(Notification.user_id == world.users["officer_A"].id)).all()
    assert [n.data["warning_id"] for n in notes] == [w.id]
    jobs = s.scalars(select(OutboxMessage).where(OutboxMessage.job == "deliver_notification")).all()
    assert any(j.payload["notification_id"] == notes[0].id for j in jobs)


def test_low_severity_does_not_notify(world):
    with db.tx() as s:
        raise_warning(s, _subject(world), "SCORE_RED", "low", "信用分较低", period_key="m1")
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0


def test_concurrent_raises_open_one_warning(world):
    subject_id = world.subjects["A"].id
    errors: list[BaseException] = []

    def fire():
        try:
            with db.tx() as s:
                raise_warning(s, s.get(Subject, subject_id), "LEAVE_OVERDUE", "medium", "逾期未销假", period_key="L1")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            db.remove()

    threads = [threading.Thread(target=fire) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    db.session.rollback()  # end this thread's read snapshot, taken before the threads committed
    count = db.session.scalar(
        select(func.count())
        .select_from(Warning)
        .where(Warning.subject_id == subject_id, Warning.kind == "LEAVE_OVERDUE")
    )
    assert count == 1


def test_illegal_warning_transition_is_a_conflict():
    import pytest

    from backend.errors import DomainError

    with pytest.raises(DomainError) as exc:
        WARNING_STATES.check("handled", "open")
    assert exc.value.code == "ILLEGAL_TRANSITION" and exc.value.status == 409
