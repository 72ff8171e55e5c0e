"""Requests over HTTP: routing (officer / bureau), the green channel, limits, returns, overdue, transfer."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from backend.db import db
from backend.models import AuditLog, Notification, Subject, SubjectChange
from backend.models.checkin import CheckIn
from backend.services.activities import returns
from backend.services.identity.users import create_user
from backend.services.subjects.orgs import create_unit
from tests.factories import PASSWORD, auth_header, fire_together
from tests.support.activities import (
    AWAY,
    HOME,
    YEAR,
    checkin_body,
    events,
    headers_for,
    new_subject,
    placed,
    rules_of,
    sh,
    uploaded,
    warnings_of,
)

SHANGHAI_AREA = {"type": "Point", "coordinates": [AWAY[1], AWAY[0]], "radius_m": 10_000}


def d(month: int, day: int, year: int = YEAR) -> str:
    return date(year, month, day).isoformat()


def ask(client, h, start: str, end: str, **over):
    body = {"type": "leave", "destination": "上海市", "reason": "探亲", "start_date": start, "end_date": end, **over}
    return client.post("/api/v1/me/requests", json=body, headers=h)


def decide(client, username: str, request_id: int, decision: str, note: str | None = "同意"):
    body = {"decision": decision, **({"note": note} if note is not None else {})}
    return client.post(
        f"/api/v1/staff/requests/{request_id}/decision", json=body, headers=auth_header(client, username)
    )


def approved_leave(client, h, start: str, end: str, **over) -> dict:
    resp = ask(client, h, start, end, **over)
    assert resp.status_code == 201, resp.get_json()
    r = resp.get_json()
    if r["status"] == "approved":
        return r
    if r["route"] in ("leave_short", "visitor"):
        return decide(client, "officerA", r["id"], "approve").get_json()
    assert decide(client, "officerA", r["id"], "recommend").status_code == 200
    got = decide(client, "bureauA", r["id"], "approve")
    assert got.status_code == 200, got.get_json()
    return got.get_json()


def report_back(client, h, clock, request_id: int, at: datetime, where=HOME):
    clock.set(at)
    uid = uploaded(client, h, at, where)
    return client.post(f"/api/v1/me/requests/{request_id}/return", json=checkin_body(uid, at, where), headers=h)


def test_a_ten_day_leave_recommend_bureau_check_in_away_late_return(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9))
    resp = ask(client, h, d(3, 10), d(3, 19), destination_area=SHANGHAI_AREA)
    assert resp.status_code == 201, resp.get_json()
    r = resp.get_json()
    assert (r["status"], r["route"], r["days"], r["decider_role"]) == ("pending", "leave_long", 10, "officer")
    assert datetime.fromisoformat(r["due_at"]) == sh(3, 5, 9)
    assert decide(client, "officerA", r["id"], "approve").get_json()["code"] == "BUREAU_DECIDES"
    assert decide(client, "bureauA", r["id"], "approve").get_json()["code"] == "NOT_THE_DECIDER"
    rec = decide(client, "officerA", r["id"], "recommend", "建议批准").get_json()
    assert (rec["status"], rec["decider_role"]) == ("recommended", "bureau")
    with db.tx() as s:
        told = s.scalars(select(Notification).where(Notification.user_id == world.users["bureau_A"].id)).all()
    assert [n.kind for n in told] == ["request_recommended"]
    assert decide(client, "officerA", r["id"], "approve").get_json()["code"] == "NOT_THE_DECIDER"
    ok = decide(client, "bureauA", r["id"], "approve")
    assert ok.status_code == 200 and ok.get_json()["status"] == "approved"
    again = decide(client, "bureauA", r["id"], "approve")  # the same decision again: 200, unchanged
    assert again.status_code == 200 and again.get_json() == ok.get_json()

    # at the destination during the leave: inside the permitted area, no geofence warning
    clock.set(sh(3, 12, 10))
    uid = uploaded(client, h, sh(3, 12, 10), AWAY)
    away = client.post("/api/v1/me/checkins", json=checkin_body(uid, sh(3, 12, 10), AWAY), headers=h).get_json()
    away = placed(client, h, away["id"])
    assert away["inside_area"] is True and away["area_basis"] == f"leave:{r['id']}"
    assert warnings_of(subject.id, "GEOFENCE") == []
    # no return report by the 19th + 24 h: overdue, with its event and warning
    assert returns.run_overdue(sh(3, 20, 23, 59))["overdue"] == 0
    assert returns.run_overdue(sh(3, 21, 0, 10))["overdue"] == 1
    assert returns.run_overdue(sh(3, 21, 0, 10))["overdue"] == 0  # twice: nothing new
    (overdue,) = events(subject.id, "LEAVE_OVERDUE")
    assert overdue.points == -10 and overdue.source_id == str(r["id"])
    (warning,) = warnings_of(subject.id, "LEAVE_OVERDUE")
    assert warning.severity == "high"
    late = report_back(client, h, clock, r["id"], sh(3, 21, 10))
    assert late.status_code == 201 and late.get_json()["status"] == "returned"
    assert "LEAVE_RETURN_ONTIME" not in rules_of(subject.id)
    # after the return the destination no longer counts
    clock.set(sh(3, 22, 10))
    uid = uploaded(client, h, sh(3, 22, 10), AWAY)
    again = client.post("/api/v1/me/checkins", json=checkin_body(uid, sh(3, 22, 10), AWAY), headers=h).get_json()
    assert placed(client, h, again["id"])["inside_area"] is False
    assert len(warnings_of(subject.id, "GEOFENCE")) == 1


def test_a_short_leave_returned_on_time(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9))
    r = approved_leave(client, h, d(3, 3), d(3, 5))
    assert report_back(client, h, clock, r["id"], sh(3, 4, 9), AWAY).get_json()["code"] == "RETURN_NOT_AT_HOME"
    resp = report_back(client, h, clock, r["id"], sh(3, 5, 23, 50))
    assert resp.status_code == 201 and resp.get_json()["status"] == "returned"
    (ev,) = events(subject.id, "LEAVE_RETURN_ONTIME")
    assert ev.points == 1
    assert returns.run_overdue(sh(3, 8, 0, 10))["overdue"] == 0


def test_a_green_grade_business_leave_is_approved_at_once_and_revocable_before_it_starts(client, world, clock):
    subject = new_subject(world, grade="green")
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9))
    resp = ask(client, h, d(3, 4), d(3, 8), business=True, reason="生产经营:参加展会")
    r = resp.get_json()
    assert (resp.status_code, r["status"], r["auto_approved"], r["counts_toward_limit"]) == (
        201,
        "approved",
        True,
        False,
    )
    with db.tx() as s:
        kinds = [n.kind for n in s.scalars(select(Notification).where(Notification.user_id == subject.officer_id))]
        actions = [a.action for a in s.scalars(select(AuditLog).where(AuditLog.target_id == str(r["id"])))]
    assert "request_auto_approved" in kinds and "request.auto_approve" in actions
    assert decide(client, "officerA", r["id"], "revoke", None).get_json()["code"] == "DECISION_NOTE_REQUIRED"
    revoked = decide(client, "officerA", r["id"], "revoke", "展会取消")
    assert revoked.status_code == 200 and revoked.get_json()["status"] == "revoked"
    # once it has started it can no longer be revoked
    started = ask(client, h, d(3, 2), d(3, 3), business=True).get_json()
    assert started["status"] == "approved"
    assert decide(client, "officerA", started["id"], "revoke", "x").get_json()["code"] == "REVOKE_TOO_LATE"
    # a non-business leave, or a long one, takes the normal route even for a green grade
    assert ask(client, h, d(3, 10), d(3, 12)).get_json()["status"] == "pending"
    assert ask(client, h, d(4, 1), d(4, 10), business=True).get_json()["route"] == "leave_long"


def test_due_times_by_grade(client, world, clock):
    clock.set(sh(3, 2, 9))
    blue, plain = new_subject(world, grade="blue"), new_subject(world)
    fast = ask(client, headers_for(client, blue), d(3, 5), d(3, 6)).get_json()
    normal = ask(client, headers_for(client, plain), d(3, 5), d(3, 6)).get_json()
    assert datetime.fromisoformat(fast["due_at"]) == sh(3, 3, 9)
    assert datetime.fromisoformat(normal["due_at"]) == sh(3, 5, 9)
    visitor = ask(client, headers_for(client, plain), d(3, 5), d(3, 5), type="visitor").get_json()
    assert (visitor["route"], visitor["decider_role"]) == ("visitor", "officer")
    assert decide(client, "officerA", visitor["id"], "recommend").get_json()["code"] == "RECOMMEND_NOT_NEEDED"


def test_every_refusal_has_its_code(client, world, clock):
    subject = new_subject(world, end_date=date(YEAR + 1, 6, 30))
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9))
    approved_leave(client, h, d(3, 10), d(3, 15))

    def code(*args, **over):
        resp = ask(client, h, *args, **over)
        return resp.status_code, resp.get_json().get("code")

    assert code(d(3, 20), d(3, 19)) == (422, "END_BEFORE_START")
    assert code(d(3, 1), d(3, 3)) == (422, "START_IN_PAST")
    assert code(d(4, 1), d(5, 1)) == (422, "LEAVE_TOO_LONG")  # 31 days
    assert code(d(3, 14), d(3, 16)) == (422, "LEAVE_OVERLAP")
    assert code(d(6, 28, YEAR + 1), d(7, 2, YEAR + 1)) == (422, "REQUEST_AFTER_CORRECTION_END")
    assert code(d(4, 1), d(4, 2), destination_district_id=world.units["office_A"]) == (
        422,
        "DESTINATION_DISTRICT_INVALID",
    )
    assert code(d(4, 1), d(4, 2), destination_area={"type": "Point"}) == (422, "AREA_INVALID")
    assert code(d(4, 1), d(4, 2), type="holiday") == (400, "VALIDATION_FAILED")
    assert code(d(4, 1), "2027-13-01") == (400, "VALIDATION_FAILED")
    # the calendar-year limit: 6 days taken, 30 + 24 more is 60, one day more is refused
    approved_leave(client, h, d(4, 1), d(4, 30))
    approved_leave(client, h, d(6, 1), d(6, 24))
    assert code(d(7, 1), d(7, 1)) == (422, "LEAVE_YEAR_LIMIT")
    # the limit counts days per calendar year: 28–31 Dec is 4 more days of this year
    assert code(d(12, 28), d(1, 3, YEAR + 1)) == (422, "LEAVE_YEAR_LIMIT")
    assert ask(client, h, d(1, 1, YEAR + 1), d(1, 20, YEAR + 1)).status_code == 201  # next year's days


def test_year_end_leave_days_split_between_years(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9))
    approved_leave(client, h, d(4, 1), d(4, 30))
    approved_leave(client, h, d(5, 1), d(5, 25))  # 55 days this year
    # 25 Dec – 3 Jan: 7 days this year (62) is refused; 27 Dec – 5 Jan: 5 days this year (60) is allowed
    assert ask(client, h, d(12, 25), d(1, 3, YEAR + 1)).get_json()["code"] == "LEAVE_YEAR_LIMIT"
    ok = ask(client, h, d(12, 27), d(1, 5, YEAR + 1))
    assert ok.status_code == 201 and ok.get_json()["days"] == 10


def test_green_and_blue_business_leaves_do_not_count_toward_the_year(client, world, clock):
    subject = new_subject(world, grade="blue")
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9))
    approved_leave(client, h, d(4, 1), d(4, 30))
    approved_leave(client, h, d(5, 1), d(5, 30))
    assert ask(client, h, d(6, 1), d(6, 3)).get_json()["code"] == "LEAVE_YEAR_LIMIT"
    business = ask(client, h, d(6, 1), d(6, 3), business=True)
    assert business.status_code == 201 and business.get_json()["counts_toward_limit"] is False


def test_cancel_decisions_notes_and_transitions(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9))
    r = ask(client, h, d(3, 5), d(3, 6)).get_json()
    assert decide(client, "officerA", r["id"], "reject", None).get_json()["code"] == "DECISION_NOTE_REQUIRED"
    assert decide(client, "officerB", r["id"], "approve").status_code == 404  # another district
    first = client.post(f"/api/v1/me/requests/{r['id']}/cancel", headers=h)
    again = client.post(f"/api/v1/me/requests/{r['id']}/cancel", headers=h)
    assert first.get_json()["status"] == "cancelled" and again.status_code == 200
    bad = decide(client, "officerA", r["id"], "approve")
    assert (bad.status_code, bad.get_json()["code"]) == (409, "ILLEGAL_TRANSITION")
    done = approved_leave(client, h, d(3, 8), d(3, 9))
    assert client.post(f"/api/v1/me/requests/{done['id']}/cancel", headers=h).status_code == 409
    visitor = approved_leave(client, h, d(3, 12), d(3, 12), type="visitor")
    assert report_back(client, h, clock, visitor["id"], sh(3, 12, 9)).get_json()["code"] == "RETURN_NOT_A_LEAVE"
    clock.set(sh(3, 2, 10))
    assert report_back(client, h, clock, done["id"], sh(3, 2, 10)).get_json()["code"] == "RETURN_NOT_DUE"
    rejected = ask(client, h, d(3, 20), d(3, 21)).get_json()
    assert decide(client, "officerA", rejected["id"], "reject", "理由不充分").get_json()["status"] == "rejected"
    with db.tx() as s:
        actions = [a.action for a in s.scalars(select(AuditLog).where(AuditLog.target_type == "request"))]
    assert {"request.create", "request.cancel", "request.approve", "request.reject"} <= set(actions)
    officer = auth_header(client, "officerA")
    listed = client.get("/api/v1/staff/requests?awaiting_me=true", headers=officer)
    assert listed.status_code == 200 and all(x["decider_role"] == "officer" for x in listed.get_json())
    csv = client.get(f"/api/v1/staff/requests?subject_id={subject.id}", headers={**officer, "Accept": "text/csv"})
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).count("\n") == 1 + len(client.get("/api/v1/me/requests", headers=h).get_json())
    mine = client.get("/api/v1/me/requests?status=rejected", headers=h).get_json()
    assert [x["id"] for x in mine] == [rejected["id"]]


def test_a_residence_change_transfers_the_subject_with_history_kept(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    with db.tx() as s:  # the new residence lies in another office of the same district (issue 18: no cross-district)
        office = create_unit(s, level="office", name="所A2", code="OA2", parent_id=world.units["district_A"])
        grid = create_unit(s, level="grid", name="网格A2", code="GA2", parent_id=office.id)
        officer2 = create_user(s, username="officerA2", password=PASSWORD, role="officer", unit_ids=[office.id])
        target = (office.id, grid.id, officer2.id)
    clock.set(sh(3, 2, 9))
    r = ask(client, h, d(3, 10), d(3, 10), type="residence_change", destination="所A2辖区").get_json()
    assert (r["route"], r["decider_role"]) == ("residence_change", "officer")
    body = {"request_id": r["id"], "office_id": target[0], "grid_id": target[1]}
    bureau = auth_header(client, "bureauA")
    url = f"/api/v1/staff/subjects/{subject.id}/transfer"
    assert client.post(url, json=body, headers=bureau).get_json()["code"] == "TRANSFER_NOT_APPROVED"
    decide(client, "officerA", r["id"], "recommend")
    assert decide(client, "bureauA", r["id"], "approve").get_json()["status"] == "approved"
    wrong = {**body, "grid_id": world.units["grid_A"]}
    assert client.post(url, json=wrong, headers=bureau).get_json()["code"] == "ORG_UNIT_INVALID"
    moved = client.post(url, json={**body, "officer_id": target[2]}, headers=bureau)
    assert moved.status_code == 200, moved.get_json()
    with db.tx() as s:
        subj = s.get(Subject, subject.id)
        fields = sorted(c.field for c in s.scalars(select(SubjectChange).where(SubjectChange.subject_id == subject.id)))
    assert (subj.office_id, subj.grid_id, subj.officer_id) == target
    assert fields == ["grid_id", "office_id", "officer_id"]
    officer = auth_header(client, "officerA")
    assert client.get(f"/api/v1/staff/subjects/{subject.id}", headers=officer).status_code == 404
    assert (
        client.get(f"/api/v1/staff/subjects/{subject.id}", headers=auth_header(client, "officerA2")).status_code == 200
    )
    mine = client.get("/api/v1/me/requests", headers=h).get_json()
    assert mine[0]["status"] == "completed"  # the history stays with the subject


@pytest.mark.parametrize("role", ["gridA", "admin"])
def test_only_staff_decide(client, world, clock, role):
    subject = new_subject(world)
    clock.set(sh(3, 2, 9))
    r = ask(client, headers_for(client, subject), d(3, 5), d(3, 6)).get_json()
    assert decide(client, role, r["id"], "approve").status_code == 403


def test_a_check_in_and_a_return_report_racing_with_one_client_id_and_photo(app, client, world, clock):
    """A phone that sends one check-in body to both routes at once: one of them takes it, the other is
    answered with a 4xx (never a 5xx: no deadlock between the two paths, no unique-key error escaping),
    and one check-in row holds the client id."""
    subject = new_subject(world)
    h = headers_for(client, subject)
    for k in range(5):
        clock.set(sh(3, 2 + 4 * k, 9))
        r = approved_leave(client, h, d(3, 3 + 4 * k), d(3, 4 + 4 * k))
        at = sh(3, 4 + 4 * k, 20)
        clock.set(at)
        body = checkin_body(uploaded(client, h, at), at)
        routes = ("/api/v1/me/checkins", f"/api/v1/me/requests/{r['id']}/return")
        results = fire_together(app, 2, lambda c, i=iter(routes): c.post(next(i), json=body, headers=h))
        statuses = [resp.status_code for resp in results]
        assert all(s < 500 for s in statuses), [resp.get_json() for resp in results]
        assert any(s in (200, 201) for s in statuses), [resp.get_json() for resp in results]
        with db.new_session() as s:
            rows = s.scalars(
                select(CheckIn.id).where(CheckIn.subject_id == subject.id, CheckIn.client_id == body["client_id"])
            ).all()
        assert len(rows) == 1

    # one after the other: the return report refuses a client id that an ordinary check-in holds
    clock.set(sh(3, 24, 9))
    r = approved_leave(client, h, d(3, 25), d(3, 26))
    clock.set(sh(3, 26, 20))
    body = checkin_body(uploaded(client, h, sh(3, 26, 20)), sh(3, 26, 20))
    assert client.post("/api/v1/me/checkins", json=body, headers=h).status_code == 201
    resp = client.post(f"/api/v1/me/requests/{r['id']}/return", json=body, headers=h)
    assert (resp.status_code, resp.get_json()["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
