"""The supervision level history and the level in force during a month (issue 19, part 3).

The rule (docs/education-and-service.md#monthly-requirement): each day in correction counts the hours of
the level in force that day, so a month with a change is prorated between the two levels.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import create_engine, inspect, select

from backend.db import db
from backend.migrate import alembic_config, upgrade
from backend.models import Notification, Subject
from backend.models.levels import SupervisionLevelSpan
from backend.services.activities import education, monthly
from backend.services.subjects import levels
from tests.activities.test_education import _session, summary
from tests.backend.test_migration_formats import _insert
from tests.backend.test_migrations import empty_db  # noqa: F401 - the fixture: an empty database per backend
from tests.factories import auth_header
from tests.subjects.test_subjects import URL, enrol_body
from tests.support.activities import YEAR, events, headers_for, new_subject, sh


def _spans(subject_id: int) -> list[tuple]:
    with db.tx() as s:
        rows = s.scalars(
            select(SupervisionLevelSpan)
            .where(SupervisionLevelSpan.subject_id == subject_id)
            .order_by(SupervisionLevelSpan.id)
        )
        return [(r.level, r.valid_from, r.valid_to, r.source) for r in rows]


def _change(subject: Subject, new: str, on: date) -> None:
    """A level change in force from ``on`` (what PATCH records for the day it is made)."""
    with db.tx() as s:
        row = s.get(Subject, subject.id)
        levels.record_change(s, row, row.supervision_level, new, by=None, reason="复评", on=on)
        row.supervision_level = new


def test_enrolment_and_every_level_change_are_recorded(client, world):
    officer = auth_header(client, "officerA")
    resp = client.post(URL, json=enrol_body(world, supervision_level="strict"), headers=officer)
    assert resp.status_code == 201, resp.get_json()
    sid = resp.get_json()["subject"]["id"]
    assert _spans(sid) == [("strict", date(2026, 1, 5), None, "enrol")]
    with db.tx() as s:
        assert s.scalar(select(SupervisionLevelSpan.changed_by).where(SupervisionLevelSpan.subject_id == sid)) == (
            world.users["officer_A"].id
        )

    today = levels.today()
    resp = client.patch(f"{URL}/{sid}", json={"supervision_level": "normal", "reason": "表现良好"}, headers=officer)
    assert resp.status_code == 200 and resp.get_json()["supervision_level"] == "normal"
    client.patch(f"{URL}/{sid}", json={"risk_level": "high"}, headers=officer)  # not the level: no span
    client.patch(f"{URL}/{sid}", json={"supervision_level": "normal"}, headers=officer)  # unchanged: no span
    assert _spans(sid) == [
        ("strict", date(2026, 1, 5), today, "enrol"),
        ("normal", today, None, "update"),
    ]
    with db.tx() as s:
        last = s.scalars(select(SupervisionLevelSpan).order_by(SupervisionLevelSpan.id.desc())).first()
        assert (last.changed_by, last.reason) == (world.users["officer_A"].id, "表现良好")
        history = levels.history_of(s, s.get(Subject, sid))
    assert history.on(today - timedelta(days=1)) == "strict" and history.on(today) == "normal"
    assert history.on(date(2025, 1, 1)) == "strict"  # before the start: the level it started with

    # a second change the same day: the last one wins, the one between held no day
    client.patch(f"{URL}/{sid}", json={"supervision_level": "lenient"}, headers=officer)
    assert _spans(sid)[1:] == [("normal", today, today, "update"), ("lenient", today, None, "update")]
    with db.tx() as s:
        assert levels.history_of(s, s.get(Subject, sid)).on(today) == "lenient"


def test_a_subject_without_a_recorded_level_keeps_its_days_before_the_first_change(client, world):
    subject = world.subjects["A"]  # written directly, as the demo seed does: no span yet
    with db.tx() as s:
        assert levels.history_of(s, s.get(Subject, subject.id)).on(date(2026, 2, 1)) == "normal"
    resp = client.patch(
        f"{URL}/{subject.id}", json={"supervision_level": "strict"}, headers=auth_header(client, "officerA")
    )
    assert resp.status_code == 200
    today = levels.today()
    assert _spans(subject.id) == [("normal", date(2026, 1, 1), today, "backfill"), ("strict", today, None, "update")]


def test_the_level_in_force_prorates_a_month_with_a_change(client, world, clock):
    """严管 (10 h) to 普管 (8 h) from 16 March: 15 days at 10 h and 16 at 8 h of 31 → 538 minutes required."""
    required = round((15 * 10 + 16 * 8) * 60 / 31)
    assert required == 538
    short, enough = new_subject(world, level="strict"), new_subject(world, level="strict")
    for subject in (short, enough):
        _change(subject, "normal", date(YEAR, 3, 16))
    office = world.units["office_A"]
    days = [(sh(3, d, 8), sh(3, d, 12)) for d in (2, 3)]  # 480 minutes: enough for 普管 alone, not for this
    _session(short.id, office, [*days, (sh(3, 4, 8), sh(3, 4, 8, 50))])  # 530
    _session(enough.id, office, [*days, (sh(3, 4, 8), sh(3, 4, 9))])  # 540
    monthly.run_monthly(f"{YEAR}-03")
    [missed] = events(short.id)
    assert missed.rule_code == "EDU_MONTH_MISSED" and "要求 538 分钟" in missed.reason
    assert [e.rule_code for e in events(enough.id)] == ["EDU_MONTH_MET", "EDU_EXTRA_HOUR"]
    assert events(enough.id, "EDU_EXTRA_HOUR")[0].quantity == 2
    # the subject's own summary shows the same requirement; April is all 普管
    clock.set(sh(4, 2, 9))
    h = headers_for(client, short)
    assert summary(client, h, f"{YEAR}-03")["required_minutes"] == 538
    assert summary(client, h, f"{YEAR}-04")["required_minutes"] == 480
    # February was all 严管, even though the subject is 普管 now (not today's level)
    with db.tx() as s:
        row = s.get(Subject, short.id)
        history = levels.history_of(s, row)
        assert education.required_minutes(row, f"{YEAR}-02", level_on=history.on) == 600
        assert education.required_minutes(row, f"{YEAR}-02") == 480  # what today's level alone would say


def test_the_20th_reminder_uses_the_level_in_force(world):
    """宽管 (6 h) until the 9th, 严管 (10 h) from the 10th: December needs round((9×6 + 22×10) × 60 / 31) = 530."""
    behind, ahead = new_subject(world, level="lenient"), new_subject(world, level="lenient")
    for subject in (behind, ahead):
        _change(subject, "strict", date(YEAR, 12, 10))
    office = world.units["office_A"]
    _session(behind.id, office, [(sh(12, 1, 9), sh(12, 1, 13)), (sh(12, 2, 9), sh(12, 2, 9, 20))])  # 260 < 265
    # 270 minutes: half of 530 is done; today's level alone (600) would have reminded them
    _session(ahead.id, office, [(sh(12, 1, 9), sh(12, 1, 13)), (sh(12, 2, 9), sh(12, 2, 9, 30))])
    monthly.run_reminders(date(YEAR, 12, 20))
    with db.tx() as s:
        told = {n.user_id: n for n in s.scalars(select(Notification).where(Notification.kind == "education_reminder"))}
    assert ahead.user_id not in told
    notice = told[behind.user_id]
    assert notice.data["required_minutes"] == 530 and notice.data["counted_minutes"] == 260
    assert notice.title.startswith(f"{YEAR}年12月")  # the notice names its month, never 本月


def _world(url: str) -> dict:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            prov = _insert(conn, "org_units", level="province", code="P", path="/1/")
            office = _insert(conn, "org_units", level="office", code="O", path="/1/2/", parent_id=prov)
            staff = _insert(conn, "users", username="o1", role="officer", active=True)
            ids = {}
            for key, level in (("changed", "normal"), ("plain", "lenient")):
                user = _insert(conn, "users", username=f"s_{key}", role="subject", active=True)
                ids[key] = _insert(
                    conn,
                    "subjects",
                    user_id=user,
                    office_id=office,
                    grid_id=office,
                    status="in_correction",
                    supervision_level=level,
                    start_date=date(2026, 1, 5),
                    created_by=staff,
                )
            sid = ids["changed"]
            # 严管 → 宽管 at 20:00 UTC on 10 March (11 March in Shanghai), 宽管 → 普管 on 1 May; a risk change too
            for old, new, at in (
                ("strict", "lenient", datetime(2026, 3, 10, 20, 0, tzinfo=UTC)),
                ("lenient", "normal", datetime(2026, 5, 1, 2, 0, tzinfo=UTC)),
            ):
                _insert(
                    conn,
                    "subject_changes",
                    subject_id=sid,
                    field="supervision_level",
                    old_value=old,
                    new_value=new,
                    reason="复评",
                    changed_by=staff,
                    changed_at=at,
                )
            _insert(
                conn,
                "subject_changes",
                subject_id=sid,
                field="risk_level",
                old_value="low",
                new_value="high",
                changed_by=staff,
            )
    finally:
        engine.dispose()
    return {**ids, "staff": staff}


def test_the_migration_backfills_the_history_from_the_start_date_and_the_recorded_changes(empty_db):  # noqa: F811
    upgrade(empty_db, "0013_delivery")
    ids = _world(empty_db)
    upgrade(empty_db, "0014_level_history")
    engine = create_engine(empty_db)
    try:
        with engine.connect() as conn:
            t = sa.Table("supervision_level_history", sa.MetaData(), autoload_with=conn)
            rows = conn.execute(
                sa.select(t.c.subject_id, t.c.level, t.c.valid_from, t.c.valid_to, t.c.source, t.c.changed_by).order_by(
                    t.c.id
                )
            ).all()
    finally:
        engine.dispose()
    got = {k: [tuple(r[1:5]) for r in rows if r[0] == ids[k]] for k in ("changed", "plain")}
    assert got["plain"] == [("lenient", date(2026, 1, 5), None, "backfill")]
    assert got["changed"] == [
        ("strict", date(2026, 1, 5), date(2026, 3, 11), "backfill"),
        ("lenient", date(2026, 3, 11), date(2026, 5, 1), "backfill"),
        ("normal", date(2026, 5, 1), None, "backfill"),
    ]
    assert {r[5] for r in rows} == {ids["staff"]}
    history = levels.LevelHistory(
        "normal", [levels.Span(r[1], r[2], r[3], n) for n, r in enumerate(rows) if r[0] == ids["changed"]]
    )
    assert [history.on(date(2026, 3, d)) for d in (10, 11)] == ["strict", "lenient"]

    from alembic import command

    command.downgrade(alembic_config(empty_db), "0013_delivery")
    engine = create_engine(empty_db)
    try:
        with engine.connect() as conn:
            assert "supervision_level_history" not in inspect(conn).get_table_names()
    finally:
        engine.dispose()
