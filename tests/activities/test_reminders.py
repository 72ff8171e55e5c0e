"""End-date reminders: 30 and 7 days before the end, once per subject, threshold and end date."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import update

from backend.db import db
from backend.models import Subject, utcnow
from backend.services.activities import reminders
from backend.services.identity.users import create_user
from tests.factories import PASSWORD, make_subject
from tests.support.field import SH, notifications_of


def _subject(world, days_left: int, today, **kw) -> int:
    kw.setdefault("officer_id", world.users["officer_A"].id)
    return make_subject(
        office_id=world.units["office_A"],
        grid_id=world.units["grid_A"],
        username=f"end{days_left}_{len(kw)}",
        end_date=today + timedelta(days=days_left),
        **kw,
    ).id


def _sent(user_id: int) -> list[tuple[int, int]]:
    return sorted((n.data["subject_id"], n.data["days_before"]) for n in notifications_of(user_id, "end_date_reminder"))


def test_reminders_30_and_7_days_before_once_each(world):
    today = utcnow().astimezone(SH).date()
    officer = world.users["officer_A"].id
    d30, d8, d7, d0 = (_subject(world, n, today) for n in (30, 8, 7, 0))
    d31 = _subject(world, 31, today)
    _subject(world, -1, today)
    _subject(world, 5, today, status="released")
    with db.tx() as s:
        second = create_user(
            s, username="officerA2", password=PASSWORD, role="officer", unit_ids=[world.units["office_A"]]
        )
    orphan = _subject(world, 20, today, officer_id=None)

    assert reminders.send_due(today)["sent"] == 5
    assert _sent(officer) == sorted([(d30, 30), (d8, 30), (d7, 7), (d0, 7), (orphan, 30)])
    assert _sent(second.id) == [(orphan, 30)], "no responsible officer: every officer of the office hears it"
    [note] = [n for n in notifications_of(officer, "end_date_reminder") if n.data["subject_id"] == d30]
    assert note.data["days_left"] == 30 and "解除矫正" in note.title

    assert reminders.send_due(today)["sent"] == 0  # a rerun sends nothing twice
    assert reminders.scheduled(datetime.combine(today + timedelta(days=1), time(8), SH))["sent"] == 2
    assert {(d8, 7), (d31, 30)} <= set(_sent(officer))  # the next day: 7 days left, and 30 days left
    with db.tx() as s:  # a new end date is a new reminder
        s.execute(update(Subject).where(Subject.id == d30).values(end_date=today + timedelta(days=25)))
    assert reminders.send_due(today)["sent"] == 1 and _sent(officer).count((d30, 30)) == 2


def test_the_schedules_are_registered():
    from workers.schedules import SCHEDULES

    names = {s.name: s for s in SCHEDULES}
    assert names["end_date_reminders"].run is reminders.scheduled
    assert names["suggestions"].cron == "0 2 * * *"
