"""A fresh demo's first minutes of schedules raise no penalty it did not mean (issue 19).

Rules: docs/schedules.md#catch-up, docs/education-and-service.md#education-reminder.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select

from backend.db import db
from backend.models import JobRun, Notification, Warning, utcnow
from backend.models.scoring import ScoreEvent
from backend.services.activities import monthly, periods
from backend.services.demo import seed
from backend.services.demo.activity import COVERED_SCHEDULES
from backend.services.scoring import rules
from workers.schedules import SCHEDULES, run_due

#: the kinds of warning a schedule raises together with a penalty
SCHEDULED_WARNINGS = ("CHECKIN_MISSED", "LEAVE_OVERDUE")


def _snapshot() -> dict[str, int]:
    with db.tx() as s:
        return {
            "event": s.scalar(select(func.max(ScoreEvent.id))) or 0,
            "notification": s.scalar(select(func.max(Notification.id))) or 0,
            "warning": s.scalar(select(func.max(Warning.id))) or 0,
        }


def _penalty_codes() -> set[str]:
    with db.tx() as s:
        ruleset = rules.current(s)
    return {code for code, rule in ruleset.rules.items() if (rule.points or 0) < 0}


def _first_minutes() -> dict[str, list[str]]:
    """Every schedule's catch-up as the cron's first ticks after `make run` would run it (a minute apart)."""
    ran: dict[str, list[str]] = {}
    for minute in (1, 2):
        now = utcnow() + timedelta(minutes=minute)
        for schedule in SCHEDULES:
            ran.setdefault(schedule.name, []).extend(run_due(schedule, now=now))
    return ran


def test_the_demos_first_minutes_raise_no_penalty_it_did_not_mean(clean):
    assert {s.name for s in SCHEDULES} >= set(COVERED_SCHEDULES)
    seed.seed()
    with db.tx() as s:
        baselines = dict(s.execute(select(JobRun.schedule, JobRun.details)).tuples().all())
    assert baselines == {name: {"baseline": "demo"} for name in COVERED_SCHEDULES}
    before = _snapshot()
    penalties = _penalty_codes()
    assert {"EDU_MONTH_MISSED", "CHECKIN_MISSED", "LEAVE_OVERDUE"} <= penalties

    ran = _first_minutes()
    for name in COVERED_SCHEDULES:
        assert ran[name] == [], (name, ran[name])  # nothing of theirs was due after the seed
    assert ran["end_date_reminders"] and ran["end_date_reminders"][0].endswith(":ran")  # the others run as usual
    with db.tx() as s:
        new = s.scalars(select(ScoreEvent).where(ScoreEvent.id > before["event"])).all()
        assert [e.rule_code for e in new if e.rule_code in penalties or (e.points or 0) < 0] == []
        kinds = s.scalars(select(Warning.kind).where(Warning.id > before["warning"])).all()
        assert not set(kinds) & set(SCHEDULED_WARNINGS), kinds
        told = s.scalars(
            select(Notification.kind).where(
                Notification.id > before["notification"], Notification.kind == "education_reminder"
            )
        ).all()
        assert told == []
    assert seed.seed()["created"] == 0  # a second seed adds no baseline either


def test_without_the_baseline_the_first_catch_up_penalises_every_demo_subject(clean):
    """The control: what the baseline prevents (so the test above can fail)."""
    seed.seed()
    with db.tx() as s:
        s.execute(delete(JobRun))
    before = _snapshot()
    [education] = [s for s in SCHEDULES if s.name == "education_monthly"]
    assert run_due(education, now=utcnow() + timedelta(minutes=1))[0].endswith(":ran")
    with db.tx() as s:
        missed = s.scalar(
            select(func.count())
            .select_from(ScoreEvent)
            .where(ScoreEvent.id > before["event"], ScoreEvent.rule_code == "EDU_MONTH_MISSED")
        )
    assert missed > 40


def test_the_education_notice_names_its_month(clean):
    seed.seed()
    day = periods.local_date(utcnow())
    before = _snapshot()
    got = monthly.run_reminders(day)
    assert got["reminded"] > 0
    name = f"{day.year}年{day.month}月"
    with db.tx() as s:
        notes = s.scalars(
            select(Notification).where(
                Notification.id > before["notification"], Notification.kind == "education_reminder"
            )
        ).all()
    assert len(notes) == got["reminded"]
    for note in notes:
        assert note.title == f"{name}学习时长不足一半,请抓紧完成"
        assert note.body.startswith(f"{name}截至 {day.day} 日已学习 0 分钟,要求 ") and "本月" not in note.body
        assert note.data["month"] == day.strftime("%Y-%m")
    assert monthly.month_name("2026-01") == "2026年1月"
