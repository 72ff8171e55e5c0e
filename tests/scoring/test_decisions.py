"""Staff decisions over HTTP: appeals, merit applications, manual adjustments, employment, release.

Rules: docs/roles.md#who-decides-what.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.db import db
from backend.models import Notification, User, utcnow
from backend.services.identity.users import create_user
from backend.services.scoring import emit_event
from tests.factories import PASSWORD, auth_header
from tests.support.scoring import events_of, from_ledger, new_subject, sql_differences, stored


def _login(client, subject) -> dict:
    return auth_header(client, db.session.get(User, subject.user_id).username)


@pytest.fixture
def second_officer(world):
    with db.tx() as s:
        create_user(s, username="officerA2", password=PASSWORD, role="officer", unit_ids=[world.units["office_A"]])
    return "officerA2"


def _appeal(client, subject, event_id, **extra):
    body = {"event_id": event_id, "reason": "当天手机没电,已向司法所说明", **extra}
    return client.post("/api/v1/me/appeals", json=body, headers=_login(client, subject))


def _decide(client, user, appeal_id, decision, note=None):
    body = {"decision": decision, **({"note": note} if note else {})}
    return client.post(f"/api/v1/staff/appeals/{appeal_id}/decision", json=body, headers=auth_header(client, user))


def test_appeal_of_an_automatic_event_goes_to_the_officer_and_upholding_revokes(client, world):
    p = new_subject(world)
    event = emit_event(p, "CHECKIN_MISSED", "period", "p1", utcnow() - timedelta(days=2)).event
    before = stored(p.id)["total"]
    resp = _appeal(client, p, event.id, client_id="3f1c2b9a-0000-4000-8000-000000000001")
    assert resp.status_code == 201, resp.get_json()
    appeal = resp.get_json()
    assert (appeal["status"], appeal["decider_role"]) == ("pending", "officer")
    replay = _appeal(client, p, event.id, client_id="3f1c2b9a-0000-4000-8000-000000000001")
    assert replay.status_code == 200 and replay.get_json()["id"] == appeal["id"]
    assert _appeal(client, p, event.id).get_json()["code"] == "APPEAL_ALREADY_OPEN"
    assert _decide(client, "bureauA", appeal["id"], "uphold").get_json()["code"] == "NOT_THE_DECIDER"
    assert _decide(client, "officerB", appeal["id"], "uphold").status_code == 404
    listed = client.get("/api/v1/staff/appeals?status=pending", headers=auth_header(client, "officerA")).get_json()
    assert [a["id"] for a in listed] == [appeal["id"]]
    done = _decide(client, "officerA", appeal["id"], "uphold")
    assert done.status_code == 200 and done.get_json()["status"] == "upheld"
    assert _decide(client, "officerA", appeal["id"], "uphold").status_code == 200  # the same decision again
    assert _decide(client, "officerA", appeal["id"], "dismiss", "x").get_json()["code"] == "ILLEGAL_TRANSITION"
    assert events_of(p.id)[0].status == "revoked" and events_of(p.id)[0].status_ref == f"appeal:{appeal['id']}"
    assert stored(p.id)["total"] == before + 5 and stored(p.id) == from_ledger(p.id)
    notes = db.session.scalars(select(Notification).where(Notification.user_id == p.user_id)).all()
    assert any(n.kind == "appeal_decided" for n in notes)


def test_confirmed_event_goes_to_another_officer_else_the_bureau(client, world, second_officer):
    p = new_subject(world)
    officer_a = world.users["officer_A"].id
    e1 = emit_event(p, "GRID_NEGATIVE", "report", 1, utcnow(), confirmed_by=officer_a).event
    a1 = _appeal(client, p, e1.id).get_json()
    assert a1["decider_role"] == "officer"
    assert _decide(client, "officerA", a1["id"], "dismiss", "证据充分").get_json()["code"] == "NOT_THE_DECIDER"
    assert _decide(client, second_officer, a1["id"], "dismiss").get_json()["code"] == "DECISION_NOTE_REQUIRED"
    dismissed = _decide(client, second_officer, a1["id"], "dismiss", "证据充分").get_json()
    assert (dismissed["status"], dismissed["note"]) == ("dismissed", "证据充分")
    assert events_of(p.id)[0].status == "active"
    with db.tx() as s:  # the other officer leaves: nobody at the office but the confirmer
        s.get(User, s.scalar(select(User.id).where(User.username == second_officer))).active = False
    e2 = emit_event(p, "GEOFENCE_BREACH", "warning", 2, utcnow(), confirmed_by=officer_a).event
    a2 = _appeal(client, p, e2.id).get_json()
    assert a2["decider_role"] == "bureau"
    assert _decide(client, "officerA", a2["id"], "uphold").get_json()["code"] == "NOT_THE_DECIDER"
    assert _decide(client, "bureauB", a2["id"], "uphold").status_code == 404
    assert _decide(client, "bureauA", a2["id"], "uphold").get_json()["status"] == "upheld"


def test_appeal_rules(client, world):
    p, other = new_subject(world), new_subject(world)
    positive = emit_event(p, "CHECKIN_ONTIME", "checkin", 1, utcnow()).event
    assert _appeal(client, p, positive.id).get_json()["code"] == "APPEAL_NOT_ALLOWED"
    foreign = emit_event(other, "CHECKIN_MISSED", "period", 1, utcnow()).event
    assert _appeal(client, p, foreign.id).status_code == 404
    assert _appeal(client, p, 987654).status_code == 404
    assert client.post("/api/v1/me/appeals", json={"event_id": "x"}, headers=_login(client, p)).status_code == 400
    assert client.get("/api/v1/me/appeals", headers=_login(client, p)).get_json() == []


def _merit(client, subject, merit_type):
    body = {"merit_type": merit_type, "description": "协助民警抓获小偷", "occurred_on": "2026-03-01"}
    return client.post("/api/v1/me/merit-applications", json=body, headers=_login(client, subject))


def _merit_decide(client, user, app_id, decision, note=None):
    body = {"decision": decision, **({"note": note} if note else {})}
    url = f"/api/v1/staff/merit-applications/{app_id}/decision"
    return client.post(url, json=body, headers=auth_header(client, user))


def test_merit_routing_by_points(client, world):
    p = new_subject(world)
    types = client.get("/api/v1/me/merit-types", headers=_login(client, p)).get_json()
    assert {t["code"]: t["decider_role"] for t in types}["MERIT_BRAVERY"] == "bureau"
    small = _merit(client, p, "MERIT_DONATION").get_json()
    big = _merit(client, p, "MERIT_BRAVERY").get_json()
    assert (small["decider_role"], big["decider_role"], big["points"]) == ("officer", "bureau", 20)
    assert _merit(client, p, "MERIT_NOPE").get_json()["code"] == "MERIT_TYPE_UNKNOWN"
    assert _merit_decide(client, "officerA", big["id"], "approve").get_json()["code"] == "NOT_THE_DECIDER"
    assert _merit_decide(client, "officerA", small["id"], "reject").get_json()["code"] == "DECISION_NOTE_REQUIRED"
    assert _merit_decide(client, "officerA", small["id"], "approve").get_json()["status"] == "approved"
    approved = _merit_decide(client, "bureauA", big["id"], "approve").get_json()
    assert approved["event_id"] and approved["status"] == "approved"
    got = stored(p.id)
    assert (got["behaviour"], got["public_welfare"]) == (100, 90)  # 85 + 20 clamped; 85 + 5
    assert {e.confirmed_by for e in events_of(p.id)} == {world.users["officer_A"].id, world.users["bureau_A"].id}
    assert _merit_decide(client, "bureauB", big["id"], "approve").status_code == 404


def test_decisions_are_audited_and_told_to_the_subject(client, world):
    from backend.models import AuditLog

    start = db.session.scalar(select(func.coalesce(func.max(AuditLog.id), 0)))  # the audit log outlives tests
    p = new_subject(world)
    ten = _merit(client, p, "MERIT_COMMENDATION").get_json()  # exactly the officer's limit of 10 points
    assert (ten["points"], ten["decider_role"]) == (10, "officer")
    assert _merit_decide(client, "officerA", ten["id"], "approve").get_json()["status"] == "approved"
    small = _merit(client, p, "MERIT_DONATION").get_json()
    assert _merit_decide(client, "officerA", small["id"], "reject", "证明材料不足").get_json()["status"] == "rejected"
    adj = client.post(
        f"/api/v1/staff/subjects/{p.id}/adjustments",
        json={"dimension": "behaviour", "points": 3, "reason": "补录表彰"},
        headers=auth_header(client, "officerA"),
    ).get_json()
    decide = f"/api/v1/staff/adjustments/{adj['id']}/decision"
    assert client.post(decide, json={"decision": "approve"}, headers=auth_header(client, "bureauA")).status_code == 200
    job = {"kind": "job", "organisation": "富阳某物流公司", "started_on": "2026-02-10"}
    url = f"/api/v1/staff/subjects/{p.id}/employment"
    assert client.post(url, json=job, headers=auth_header(client, "officerA")).status_code == 201

    def actions(target_type: str, target_id) -> list[str]:
        where = (AuditLog.id > start, AuditLog.target_type == target_type, AuditLog.target_id == str(target_id))
        return list(db.session.scalars(select(AuditLog.action).where(*where).order_by(AuditLog.id)))

    assert actions("merit_application", ten["id"]) == ["merit.create", "merit.approved"]
    assert actions("merit_application", small["id"]) == ["merit.create", "merit.rejected"]
    assert actions("score_adjustment", adj["id"]) == ["score_adjustment.propose", "score_adjustment.approved"]
    assert "employment.verify" in db.session.scalars(
        select(AuditLog.action).where(AuditLog.target_type == "employment")
    )
    kinds = db.session.scalars(select(Notification.kind).where(Notification.user_id == p.user_id)).all()
    assert sorted(k for k in kinds if k != "welcome") == [
        "employment_verified",
        "merit_decided",
        "merit_decided",
        "score_adjusted",
    ]
    assert stored(p.id) == from_ledger(p.id)


def test_manual_adjustment_needs_two_people(client, world):
    p = new_subject(world)
    url = f"/api/v1/staff/subjects/{p.id}/adjustments"
    body = {"dimension": "compliance", "points": -30, "reason": "补录未报到记录", "expires_in_days": 180}
    assert client.post(url, json=body, headers=auth_header(client, "bureauA")).status_code == 403
    assert client.post(url, json=body, headers=auth_header(client, "officerB")).status_code == 404
    adj = client.post(url, json=body, headers=auth_header(client, "officerA")).get_json()
    assert adj["status"] == "pending" and stored(p.id)["compliance"] == 85
    decide = f"/api/v1/staff/adjustments/{adj['id']}/decision"
    assert client.post(decide, json={"decision": "approve"}, headers=auth_header(client, "officerA")).status_code == 403
    assert client.post(decide, json={"decision": "approve"}, headers=auth_header(client, "bureauB")).status_code == 404
    done = client.post(decide, json={"decision": "approve"}, headers=auth_header(client, "bureauA")).get_json()
    assert done["status"] == "approved" and stored(p.id)["compliance"] == 55
    event = events_of(p.id)[0]
    assert (event.rule_code, event.points, event.dimension) == ("MANUAL_ADJUSTMENT", -30, "compliance")
    assert "提议" in event.reason and "批准" in event.reason and event.expires_at is not None
    # an appeal against it may be decided neither by the proposer nor by the approver
    appeal = _appeal(client, p, event.id).get_json()
    assert appeal["decider_role"] == "bureau"
    assert _decide(client, "bureauA", appeal["id"], "uphold").get_json()["code"] == "NOT_THE_DECIDER"
    listed = client.get("/api/v1/staff/adjustments", headers=auth_header(client, "bureauA"))
    assert [a["id"] for a in listed.get_json()] == [adj["id"]]
    assert client.get("/api/v1/staff/adjustments", headers=auth_header(client, "bureauB")).get_json() == []


def test_employment_verified_once_per_job(client, world):
    p = new_subject(world)
    url = f"/api/v1/staff/subjects/{p.id}/employment"
    body = {"kind": "job", "organisation": "富阳某机械厂", "started_on": "2026-02-10"}
    first = client.post(url, json=body, headers=auth_header(client, "officerA"))
    assert first.status_code == 201 and stored(p.id)["employment"] == 95
    again = client.post(url, json=body, headers=auth_header(client, "officerA"))
    assert again.status_code == 409 and again.get_json()["code"] == "EMPLOYMENT_DUPLICATE"
    assert client.post(url, json=body, headers=auth_header(client, "bureauA")).status_code == 403
    study = {**body, "kind": "study", "organisation": "富阳职业技术学校"}
    assert client.post(url, json=study, headers=auth_header(client, "officerA")).status_code == 201
    assert stored(p.id)["employment"] == 100


def test_release_freezes_the_score_and_exports_it(client, world):
    p = new_subject(world, provincial=900)
    officer = auth_header(client, "officerA")
    assert client.get(f"/api/v1/staff/subjects/{p.id}/export", headers=officer).get_json()["code"] == (
        "SUBJECT_NOT_RELEASED"
    )
    resp = client.post(f"/api/v1/staff/subjects/{p.id}/release", json={"note": "期满解矫"}, headers=officer)
    assert resp.status_code == 200, resp.get_json()
    record = resp.get_json()["record"]
    assert record["final_score"]["total"] == stored(p.id)["total"] == 360 + 495
    assert record["final_score"]["colour"] == "green" and record["city_conversions"][0]["points"] == 48
    assert "*" in record["subject"]["id_number_masked"]
    again = client.post(f"/api/v1/staff/subjects/{p.id}/release", json={}, headers=officer)
    assert again.status_code == 200 and again.get_json()["released_at"] == resp.get_json()["released_at"]
    with pytest.raises(Exception) as err:
        emit_event(p, "CHECKIN_MISSED", "period", 1, utcnow())
    assert getattr(err.value, "code", None) == "SUBJECT_RELEASED"
    exported = client.get(f"/api/v1/staff/subjects/{p.id}/export", headers=auth_header(client, "bureauA"))
    assert exported.status_code == 200 and exported.get_json()["record"] == record
    assert (
        client.get(f"/api/v1/staff/subjects/{p.id}/export", headers=auth_header(client, "officerB")).status_code == 404
    )
    assert sql_differences() == []


def test_the_bureau_may_decide_an_overdue_item(client, world):
    from backend.models.scoring_decisions import Appeal

    p = new_subject(world)
    event = emit_event(p, "CHECKIN_MISSED", "period", "late-decision", utcnow()).event
    appeal = _appeal(client, p, event.id).get_json()
    assert _decide(client, "bureauA", appeal["id"], "dismiss", "逾期").get_json()["code"] == "NOT_THE_DECIDER"
    with db.tx() as s:
        s.get(Appeal, appeal["id"]).due_at = utcnow() - timedelta(hours=1)
    assert _decide(client, "bureauB", appeal["id"], "dismiss", "逾期").status_code == 404
    done = _decide(client, "bureauA", appeal["id"], "dismiss", "逾期未处理,由区局决定")
    assert done.status_code == 200 and done.get_json()["decided_by"] == world.users["bureau_A"].id
