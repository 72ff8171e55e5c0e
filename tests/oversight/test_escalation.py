"""Escalation that acts (docs/warnings-and-suggestions.md#escalation, docs/requests.md#escalation).

The bureau decides overdue officer items (requests, verifications, reviews, warnings), the escalation
recorded with the decision; the job ``overdue_notices`` tells the officer once an item is overdue and the
bureau once it is still open ``ESCALATION_BUREAU_AFTER_HOURS`` later, once each. Every test moves the
activities' clock (``periods``), never the items' dates.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

from sqlalchemy import select

from backend import runtime
from backend.db import db
from backend.models import AuditLog, Notification, Subject, Upload, Warning, utcnow
from backend.models.education import EducationSession
from backend.models.escalation import Escalation, OverdueNotice
from backend.models.field import FieldReport
from backend.models.request import SubjectRequest
from backend.models.service import ServiceReport
from backend.services.core.warnings import raise_warning
from backend.services.oversight import escalation
from tests.factories import auth_header
from tests.support.activities import YEAR, headers_for, new_subject, sh
from workers.schedules import SCHEDULES, run_due

BUREAU_AFTER = timedelta(hours=48)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _add(obj) -> int:
    with db.tx() as s:
        s.add(obj)
        s.flush()
        return obj.id


def _ask(client, h, start: date, end: date, **over) -> dict:
    body = {"type": "leave", "destination": "上海市", "reason": "探亲", "start_date": start.isoformat()}
    resp = client.post("/api/v1/me/requests", json={**body, "end_date": end.isoformat(), **over}, headers=h)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _decide(client, username: str, request_id: int, decision: str, note: str = "同意"):
    return client.post(
        f"/api/v1/staff/requests/{request_id}/decision",
        json={"decision": decision, "note": note},
        headers=auth_header(client, username),
    )


def _inbox(client, username: str, **query) -> list[dict]:
    resp = client.get("/api/v1/staff/inbox", query_string=query, headers=auth_header(client, username))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _told(user_id: int, kind: str) -> list[Notification]:
    with db.tx() as s:
        return list(
            s.scalars(
                select(Notification)
                .where(Notification.user_id == user_id, Notification.kind == kind)
                .order_by(Notification.id)
            )
        )


def _audit(action: str, target_id: int) -> list[AuditLog]:
    """The audit rows of an action on a target, oldest first (the log outlives each test: use the last)."""
    with db.tx() as s:
        return list(
            s.scalars(
                select(AuditLog)
                .where(AuditLog.action == action, AuditLog.target_id == str(target_id))
                .order_by(AuditLog.id)
            )
        )


def _escalations(kind: str, item_id: int) -> list[Escalation]:
    with db.tx() as s:
        return list(s.scalars(select(Escalation).where(Escalation.item_kind == kind, Escalation.item_id == item_id)))


# --- the journey: a leave pending with the officer goes overdue; the bureau decides it ----------------------------


def test_journey_the_bureau_decides_an_overdue_leave(client, world, clock):
    subject = new_subject(world)
    officer, bureau = world.users["officer_A"].id, world.users["bureau_A"].id
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9))
    r = _ask(client, h, date(YEAR, 3, 10), date(YEAR, 3, 12))
    due = sh(3, 5, 9)  # 3 days for the officer
    assert (r["status"], r["decider_role"]) == ("pending", "officer")

    # not yet overdue: the officer's; the bureau neither sees nor decides it
    assert _decide(client, "bureauA", r["id"], "approve").get_json()["code"] == "NOT_THE_DECIDER"
    assert [i for i in _inbox(client, "bureauA") if i["kind"] == "request"] == []
    mine = [i for i in _inbox(client, "officerA") if i["item_id"] == r["id"]]
    assert mine[0]["overdue"] is False and mine[0]["may_decide"] is True and mine[0]["overdue_since"] is None
    escalation.run_notices(due - timedelta(minutes=1))
    assert _told(officer, "item_overdue") == []

    # the clock moves past the due time: the officer is told once, however often the job runs
    clock.set(due + timedelta(hours=1))
    for fire in (due + timedelta(minutes=15), due + timedelta(minutes=30), due + timedelta(hours=5)):
        escalation.run_notices(fire)
    [notice] = _told(officer, "item_overdue")
    assert notice.data["items"] == [{"kind": "request", "item_id": r["id"], "subject_id": subject.id}]
    assert _told(bureau, "item_overdue_bureau") == []

    # the bureau now sees it, marked overdue and escalated, and may decide it
    [item] = [i for i in _inbox(client, "bureauA") if i["kind"] == "request"]
    assert item["item_id"] == r["id"] and item["overdue"] is True and item["escalated"] is True
    assert item["may_decide"] is True and _at(item["overdue_since"]) == due
    [officer_item] = [i for i in _inbox(client, "officerA") if i["item_id"] == r["id"]]
    assert officer_item["overdue"] is True and officer_item["escalated"] is False

    # still open the further period later: the bureau is told once
    escalation.run_notices(due + BUREAU_AFTER - timedelta(minutes=1))
    assert _told(bureau, "item_overdue_bureau") == []
    for fire in (
        due + BUREAU_AFTER,
        due + BUREAU_AFTER + timedelta(minutes=15),
        due + BUREAU_AFTER + timedelta(days=1),
    ):
        escalation.run_notices(fire)
    assert len(_told(bureau, "item_overdue_bureau")) == 1
    assert len(_told(officer, "item_overdue")) == 1

    # the bureau decides it: the decision records the escalation
    clock.set(due + BUREAU_AFTER + timedelta(hours=1))
    got = _decide(client, "bureauA", r["id"], "approve")
    assert got.status_code == 200, got.get_json()
    assert got.get_json()["status"] == "approved"
    with db.tx() as s:
        row = s.get(SubjectRequest, r["id"])
        assert (row.decided_by, row.decider_role, row.due_at) == (bureau, None, None)
    [e] = _escalations("request", r["id"])
    assert (e.decided_by, e.from_role, e.decision, e.overdue_since) == (bureau, "officer", "approved", due)
    a = _audit("request.approve", r["id"])[-1]
    assert a.actor_id == bureau and a.actor_role == "bureau"
    assert a.details["escalated"] is True and _at(a.details["overdue_since"]) == due
    assert len(_told(officer, "request_escalated")) == 1
    assert [i for i in _inbox(client, "bureauA") if i["kind"] == "request"] == []


def test_the_bureau_approves_an_overdue_two_stage_request_at_once(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9))
    r = _ask(client, h, date(YEAR, 3, 20), date(YEAR, 3, 29))
    assert (r["route"], r["decider_role"]) == ("leave_long", "officer")
    clock.set(sh(3, 5, 10))
    got = _decide(client, "bureauA", r["id"], "reject", "材料不全")
    assert got.status_code == 200 and got.get_json()["status"] == "rejected"
    assert _escalations("request", r["id"])[0].decision == "rejected"
    # recommending stays the officer's; a foreign bureau does not even see it
    r2 = _ask(client, h, date(YEAR, 4, 20), date(YEAR, 4, 29))
    clock.set(sh(3, 9, 10))
    assert _decide(client, "bureauA", r2["id"], "recommend").get_json()["code"] == "NOT_THE_DECIDER"
    assert _decide(client, "bureauB", r2["id"], "approve").status_code == 404


def test_an_officer_still_decides_an_overdue_item_without_escalation(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9))
    r = _ask(client, h, date(YEAR, 3, 10), date(YEAR, 3, 12))
    clock.set(sh(3, 6, 9))
    assert _decide(client, "officerA", r["id"], "approve").status_code == 200
    assert _escalations("request", r["id"]) == []
    assert _audit("request.approve", r["id"])[-1].details.get("escalated") is None


# --- verifications, reviews, warnings --------------------------------------------------------------------------


def _items(world, due) -> dict[str, tuple[str, int]]:
    """One open officer item of each escalable kind of subject A, all due at ``due``: kind → (path, id)."""
    sid, office = world.subjects["A"].id, world.units["office_A"]
    t = due - timedelta(days=3)
    report = _add(
        ServiceReport(
            subject_id=sid,
            office_id=office,
            reported_by=world.users["subject_A"].id,
            source="subject",
            activity_type="垃圾分类",
            started_at=t - timedelta(hours=2),
            ended_at=t,
            place="小区",
            minutes=120,
            status="pending",
            due_at=due,
        )
    )
    session = _add(
        EducationSession(
            subject_id=sid,
            office_id=office,
            mode="offline",
            course="集中学习",
            status="pending",
            started_at=t - timedelta(hours=2),
            ended_at=t,
            intervals=[],
            due_at=due,
        )
    )
    field = _add(
        FieldReport(
            subject_id=sid,
            reporter_id=world.users["grid_A"].id,
            office_id=office,
            grid_id=world.units["grid_A"],
            text="打架",
            observed_at=t,
            classification={},
            dictionary_version=1,
            polarity="negative",
            categories=["fight"],
            status="pending_review",
            due_at=due,
        )
    )
    upload = _add(
        Upload(
            owner_id=world.users["subject_A"].id,
            subject_id=sid,
            purpose="checkin",
            status="suspect",
            review_status="open",
            declared_type="image/jpeg",
            size_bytes=10,
            sha256="0" * 64,
            storage_key="originals/escalation/x",
            upload_expires_at=utcnow() + timedelta(hours=1),
        )
    )
    with db.tx() as s:
        subject = s.get(Subject, sid)
        raise_warning(
            s,
            subject,
            "EVIDENCE_SUSPECT",
            "medium",
            "照片存疑",
            period_key=f"upload:{upload}",
            due_at=due,
            details={"upload_id": upload},
        )
        warning = raise_warning(s, subject, "CHECKIN_MISSED", "medium", "未报到", period_key="esc", due_at=due)[0].id
    return {
        "service_verification": (f"/api/v1/staff/service-reports/{report}/verification", report),
        "education_verification": (f"/api/v1/staff/education-sessions/{session}/verification", session),
        "negative_field_report": (f"/api/v1/staff/field-reports/{field}/review", field),
        "suspect_evidence": (f"/api/v1/staff/uploads/{upload}/review", upload),
        "warning": (f"/api/v1/staff/warnings/{warning}/handle", warning),
    }


BODIES = {
    "service_verification": {"decision": "verify", "note": "属实"},
    "education_verification": {"decision": "confirm", "note": "属实"},
    "negative_field_report": {"decision": "dismiss", "note": "误报"},
    "suspect_evidence": {"decision": "clear", "note": "照片正常"},
    "warning": {"outcome": "resolved", "note": "已谈话"},
}


def test_the_bureau_decides_overdue_verifications_reviews_and_warnings(client, world, clock):
    due = sh(3, 5, 9)
    items = _items(world, due)
    bureau, officer = world.users["bureau_A"].id, world.users["officer_A"].id

    # before the due time: still the officer's (422), and another district's bureau does not see them (404)
    clock.set(due - timedelta(minutes=1))
    for kind, (path, _id) in items.items():
        got = client.post(path, json=BODIES[kind], headers=auth_header(client, "bureauA"))
        assert (got.status_code, got.get_json()["code"]) == (422, "NOT_THE_DECIDER"), (kind, got.get_json())
        assert client.post(path, json=BODIES[kind], headers=auth_header(client, "bureauB")).status_code == 404
    assert {i["kind"] for i in _inbox(client, "bureauA")} & set(items) == set()

    clock.set(due + timedelta(hours=1))
    shown = {i["kind"]: i for i in _inbox(client, "bureauA") if i["kind"] in items}
    assert set(shown) == set(items)
    assert all(i["escalated"] and i["may_decide"] and _at(i["overdue_since"]) == due for i in shown.values())

    for kind, (path, item_id) in items.items():
        got = client.post(path, json=BODIES[kind], headers=auth_header(client, "bureauA"))
        assert got.status_code == 200, (kind, got.get_json())
        [e] = _escalations(kind, item_id)
        assert (e.decided_by, e.from_role, e.overdue_since) == (bureau, "officer", due), kind
        a = _audit("escalation.decide", item_id)[-1]
        assert (a.actor_id, a.actor_role, a.target_type) == (bureau, "bureau", kind)
        assert _at(a.details["overdue_since"]) == due and a.details["escalation_id"] == e.id
        # the same decision again returns the item and records nothing more
        again = client.post(path, json=BODIES[kind], headers=auth_header(client, "bureauA"))
        assert again.status_code == 200 and len(_escalations(kind, item_id)) == 1, kind

    with db.tx() as s:
        assert s.get(ServiceReport, items["service_verification"][1]).verified_by == bureau
        assert s.get(EducationSession, items["education_verification"][1]).status == "verified"
        assert s.get(FieldReport, items["negative_field_report"][1]).reviewed_by == bureau
        assert s.get(Upload, items["suspect_evidence"][1]).review_status == "cleared"
        w = s.get(Warning, items["warning"][1])
        assert (w.status, w.handled_by, w.outcome) == ("handled", bureau, "resolved")
    assert len(_told(officer, "item_escalated")) == len(items)
    assert {i["kind"] for i in _inbox(client, "bureauA")} & set(items) == set()


def test_suggestions_stay_the_officers_even_overdue(client, world, clock):
    from backend.models.field import Suggestion

    sid = world.subjects["A"].id
    _add(
        Suggestion(
            subject_id=sid,
            kind="esc",
            category="supervision",
            priority="low",
            title="建议",
            rationale={},
            trigger_version=1,
            officer_id=world.users["officer_A"].id,
            office_id=world.units["office_A"],
            status="open",
            due_at=sh(3, 5, 9),
        )
    )
    clock.set(sh(3, 6, 9))
    [item] = [i for i in _inbox(client, "bureauA") if i["kind"] == "suggestion"]
    assert item["escalated"] is True and item["may_decide"] is False


# --- the job -----------------------------------------------------------------------------------------------------


def test_the_notice_job_covers_every_kind_once_per_stage_and_catches_up(client, world, clock):
    due = sh(3, 5, 9)
    items = _items(world, due)
    officer, bureau = world.users["officer_A"].id, world.users["bureau_A"].id
    schedule = next(s for s in SCHEDULES if s.name == "overdue_notices")
    assert schedule.cron == "*/15 * * * *"

    assert run_due(schedule, now=due + timedelta(minutes=20)) != []  # first run: the latest fire time only
    [notice] = _told(officer, "item_overdue")
    assert notice.data["count"] == len(items) and {i["kind"] for i in notice.data["items"]} == set(items)

    # a gap of three days: every missed period runs (60 a tick), each item's bureau notice goes out once
    later = due + BUREAU_AFTER + timedelta(hours=10)
    while run_due(schedule, now=later):
        pass
    assert len(_told(officer, "item_overdue")) == 1
    [told] = _told(bureau, "item_overdue_bureau")
    assert told.data["count"] == len(items)
    with db.tx() as s:
        rows = s.execute(select(OverdueNotice.item_kind, OverdueNotice.stage, OverdueNotice.recipients)).all()
    assert sorted(rows) == sorted([(k, st, 1) for k in items for st in ("overdue", "bureau")])

    # an item routed to the bureau (a recommended request) tells the bureau when overdue, with no second stage
    sid = world.subjects["A"].id
    rid = _add(
        SubjectRequest(
            subject_id=sid,
            office_id=world.units["office_A"],
            type="leave",
            destination="北京",
            reason="就医",
            start_date=date(YEAR, 5, 1),
            end_date=date(YEAR, 5, 20),
            days=20,
            route="leave_long",
            status="recommended",
            decider_role="bureau",
            due_at=later,
        )
    )
    escalation.run_notices(later + BUREAU_AFTER + timedelta(hours=1))
    [overdue] = _told(bureau, "item_overdue")
    assert overdue.data["items"] == [{"kind": "request", "item_id": rid, "subject_id": sid}]
    assert len(_told(bureau, "item_overdue_bureau")) == 1 and len(_told(officer, "item_overdue")) == 1


def test_the_bureau_notice_waits_for_the_configured_period(client, world, clock, monkeypatch, settings):
    monkeypatch.setattr(runtime, "_settings", dataclasses.replace(settings, escalation_bureau_after_hours=2))
    due = sh(3, 5, 9)
    sid = world.subjects["A"].id
    _add(
        ServiceReport(
            subject_id=sid,
            office_id=world.units["office_A"],
            reported_by=world.users["subject_A"].id,
            source="subject",
            activity_type="清扫",
            started_at=due - timedelta(days=4),
            ended_at=due - timedelta(days=4) + timedelta(hours=1),
            place="街道",
            minutes=60,
            status="pending",
            due_at=due,
        )
    )
    escalation.run_notices(due + timedelta(hours=1, minutes=59))
    assert _told(world.users["bureau_A"].id, "item_overdue_bureau") == []
    escalation.run_notices(due + timedelta(hours=2))
    assert len(_told(world.users["bureau_A"].id, "item_overdue_bureau")) == 1
