"""Issue 17: what the staff screens read — the subject list with scores (grade, risk filters), the org units of my
jurisdiction with the district's area, a subject's check-ins, learning and service, and one record by id."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from sqlalchemy import event, func, select

from backend.db import db
from backend.models import AuditLog
from backend.models.checkin import CheckIn
from backend.models.education import EducationSession
from backend.models.service import ServiceReport
from backend.services.activities import periods
from tests.factories import auth_header
from tests.support.activities import HOME, checkin_obj, new_subject, offline_session_obj, service_report_obj


class _Ctx:
    def __init__(self, world):
        self.world = world


def _page(resp) -> tuple[list, dict]:
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json(), json.loads(resp.headers["X-Pagination"])


# --- the subject list: score fields, grade and risk filters -------------------------------------------------------


def test_list_items_carry_score_grade_and_colour_and_filter_by_grade(client, world):
    green = new_subject(world, grade="green")
    red = new_subject(world, grade="red", risk_level="high")
    h = auth_header(client, "officerA")
    items, meta = _page(client.get("/api/v1/staff/subjects?page_size=200", headers=h))
    by_id = {i["id"]: i for i in items}
    assert by_id[green.id]["grade"] == "excellent" and by_id[green.id]["colour"] == "green"
    assert by_id[green.id]["grade_name"] == "信用优秀" and by_id[green.id]["score_total"] >= 800
    assert by_id[red.id]["grade"] == "severe" and by_id[red.id]["colour"] == "red"
    assert by_id[red.id]["score_total"] < 650 and by_id[red.id]["base_pending"] is False
    # the world's own subject has no score row yet: the fields are null, the subject still listed
    plain = by_id[world.subjects["A"].id]
    assert plain["score_total"] is None and plain["grade"] is None and plain["colour"] is None
    assert meta["total"] == len(items)

    items, meta = _page(client.get("/api/v1/staff/subjects?grade=severe", headers=h))
    assert [i["id"] for i in items] == [red.id] and meta["total"] == 1
    items, _ = _page(client.get("/api/v1/staff/subjects?grade=excellent&risk_level=high", headers=h))
    assert items == []
    items, _ = _page(client.get("/api/v1/staff/subjects?risk_level=high", headers=h))
    assert [i["id"] for i in items] == [red.id]


def test_an_unknown_grade_or_risk_level_is_a_400(client, world):
    h = auth_header(client, "officerA")
    resp = client.get("/api/v1/staff/subjects?grade=purple", headers=h)
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["code"] == "VALIDATION_FAILED" and "grade" in body["errors"] and body["message"]
    resp = client.get("/api/v1/staff/subjects?risk_level=extreme", headers=h)
    assert resp.status_code == 400 and "risk_level" in resp.get_json()["errors"]


def test_the_bureau_filters_its_district_and_never_sees_another(client, world):
    new_subject(world, grade="red", side="B")
    mine = new_subject(world, grade="red")
    items, _ = _page(client.get("/api/v1/staff/subjects?grade=severe", headers=auth_header(client, "bureauA")))
    assert [i["id"] for i in items] == [mine.id]


def test_the_csv_export_carries_the_score_and_reads_each_page_in_one_statement(client, world):
    subjects = [new_subject(world, grade="red") for _ in range(3)]
    h = {**auth_header(client, "officerA"), "Accept": "text/csv"}
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT") and "subject_scores" in statement:
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        resp = client.get("/api/v1/staff/subjects?grade=severe", headers=h)
        text = resp.get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [int(r["id"]) for r in rows] == [s.id for s in subjects]
    assert all(r["grade"] == "severe" and r["colour"] == "red" and int(r["score_total"]) < 650 for r in rows)
    assert len(statements) == 2  # the audited count, then the rows with their scores (one statement)

    statements.clear()
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        _page(client.get("/api/v1/staff/subjects?grade=severe", headers=auth_header(client, "officerA")))
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 2  # a JSON page: the count and one SELECT of subjects ⟕ scores


# --- org units ----------------------------------------------------------------------------------------------------


def test_an_officer_gets_its_office_its_grids_and_its_district_with_the_area(client, world):
    units = client.get("/api/v1/staff/org-units", headers=auth_header(client, "officerA"))
    assert units.status_code == 200, units.get_json()
    got = {(u["level"], u["id"]) for u in units.get_json()}
    assert got == {
        ("district", world.units["district_A"]),
        ("office", world.units["office_A"]),
        ("grid", world.units["grid_A"]),
    }
    by_level = {u["level"]: u for u in units.get_json()}
    assert by_level["district"]["area"] == {"type": "Point", "coordinates": [119.96, 30.05], "radius_m": 20000}
    assert by_level["office"]["area"] is None and by_level["office"]["name"] == "所A"
    assert by_level["grid"]["parent_id"] == world.units["office_A"] and by_level["grid"]["name"] == "网格A"
    assert [u["level"] for u in units.get_json()] == ["district", "office", "grid"]


def test_the_bureau_gets_its_district_offices_and_grids_only(client, world):
    units = client.get("/api/v1/staff/org-units", headers=auth_header(client, "bureauB")).get_json()
    assert {u["id"] for u in units} == {world.units[k] for k in ("district_B", "office_B", "grid_B")}


# --- a subject's activity -----------------------------------------------------------------------------------------


def test_a_subjects_checkins_newest_first_without_the_position(client, world):
    ctx = _Ctx(world)
    first = checkin_obj(ctx, "officer", "A")["checkin_id"]
    second = checkin_obj(ctx, "officer", "A")["checkin_id"]
    with db.tx() as s:
        s.get(CheckIn, first).received_at = periods.now() - timedelta(days=2)
        c = s.get(CheckIn, second)
        c.status, c.outcome, c.inside_area = "counted", "late", False
    checkin_obj(ctx, "officer", "B")
    sid = world.subjects["A"].id
    items, meta = _page(client.get(f"/api/v1/staff/subjects/{sid}/checkins", headers=auth_header(client, "bureauA")))
    assert [i["id"] for i in items] == [second, first] and meta["total"] == 2
    assert items[0]["status"] == "counted" and items[0]["outcome"] == "late" and items[0]["inside_area"] is False
    assert "latitude" not in items[0] and "longitude" not in items[0]
    assert str(HOME[0]) not in json.dumps(items)
    items, _ = _page(
        client.get(f"/api/v1/staff/subjects/{sid}/checkins?status=counted", headers=auth_header(client, "officerA"))
    )
    assert [i["id"] for i in items] == [second]
    other = world.subjects["B"].id
    assert (
        client.get(f"/api/v1/staff/subjects/{other}/checkins", headers=auth_header(client, "officerA")).status_code
        == 404
    )
    bad = client.get(f"/api/v1/staff/subjects/{sid}/checkins?status=nope", headers=auth_header(client, "officerA"))
    assert bad.status_code == 400


def test_a_subjects_learning_and_service_and_one_record_each(client, world):
    ctx = _Ctx(world)
    session_id = offline_session_obj(ctx, "officer", "A")["session_id"]
    report_id = service_report_obj(ctx, "officer", "A")["report_id"]
    with db.tx() as s:
        r = s.get(ServiceReport, report_id)
        r.place, r.witness_name, r.witness_phone, r.minutes, r.upload_ids = "幸福社区", "李四", "13900000000", 150, [7]
        s.get(EducationSession, session_id).claimed_minutes = 90
    sid = world.subjects["A"].id
    h = auth_header(client, "officerA")
    items, _ = _page(client.get(f"/api/v1/staff/subjects/{sid}/education-sessions", headers=h))
    assert [i["id"] for i in items] == [session_id] and items[0]["mode"] == "offline"
    items, _ = _page(client.get(f"/api/v1/staff/subjects/{sid}/service-reports?status=pending", headers=h))
    assert [i["id"] for i in items] == [report_id]

    one = client.get(f"/api/v1/staff/service-reports/{report_id}", headers=h).get_json()
    assert one["place"] == "幸福社区" and one["hours"] == 2 and one["minutes"] == 150
    assert one["witness_name"] == "李四" and one["witness_phone"] == "13900000000" and one["upload_ids"] == [7]
    assert "latitude" not in one
    edu = client.get(f"/api/v1/staff/education-sessions/{session_id}", headers=h).get_json()
    assert edu["claimed_minutes"] == 90 and edu["subject_id"] == sid and edu["status"] == "pending"

    # district B's records are not found, for its officer's neighbours and for the other bureau alike
    foreign_report = service_report_obj(ctx, "officer", "B")["report_id"]
    foreign_session = offline_session_obj(ctx, "officer", "B")["session_id"]
    hb = auth_header(client, "bureauA")
    assert client.get(f"/api/v1/staff/service-reports/{foreign_report}", headers=hb).status_code == 404
    assert client.get(f"/api/v1/staff/education-sessions/{foreign_session}", headers=hb).status_code == 404
    assert client.get(f"/api/v1/staff/service-reports/{report_id}", headers=hb).status_code == 200
    assert client.get("/api/v1/staff/service-reports/987654", headers=h).get_json()["code"] == "NOT_FOUND"


def test_a_subjects_activity_lists_export_as_csv_and_the_export_is_audited(client, world):
    ctx = _Ctx(world)
    checkin_obj(ctx, "officer", "A")
    service_report_obj(ctx, "officer", "A")
    with db.tx() as s:
        floor = s.scalar(select(func.max(AuditLog.id))) or 0
    sid = world.subjects["A"].id
    h = {**auth_header(client, "officerA"), "Accept": "text/csv"}
    for path, name in (("checkins", "checkins"), ("service-reports", "service_reports")):
        resp = client.get(f"/api/v1/staff/subjects/{sid}/{path}", headers=h)
        assert resp.status_code == 200 and resp.mimetype == "text/csv", resp.get_data(as_text=True)
        rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
        assert len(rows) == 1 and "latitude" not in rows[0]
        with db.tx() as s:
            (audit,) = s.scalars(select(AuditLog).where(AuditLog.action == f"{name}.export", AuditLog.id > floor))
            assert audit.details == {"filters": {"subject_id": str(sid)}}
