"""Requests past their start date expire (docs/requests.md#expiry): by the job, and at a decision.

A pending or recommended request whose start date has passed (Asia/Shanghai) moves to ``expired``, the
subject is told, and no decision can be made on it any more (REQUEST_EXPIRED, 422). The tests move the
activities' clock, not the requests' dates.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from backend.db import db
from backend.models import AuditLog, Notification
from backend.models.request import SubjectRequest
from backend.services.activities import decisions
from backend.services.activities.requests import REQUEST_STATES
from tests.factories import auth_header
from tests.support.activities import YEAR, headers_for, new_subject, sh
from workers.schedules import SCHEDULES, run_due


def _ask(client, h, start: date, end: date) -> dict:
    body = {"type": "leave", "destination": "上海市", "reason": "探亲"}
    body |= {"start_date": start.isoformat(), "end_date": end.isoformat()}
    resp = client.post("/api/v1/me/requests", json=body, headers=h)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _decide(client, username: str, request_id: int, decision: str, note: str = "同意"):
    return client.post(
        f"/api/v1/staff/requests/{request_id}/decision",
        json={"decision": decision, "note": note},
        headers=auth_header(client, username),
    )


def _status(request_id: int) -> str:
    with db.tx() as s:
        return s.get(SubjectRequest, request_id).status


def _expired_notices(user_id: int) -> list[Notification]:
    with db.tx() as s:
        return list(
            s.scalars(
                select(Notification).where(Notification.user_id == user_id, Notification.kind == "request_expired")
            )
        )


def test_the_state_machine_has_expired_from_pending_and_recommended_only():
    assert REQUEST_STATES.can("pending", "expired") and REQUEST_STATES.can("recommended", "expired")
    assert not REQUEST_STATES.can("approved", "expired") and REQUEST_STATES.allowed("expired") == []


def test_the_job_expires_a_pending_leave_past_its_start_date_and_it_cannot_be_approved(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9))
    r = _ask(client, h, date(YEAR, 3, 10), date(YEAR, 3, 12))
    long = _ask(client, h, date(YEAR, 3, 20), date(YEAR, 3, 29))
    assert _decide(client, "officerA", long["id"], "recommend").status_code == 200
    future = _ask(client, h, date(YEAR, 4, 1), date(YEAR, 4, 2))

    # on the start date the request still stands; the day after, the job expires it
    assert decisions.run_expiry(sh(3, 10, 0, 1)) == {"expired": 0}
    assert decisions.run_expiry(sh(3, 11, 0, 1)) == {"expired": 1}
    assert decisions.run_expiry(sh(3, 11, 0, 1)) == {"expired": 0}  # a rerun changes nothing
    assert _status(r["id"]) == "expired"
    [told] = _expired_notices(subject.user_id)
    assert told.data["request_id"] == r["id"]
    with db.tx() as s:
        row = s.get(SubjectRequest, r["id"])
        assert (row.decider_role, row.due_at) == (None, None)
        bulk = s.scalars(select(AuditLog).where(AuditLog.action == "request.expire").order_by(AuditLog.id)).all()[-1]
        assert bulk.target_type == "bulk" and bulk.details["count"] == 1

    clock.set(sh(3, 11, 9))
    got = _decide(client, "officerA", r["id"], "approve")
    assert (got.status_code, got.get_json()["code"]) == (422, "REQUEST_EXPIRED")
    assert _decide(client, "bureauA", r["id"], "reject").get_json()["code"] == "REQUEST_EXPIRED"
    cancel = client.post(f"/api/v1/me/requests/{r['id']}/cancel", headers=h)
    assert cancel.status_code == 409

    # a recommended request expires too; one that has not started yet is left alone
    decisions.run_expiry(sh(3, 21, 0, 1))
    assert (_status(long["id"]), _status(future["id"])) == ("expired", "pending")
    assert _decide(client, "bureauA", long["id"], "approve").get_json()["code"] == "REQUEST_EXPIRED"
    assert len(_expired_notices(subject.user_id)) == 2


def test_a_decision_after_the_start_date_expires_the_request_before_the_job_does(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9))
    r = _ask(client, h, date(YEAR, 3, 10), date(YEAR, 3, 12))
    clock.set(sh(3, 10, 23))
    other = _ask(client, h, date(YEAR, 3, 10), date(YEAR, 3, 10))
    assert _decide(client, "officerA", other["id"], "approve").status_code == 200  # the start date itself: fine

    clock.set(sh(3, 11, 8))
    got = _decide(client, "officerA", r["id"], "approve")
    assert (got.status_code, got.get_json()["code"]) == (422, "REQUEST_EXPIRED")
    assert _status(r["id"]) == "expired"  # recorded, though the decision was refused
    assert len(_expired_notices(subject.user_id)) == 1
    with db.tx() as s:
        row = s.scalars(
            select(AuditLog).where(AuditLog.action == "request.expire", AuditLog.target_id == str(r["id"]))
        ).all()[-1]
        assert row.actor_role == "system" and row.details["found_by"] == world.users["officer_A"].id
    assert decisions.run_expiry(sh(3, 12, 0, 1)) == {"expired": 0}
    assert len(_expired_notices(subject.user_id)) == 1


def test_the_expiry_schedule_runs_daily_and_catches_up(client, world, clock):
    schedule = next(s for s in SCHEDULES if s.name == "request_expiry")
    assert schedule.cron == "1 0 * * *"
    subject = new_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9))
    r = _ask(client, h, date(YEAR, 3, 4), date(YEAR, 3, 5))
    assert run_due(schedule, now=sh(3, 3, 1))  # first run: nothing to expire yet
    assert _status(r["id"]) == "pending"
    while run_due(schedule, now=sh(3, 9, 1)):  # a week of missed days catches up
        pass
    assert _status(r["id"]) == "expired" and len(_expired_notices(subject.user_id)) == 1
