"""Transfer checks (docs/requests.md#residence-change-and-transfer): the destination district and the caller's area."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.db import db
from backend.models import AuditLog, Subject
from backend.services.identity.users import create_user
from backend.services.subjects.orgs import create_unit
from tests.activities.test_requests import ask, d, decide
from tests.factories import PASSWORD, auth_header
from tests.support.activities import headers_for, new_subject, sh


def _second_office(world) -> dict:
    """A second office of district A, with a grid and an officer."""
    with db.tx() as s:
        office = create_unit(s, level="office", name="所A2", code="OA2", parent_id=world.units["district_A"])
        grid = create_unit(s, level="grid", name="网格A2", code="GA2", parent_id=office.id)
        officer = create_user(s, username="officerA2", password=PASSWORD, role="officer", unit_ids=[office.id])
    return {"office_id": office.id, "grid_id": grid.id, "officer_id": officer.id}


def _approved_change(client, world, clock, subject, **over) -> dict:
    clock.set(sh(3, 2, 9))
    r = ask(client, headers_for(client, subject), d(3, 10), d(3, 10), type="residence_change", **over)
    assert r.status_code == 201, r.get_json()
    r = r.get_json()
    assert decide(client, "officerA", r["id"], "recommend").status_code == 200
    assert decide(client, "bureauA", r["id"], "approve").get_json()["status"] == "approved"
    return r


def _transfers_audited() -> int:
    return db.session.scalar(select(func.count()).where(AuditLog.action == "subject.transfer"))


def _transfer(client, who: str, subject_id: int, body: dict):
    url = f"/api/v1/staff/subjects/{subject_id}/transfer"
    return client.post(url, json=body, headers=auth_header(client, who))


def test_the_bureau_moves_a_subject_into_another_office_of_its_district(client, world, clock):
    target = _second_office(world)
    subject = new_subject(world)
    r = _approved_change(
        client, world, clock, subject, destination="富阳区银湖街道", destination_district_id=world.units["district_A"]
    )
    resp = _transfer(client, "bureauA", subject.id, {"request_id": r["id"], **target})
    assert resp.status_code == 200, resp.get_json()
    with db.tx() as s:
        moved = s.get(Subject, subject.id)
        assert (moved.office_id, moved.grid_id, moved.officer_id) == (
            target["office_id"],
            target["grid_id"],
            target["officer_id"],
        )
    assert (
        client.get(f"/api/v1/staff/subjects/{subject.id}", headers=auth_header(client, "officerA2")).status_code == 200
    )


def test_a_move_to_another_district_is_refused_whoever_asks(client, world, clock):
    subject = new_subject(world)
    r = _approved_change(client, world, clock, subject, destination="区B")
    body = {"request_id": r["id"], "office_id": world.units["office_B"], "grid_id": world.units["grid_B"]}
    transfers = _transfers_audited()
    for who in ("officerA", "bureauA"):
        resp = _transfer(client, who, subject.id, body)
        assert resp.status_code == 422, resp.get_json()
        out = resp.get_json()
        assert out["code"] == "TRANSFER_OTHER_DISTRICT"
        assert out["detail"]["office_district_id"] == world.units["district_B"]
        assert "enrol" in out["message_en"]
    with db.tx() as s:
        assert s.get(Subject, subject.id).office_id == world.units["office_A"]
    assert _transfers_audited() == transfers


def test_an_approved_destination_in_another_district_refuses_a_move_within_this_one(client, world, clock):
    target = _second_office(world)
    subject = new_subject(world)
    r = _approved_change(
        client, world, clock, subject, destination="区B", destination_district_id=world.units["district_B"]
    )
    resp = _transfer(client, "bureauA", subject.id, {"request_id": r["id"], **target})
    assert resp.status_code == 422 and resp.get_json()["code"] == "TRANSFER_OTHER_DISTRICT"
    assert resp.get_json()["detail"]["destination_district_id"] == world.units["district_B"]


def test_an_officer_moves_a_subject_only_into_an_office_of_their_own(client, world, clock):
    target = _second_office(world)
    subject = new_subject(world)
    r = _approved_change(client, world, clock, subject, destination="银湖街道")
    resp = _transfer(client, "officerA", subject.id, {"request_id": r["id"], **target})
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["code"] == "ORG_UNIT_INVALID" and "office_id" in resp.get_json()["errors"]
    with db.tx() as s:
        assert s.get(Subject, subject.id).office_id == world.units["office_A"]
    # the subject's own office, another grid of it: the officer may
    with db.tx() as s:
        grid2 = create_unit(s, level="grid", name="网格A3", code="GA3", parent_id=world.units["office_A"]).id
    body = {"request_id": r["id"], "office_id": world.units["office_A"], "grid_id": grid2}
    assert _transfer(client, "officerA", subject.id, body).status_code == 200
