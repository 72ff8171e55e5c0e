"""Enrolment (入矫), masked and encrypted ID numbers, recorded level/risk changes, search and CSV export."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from sqlalchemy import select, text

from backend.db import db
from backend.models import AuditLog, Subject, SubjectChange
from backend.services.subjects import idcard
from tests.factories import auth_header

URL = "/api/v1/staff/subjects"
ID_NUMBER = idcard.make("330106", date(1990, 3, 7), 123)


def enrol_body(world, **extra) -> dict:
    body = {
        "name": "王五",
        "gender": "male",
        "id_number": ID_NUMBER,
        "phone": "13900000000",
        "correction_type": "probation",
        "start_date": "2026-01-05",
        "end_date": "2027-01-04",
        "supervision_level": "normal",
        "risk_level": "medium",
        "office_id": world.units["office_A"],
        "grid_id": world.units["grid_A"],
    }
    body.update(extra)
    return body


def _post(client, world, user: str = "officerA", **extra):
    return client.post(URL, json=enrol_body(world, **extra), headers=auth_header(client, user))


def test_officer_enrols_in_own_office(client, world):
    resp = _post(client, world)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert set(body) == {"subject", "username", "activation_code", "activation_expires_at"}
    assert len(body["activation_code"]) == 10 and body["username"]
    subject = body["subject"]
    assert subject["id_number_masked"] == ID_NUMBER[:3] + "*" * 11 + ID_NUMBER[-4:]
    assert subject["office_id"] == world.units["office_A"] and subject["officer_id"] == world.users["officer_A"].id
    assert subject["status"] == "in_correction"
    assert ID_NUMBER not in resp.get_data(as_text=True) and ID_NUMBER[6:14] not in resp.get_data(as_text=True)
    # the welcome notification waits for the subject's first login
    row = db.session.get(Subject, subject["id"])
    assert row.created_by == world.users["officer_A"].id
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "subject.enrol").order_by(AuditLog.id.desc()))
    assert audit.target_id == str(subject["id"]) and ID_NUMBER not in json.dumps(audit.details)


def test_masked_format_for_an_x_check_digit(client, world):
    number = "11010519491231002X"
    resp = _post(client, world, id_number=number.lower())
    assert resp.status_code == 201
    assert resp.get_json()["subject"]["id_number_masked"] == "110***********002X"


def test_id_numbers_are_encrypted_at_rest(client, world):
    sid = _post(client, world).get_json()["subject"]["id"]
    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM subjects WHERE id = :i"), {"i": sid}).mappings().one()
    dumped = " ".join(str(v) for v in row.values())
    assert ID_NUMBER not in dumped and ID_NUMBER[:17] not in dumped
    assert row["id_number_enc"].startswith("gAAAA")  # a Fernet token
    assert len(row["id_number_hash"]) == 64


@pytest.mark.parametrize(
    "bad", [ID_NUMBER[:17] + ("0" if ID_NUMBER[17] != "0" else "1"), "12345", "33010619901307123X"]
)
def test_bad_id_number_is_422(client, world, bad):
    resp = _post(client, world, id_number=bad)
    assert resp.status_code == 422 and resp.get_json()["code"] == "ID_NUMBER_INVALID"


def test_duplicate_id_number_is_409(client, world):
    assert _post(client, world).status_code == 201
    resp = _post(client, world, name="另一个人")
    assert resp.status_code == 409 and resp.get_json()["code"] == "ID_NUMBER_DUPLICATE"
    # the same person in another district's office is still the same person
    resp = _post(client, world, user="officerB", office_id=world.units["office_B"], grid_id=world.units["grid_B"])
    assert resp.status_code == 409


def test_grid_of_another_office_is_422(client, world):
    resp = _post(client, world, grid_id=world.units["grid_B"])
    assert resp.status_code == 422 and resp.get_json()["code"] == "ORG_UNIT_INVALID"
    assert "grid_id" in resp.get_json()["errors"]


@pytest.mark.parametrize("unit", ["office_B", "grid_A", "district_A", None])
def test_office_outside_jurisdiction_is_422(client, world, unit):
    office = world.units[unit] if unit else 999999
    resp = _post(client, world, office_id=office)
    assert resp.status_code == 422 and resp.get_json()["code"] == "ORG_UNIT_INVALID"
    assert db.session.scalar(select(Subject.id).where(Subject.name == "王五")) is None


@pytest.mark.parametrize("user", ["bureauA", "gridA", "subjectA", "admin"])
def test_only_officers_enrol(client, world, user):
    resp = _post(client, world, user=user)
    assert resp.status_code == 403 and resp.get_json()["code"] == "FORBIDDEN"


def test_dates_and_officer_are_checked(client, world):
    resp = _post(client, world, start_date="2026-05-01", end_date="2026-04-30")
    assert resp.status_code == 422 and resp.get_json()["code"] == "DATES_INVALID"
    resp = _post(client, world, officer_id=world.users["officer_B"].id)
    assert resp.status_code == 422 and resp.get_json()["code"] == "OFFICER_INVALID"
    resp = _post(client, world, username="officerB")
    assert resp.status_code == 409 and resp.get_json()["code"] == "USERNAME_TAKEN"


def test_patch_records_who_changed_what_and_when(client, world):
    sid = world.subjects["A"].id
    hdr = auth_header(client, "officerA")
    resp = client.patch(
        f"{URL}/{sid}", json={"supervision_level": "strict", "risk_level": "high", "reason": "再犯风险"}, headers=hdr
    )
    assert resp.status_code == 200
    assert resp.get_json()["supervision_level"] == "strict" and resp.get_json()["risk_level"] == "high"
    bureau = auth_header(client, "bureauA")
    client.patch(f"{URL}/{sid}", json={"risk_level": "medium"}, headers=bureau)
    client.patch(f"{URL}/{sid}", json={"risk_level": "medium"}, headers=bureau)  # no change, no row
    rows = db.session.scalars(select(SubjectChange).where(SubjectChange.subject_id == sid)).all()
    assert len(rows) == 3
    got = client.get(f"{URL}/{sid}", headers=hdr).get_json()
    changes = got["changes"]
    assert [(c["field"], c["old_value"], c["new_value"]) for c in changes] == [
        ("risk_level", "high", "medium"),
        ("risk_level", "medium", "high"),
        ("supervision_level", "normal", "strict"),
    ]
    assert (
        changes[0]["changed_by"] == world.users["bureau_A"].id
        and changes[1]["changed_by"] == world.users["officer_A"].id
    )
    assert changes[1]["reason"] == "再犯风险" and changes[1]["changed_at"]
    assert got["supervision_level"] == "strict" and got["risk_level"] == "medium"


def test_patch_validation_and_scope(client, world):
    hdr = auth_header(client, "officerA")
    sid = world.subjects["A"].id
    bad = client.patch(f"{URL}/{sid}", json={"supervision_level": "loose"}, headers=hdr)
    assert bad.status_code == 400 and "supervision_level" in bad.get_json()["errors"]
    foreign = client.patch(f"{URL}/{world.subjects['B'].id}", json={"risk_level": "low"}, headers=hdr)
    assert foreign.status_code == 404
    grid = client.patch(f"{URL}/{sid}", json={"grid_id": world.units["grid_B"]}, headers=hdr)
    assert grid.status_code == 422
    assert (
        client.patch(f"{URL}/{sid}", json={"risk_level": "low"}, headers=auth_header(client, "gridA")).status_code
        == 403
    )


def test_profile_is_masked_unless_revealed_with_a_purpose(client, world):
    sid = world.subjects["A"].id
    plain = world.subjects["A"].__dict__["_plain_id_number"]
    hdr = auth_header(client, "officerA")
    plain_get = client.get(f"{URL}/{sid}", headers=hdr)
    assert plain not in plain_get.get_data(as_text=True) and plain_get.get_json()["id_number"] is None
    no_purpose = client.get(f"{URL}/{sid}?reveal=id_number", headers=hdr)
    assert no_purpose.status_code == 422 and no_purpose.get_json()["code"] == "PURPOSE_REQUIRED"
    revealed = client.get(f"{URL}/{sid}?reveal=id_number&purpose=核对身份", headers=hdr)
    assert revealed.status_code == 200 and revealed.get_json()["id_number"] == plain
    db.session.rollback()  # a fresh snapshot: the request's audit row was committed by another session
    row = db.session.scalar(
        select(AuditLog).where(AuditLog.action == "subject.read_id_number").order_by(AuditLog.id.desc()).limit(1)
    )
    assert (
        row.purpose == "核对身份"
        and row.actor_id == world.users["officer_A"].id
        and plain not in json.dumps(row.details)
    )
    assert client.get(f"{URL}/{world.subjects['B'].id}", headers=hdr).status_code == 404


def test_search_by_exact_id_number_and_by_name(client, world):
    hdr = auth_header(client, "bureauA")
    plain = world.subjects["A"].__dict__["_plain_id_number"]
    found = client.get(f"{URL}?id_number={plain.lower()}", headers=hdr).get_json()
    assert [s["id"] for s in found] == [world.subjects["A"].id]
    assert (
        client.get(f"{URL}?id_number={world.subjects['B'].__dict__['_plain_id_number']}", headers=hdr).get_json() == []
    )
    assert client.get(f"{URL}?id_number={plain[:10]}", headers=hdr).get_json() == []  # exact only
    by_name = client.get(f"{URL}?q=对象", headers=hdr).get_json()
    assert [s["id"] for s in by_name] == [world.subjects["A"].id]  # B is outside the district
    assert client.get(f"{URL}?q=%25", headers=hdr).get_json() == []  # a literal %, not a wildcard


def test_list_pagination_header(client, world):
    from tests.factories import make_subject

    for i in range(3):
        make_subject(
            office_id=world.units["office_A"],
            grid_id=world.units["grid_A"],
            officer_id=world.users["officer_A"].id,
            username=f"extra{i}",
        )
    resp = client.get(f"{URL}?page=2&page_size=3", headers=auth_header(client, "officerA"))
    assert resp.status_code == 200 and len(resp.get_json()) == 1
    meta = json.loads(resp.headers["X-Pagination"])
    assert meta["total"] == 4 and meta["total_pages"] == 2 and meta["previous_page"] == 1


def test_csv_export(client, world):
    with db.tx() as s:
        s.get(Subject, world.subjects["A"].id).name = "=HYPERLINK(1)"
    hdr = {**auth_header(client, "officerA"), "Accept": "text/csv"}
    resp = client.get(URL, headers=hdr)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    content = resp.get_data(as_text=True)
    assert content.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(content.lstrip("\ufeff"))))
    assert len(rows) == 1 and rows[0]["id"] == str(world.subjects["A"].id)
    assert rows[0]["name"] == "'=HYPERLINK(1)"  # defused for spreadsheets
    assert world.subjects["A"].__dict__["_plain_id_number"] not in content
    assert rows[0]["id_number_masked"].count("*") == 11
    audit = db.session.scalar(
        select(AuditLog).where(AuditLog.action == "subject.export").order_by(AuditLog.id.desc()).limit(1)
    )
    assert audit.details["rows"] == 1
    empty = client.get(f"{URL}?q=nobody", headers=hdr).get_data(as_text=True)
    assert empty.lstrip("\ufeff").startswith("id,name,")  # a header even without rows


def test_grid_worker_sees_limited_fields_of_own_grid(client, world):
    resp = client.get("/api/v1/grid/subjects", headers=auth_header(client, "gridA"))
    assert resp.status_code == 200
    items = resp.get_json()
    assert [s["id"] for s in items] == [world.subjects["A"].id]
    assert not {"id_number_masked", "id_number", "phone"} & set(items[0])
    assert client.get(f"{URL}/{world.subjects['A'].id}", headers=auth_header(client, "gridA")).status_code == 403
