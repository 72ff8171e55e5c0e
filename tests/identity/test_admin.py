"""Admin endpoints over HTTP: org units (levels, district areas, subtrees), staff accounts, the audit log."""

from __future__ import annotations

from sqlalchemy import select, update

from backend.db import db
from backend.models import AuditLog
from tests.core.test_audit import append_only_triggers_off
from tests.factories import PASSWORD, auth_header

UNITS = "/api/v1/admin/org-units"
USERS = "/api/v1/admin/users"
AREA = {"type": "Polygon", "coordinates": [[[120.0, 30.0], [120.2, 30.0], [120.1, 30.2], [120.0, 30.0]]]}


def test_org_units_nest_by_level_and_list_as_a_subtree(client, world):
    admin = auth_header(client, "admin")
    city = world.units["city"]
    district = client.post(
        UNITS, json={"level": "district", "name": "区C", "code": "DC", "parent_id": city, "area": AREA}, headers=admin
    )
    assert district.status_code == 201, district.get_json()
    dist = district.get_json()
    assert dist["area"] == AREA and dist["parent_id"] == city and dist["path"].endswith(f"/{dist['id']}/")
    body = {"level": "office", "name": "所C", "code": "OC", "parent_id": dist["id"]}
    office = client.post(UNITS, json=body, headers=admin).get_json()
    grid = client.post(
        UNITS, json={"level": "grid", "name": "网格C", "code": "GC", "parent_id": office["id"]}, headers=admin
    )
    assert grid.status_code == 201
    under = client.get(f"{UNITS}?under={dist['id']}", headers=admin).get_json()
    assert [u["code"] for u in under] == ["DC", "OC", "GC"]
    everything = [u["code"] for u in client.get(UNITS, headers=admin).get_json()]
    assert {"P", "C", "DA", "DB", "DC", "OA", "GA", "GC"} <= set(everything) and everything[0] == "P"
    assert client.get(f"{UNITS}?under=999999", headers=admin).get_json() == []
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.target_id == str(dist["id"]))).all()
    assert "org_unit.create" in actions

    def refused(data: dict) -> tuple[int, str]:
        resp = client.post(UNITS, json=data, headers=admin)
        return resp.status_code, resp.get_json()["code"]

    assert refused({"level": "grid", "name": "x", "code": "X1", "parent_id": dist["id"]}) == (422, "ORG_UNIT_INVALID")
    assert refused({"level": "office", "name": "x", "code": "X2", "parent_id": dist["id"], "area": AREA}) == (
        422,
        "ORG_UNIT_INVALID",
    )
    assert refused({"level": "office", "name": "x", "code": "OC", "parent_id": dist["id"]}) == (409, "CONFLICT")
    assert (
        refused({"level": "district", "name": "x", "code": "X3", "parent_id": city, "area": {"type": "dot"}})[0] == 400
    )
    assert refused({"level": "county", "name": "x", "code": "X4", "parent_id": city})[0] == 400
    assert client.post(UNITS, json=body, headers=auth_header(client, "bureauA")).status_code == 403


def test_staff_accounts_get_their_units_and_an_officer_may_have_two_offices(client, world):
    admin = auth_header(client, "admin")
    dist_a = world.units["district_A"]
    second = client.post(
        UNITS, json={"level": "office", "name": "所A2", "code": "OA2", "parent_id": dist_a}, headers=admin
    ).get_json()
    body = {"username": "officer2", "password": PASSWORD, "role": "officer"}
    resp = client.post(USERS, json={**body, "unit_ids": [world.units["office_A"], second["id"]]}, headers=admin)
    assert resp.status_code == 201, resp.get_json()
    assert (resp.get_json()["role"], resp.get_json()["active"]) == ("officer", True)
    assert "password" not in resp.get_json()
    listed = client.get("/api/v1/staff/subjects", headers=auth_header(client, "officer2")).get_json()
    assert [s["id"] for s in listed] == [world.subjects["A"].id]

    def code(data: dict) -> str:
        return client.post(USERS, json=data, headers=admin).get_json()["code"]

    assert code({**body, "unit_ids": [world.units["office_A"]]}) == "USERNAME_TAKEN"
    assert code({**body, "username": "officer3", "unit_ids": [dist_a]}) == "ORG_UNIT_INVALID"
    assert code({**body, "username": "officer3"}) == "ORG_UNIT_INVALID"
    assert code({**body, "username": "admin2", "role": "admin", "unit_ids": [dist_a]}) == "ORG_UNIT_INVALID"
    assert client.post(USERS, json={**body, "username": "s1", "role": "subject"}, headers=admin).status_code == 400
    officers = client.get(f"{USERS}?role=officer", headers=admin)
    assert {u["username"] for u in officers.get_json()} == {"officerA", "officerB", "officer2"}
    assert "X-Pagination" in officers.headers
    assert all(u["role"] != "subject" for u in client.get(USERS, headers=admin).get_json())


def test_audit_log_query_and_chain_verification(client, world):
    admin = auth_header(client, "admin")
    officer = auth_header(client, "officerA")
    subject = world.subjects["A"]
    resp = client.patch(
        f"/api/v1/staff/subjects/{subject.id}", json={"phone": "13912345678", "reason": "换号"}, headers=officer
    )
    assert resp.status_code == 200, resp.get_json()
    rows = client.get(f"/api/v1/admin/audit?target_type=subject&target_id={subject.id}", headers=admin)
    assert rows.status_code == 200 and "X-Pagination" in rows.headers
    got = rows.get_json()
    assert got and got[0]["actor_id"] == world.users["officer_A"].id and got[0]["mac"]
    assert client.get("/api/v1/admin/audit?since=yesterday", headers=admin).status_code == 400
    verified = client.post("/api/v1/admin/audit/verify", headers=admin).get_json()
    assert verified["ok"] is True and verified["broken_id"] is None and verified["rows"] >= len(got), verified
    target = got[0]["id"]
    with append_only_triggers_off():
        with db.engine.begin() as conn:
            conn.execute(update(AuditLog).where(AuditLog.id == target).values(purpose="篡改"))
        try:
            broken = client.post("/api/v1/admin/audit/verify", headers=admin).get_json()
            assert (broken["ok"], broken["broken_id"]) == (False, target)
        finally:
            with db.engine.begin() as conn:
                conn.execute(update(AuditLog).where(AuditLog.id == target).values(purpose=got[0]["purpose"]))
    assert client.post("/api/v1/admin/audit/verify", headers=officer).status_code == 403
