"""The activity defaults as run-time policy (published with the rule set), and grade changes told to the subject."""

from __future__ import annotations

import copy

from sqlalchemy import select

from backend.db import db
from backend.models import Notification
from backend.services.activities import policy
from backend.services.core.actors import Actor
from backend.services.scoring import recompute
from backend.services.scoring.defaults import DEFAULT_V1
from tests.support.activities import YEAR, drain, headers_for, new_subject, set_grade, sh


def publish(world, activities: dict) -> None:
    data = copy.deepcopy(DEFAULT_V1)
    data["activities"] = activities
    admin = Actor(world.users["admin"].id, "admin", "admin")
    recompute.publish(admin, data, "activity policy")


def test_a_published_policy_changes_intervals_limits_and_due_times(client, world, clock):
    clock.set(sh(3, 2, 9))
    strict = new_subject(world, level="strict")
    h = headers_for(client, strict)
    assert client.get("/api/v1/me/checkin-schedule", headers=h).get_json()["interval_days"] == 1
    publish(
        world,
        {
            "checkin_interval_days": {"strict": 2, "normal": 4, "lenient": 9},  # 9 is out of range: default 7
            "leave_max_days": 10,
            "decision_due_days": 5,
            "short_leave_days": "seven",  # malformed: the default (7) stays
        },
    )
    with db.tx() as s:
        p = policy.policy(s)
    assert p.ladder == (2, 4, 7) and p.short_leave_days == 7 and p.leave_max_days == 10
    assert client.get("/api/v1/me/checkin-schedule", headers=h).get_json()["interval_days"] == 2
    body = {"type": "leave", "destination": "杭州", "reason": "探亲"}
    long = client.post(
        "/api/v1/me/requests", json={**body, "start_date": f"{YEAR}-04-01", "end_date": f"{YEAR}-04-11"}, headers=h
    )
    assert long.get_json()["code"] == "LEAVE_TOO_LONG"  # 11 days > 10
    ok = client.post(
        "/api/v1/me/requests", json={**body, "start_date": f"{YEAR}-04-01", "end_date": f"{YEAR}-04-03"}, headers=h
    ).get_json()
    assert ok["route"] == "leave_short" and ok["due_at"].startswith(f"{YEAR}-03-07")


def test_a_grade_change_that_moves_the_interval_is_told_to_the_subject(world):
    subject = new_subject(world, level="normal")
    set_grade(subject.id, "green")  # the public base arrives: excellent, one step looser
    drain()  # the grade-change job runs the listeners
    with db.tx() as s:
        told = s.scalars(
            select(Notification).where(
                Notification.user_id == subject.user_id, Notification.kind == "checkin_interval_changed"
            )
        ).all()
    assert [(n.data["from_days"], n.data["to_days"]) for n in told] == [(3, 7)]
