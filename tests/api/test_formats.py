"""One format everywhere (issue 13, part 5) and the published state machines (part 4).

CSV cells as JSON writes them, 406 where a list has no CSV form, GeoJSON areas in and out and in the
geofence, ``errors`` always ``{field: [messages]}``, warning kinds UPPER_SNAKE, GET /api/v1/meta/state-machines.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from backend.db import db
from backend.errors import DomainError, field_errors
from backend.models import OrgUnit, utcnow
from backend.services.activities import geofence
from backend.services.core.statemachine import MACHINES, describe
from backend.services.core.warnings import WARNING_KINDS, WARNING_STATES, raise_warning
from backend.services.evidence import faces
from backend.services.oversight import warning_handling
from mobile_api.http.pagination import csv_value
from tests.factories import auth_header
from tests.support.field import subject

CSV = {"Accept": "text/csv"}
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$")
UNITS = "/api/v1/admin/org-units"


def _warning(sid: int, kind: str, key: str, due_at: datetime) -> int:
    with db.tx() as s:
        return raise_warning(s, subject(sid), kind, "medium", kind, period_key=key, due_at=due_at)[0].id


def _csv_rows(resp) -> list[dict]:
    assert resp.status_code == 200 and resp.mimetype == "text/csv", resp.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


# --- CSV cells -------------------------------------------------------------------------------------------


def test_csv_cells_are_written_as_the_json_body_writes_them(client, world):
    sid = world.subjects["A"].id
    late = _warning(sid, "CHECKIN_MISSED", "late", utcnow() - timedelta(hours=1))
    soon = _warning(sid, "GEOFENCE", "soon", utcnow() + timedelta(days=1))
    officer = auth_header(client, "officerA")
    as_json = {w["id"]: w for w in client.get("/api/v1/staff/warnings", headers=officer).get_json()}
    rows = {int(r["id"]): r for r in _csv_rows(client.get("/api/v1/staff/warnings", headers={**officer, **CSV}))}
    assert set(rows) == {late, soon}
    for wid, row in rows.items():
        for key in ("created_at", "due_at"):
            assert ISO.match(row[key]), row[key]  # 2026-12-10T05:04:28.946780+00:00, never "2026-12-10 05:04:28"
            assert datetime.fromisoformat(row[key]) == datetime.fromisoformat(as_json[wid][key])
        assert row["overdue"] == ("true" if as_json[wid]["overdue"] else "false")
        assert row["acknowledged_at"] == ""  # null is an empty cell
    assert (rows[late]["overdue"], rows[soon]["overdue"]) == ("true", "false")


def test_csv_value_of_each_type():
    aware = datetime(2026, 12, 10, 5, 4, 28, 946780, tzinfo=UTC)
    assert csv_value(aware) == "2026-12-10T05:04:28.946780+00:00"
    assert csv_value(aware.astimezone(timezone(timedelta(hours=8)))) == "2026-12-10T13:04:28.946780+08:00"
    assert csv_value(datetime(2026, 12, 10, 5, 4)) == "2026-12-10T05:04:00+00:00"  # naive means UTC here
    assert csv_value(date(2026, 12, 10)) == "2026-12-10"
    assert (csv_value(True), csv_value(False)) == ("true", "false")
    assert (csv_value(0), csv_value("x"), csv_value(None)) == (0, "x", None)


def test_times_in_audit_details_are_iso_8601_and_the_chain_still_verifies(clean):
    from backend.models import AuditLog
    from backend.services.core import audit

    at = datetime(2026, 12, 10, 5, 4, 28, 946780, tzinfo=UTC)
    with db.tx() as s:
        audit.record(s, "test.formats", target_type="test", details={"at": at, "on": date(2026, 12, 10), "n": 1})
    with db.tx() as s:
        row = s.scalars(select(AuditLog).where(AuditLog.action == "test.formats")).one()
        assert row.details == {"at": "2026-12-10T05:04:28.946780+00:00", "on": "2026-12-10", "n": 1}
        assert audit.verify(s).ok


# --- 406 where a list has no CSV form --------------------------------------------------------------------


def test_csv_asked_of_an_endpoint_without_csv_is_406(client, world):
    officer = auth_header(client, "officerA")
    dash = client.get("/api/v1/staff/dashboard", headers={**officer, **CSV})
    assert dash.status_code == 406 and dash.mimetype == "application/json"
    body = dash.get_json()
    assert body["code"] == "NOT_ACCEPTABLE" and body["message"] and body["message_en"]
    assert body["detail"] == {"accept": "text/csv", "available": ["application/json"]} and "errors" not in body
    assert dash.headers["X-Request-ID"]
    # a paged list without a CSV form: 406, and no pagination header of a page that was not sent
    notes = client.get("/api/v1/me/notifications", headers={**officer, **CSV})
    assert notes.status_code == 406 and "X-Pagination" not in notes.headers
    # the same endpoints answer JSON when JSON is acceptable too, and the lists with a CSV form still give CSV
    both = client.get("/api/v1/staff/dashboard", headers={**officer, "Accept": "text/csv, application/json;q=0.5"})
    assert both.status_code == 200 and both.mimetype == "application/json"
    assert client.get("/api/v1/staff/dashboard", headers=officer).status_code == 200
    assert client.get("/api/v1/staff/warnings", headers={**officer, **CSV}).mimetype == "text/csv"
    # errors stay errors: no login is 401, not 406
    assert client.get("/api/v1/staff/dashboard", headers=CSV).status_code == 401


def test_a_write_asked_for_csv_is_refused_before_it_runs(client, world):
    admin = auth_header(client, "admin")
    with db.tx() as s:
        before = s.scalar(select(func.count()).select_from(OrgUnit))
    body = {"level": "district", "name": "区X", "code": "DX", "parent_id": world.units["city"]}
    resp = client.post(UNITS, json=body, headers={**admin, **CSV})
    assert resp.status_code == 406 and resp.get_json()["code"] == "NOT_ACCEPTABLE"
    with db.tx() as s:
        assert s.scalar(select(func.count()).select_from(OrgUnit)) == before
    assert client.post(UNITS, json=body, headers=admin).status_code == 201


# --- GeoJSON areas -----------------------------------------------------------------------------------------

CIRCLE = {"type": "Point", "coordinates": [120.0, 30.0], "radius_m": 1000}
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[120.0, 30.0], [120.1, 30.0], [120.1, 30.1], [120.0, 30.1], [120.0, 30.0]]],
}


@pytest.mark.parametrize("area", [CIRCLE, SQUARE])
def test_a_district_area_goes_in_and_comes_out_as_geojson(client, world, area):
    admin = auth_header(client, "admin")
    body = {"level": "district", "name": "区G", "code": "DG", "parent_id": world.units["city"], "area": area}
    made = client.post(UNITS, json=body, headers=admin)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["area"] == area
    listed = {u["id"]: u for u in client.get(UNITS, headers=admin).get_json()}
    assert listed[made.get_json()["id"]]["area"] == area


@pytest.mark.parametrize(
    "old",
    [
        {"type": "circle", "center": [120.0, 30.0], "radius_m": 1000},
        {"type": "polygon", "coordinates": [[120.0, 30.0], [120.1, 30.0], [120.1, 30.1]]},
        {"type": "Polygon", "coordinates": [[[120.0, 30.0], [120.1, 30.0], [120.1, 30.1], [120.0, 30.1]]]},
    ],
)
def test_an_area_that_is_not_geojson_is_refused_with_a_field_message(client, world, old):
    admin = auth_header(client, "admin")
    body = {"level": "district", "name": "区H", "code": "DH", "parent_id": world.units["city"], "area": old}
    resp = client.post(UNITS, json=body, headers=admin)
    assert resp.status_code == 400 and resp.get_json()["code"] == "VALIDATION_FAILED"
    errors = resp.get_json()["errors"]
    assert list(errors) == ["area"] and all(isinstance(m, str) and m for m in errors["area"])


def test_the_geofence_measures_a_point_with_radius_and_a_polygon(world):
    sid = world.subjects["A"].id
    at = utcnow()
    with db.tx() as s:
        for area in (CIRCLE, SQUARE):
            inside = geofence.check(s, sid, 30.0005, 120.0005, 10, at, district=(1, area))
            assert (inside.inside, inside.distance_m, inside.basis) == (True, 0.0, "district:1")
        # 0.02° north of the circle's centre: ~2224 m from it, ~1224 m outside the 1 km radius
        out = geofence.check(s, sid, 30.02, 120.0, 10, at, district=(1, CIRCLE))
        assert out.inside is False and out.distance_m == pytest.approx(1224, abs=5)
        # 150 m east of the square: within the 200 m tolerance; 0.01° (~963 m) east: outside
        near = geofence.check(s, sid, 30.05, 120.1 + 150 / (111_195 * 0.866), 10, at, district=(1, SQUARE))
        assert near.inside is True and near.distance_m == pytest.approx(150, abs=2)
        far = geofence.check(s, sid, 30.05, 120.11, 10, at, district=(1, SQUARE))
        assert far.inside is False and far.distance_m == pytest.approx(963, rel=0.01)


# --- errors and codes --------------------------------------------------------------------------------------


def test_errors_are_always_field_messages():
    assert field_errors({"items": {0: {"kind": ["unknown"]}, 2: ["bad"]}, "x": "y"}) == {
        "items.0.kind": ["unknown"],
        "items.2": ["bad"],
        "x": ["y"],
    }
    err = DomainError("VALIDATION_FAILED", {"points": [3]}, context={"allowed": [1, 2]})
    assert err.errors == {"points": ["3"]} and err.context == {"allowed": [1, 2]}


def test_a_refusal_without_a_field_at_fault_puts_its_facts_under_detail(client, world):
    wid = _warning(world.subjects["A"].id, "CHECKIN_MISSED", "p", utcnow() + timedelta(days=1))
    officer = auth_header(client, "officerA")
    url = f"/api/v1/staff/warnings/{wid}/handle"
    assert client.post(url, json={"outcome": "resolved", "note": "谈话"}, headers=officer).status_code == 200
    again = client.post(url, json={"outcome": "dismissed", "note": "误报"}, headers=officer)
    body = again.get_json()
    assert again.status_code == 409 and body["code"] == "WARNING_ALREADY_HANDLED"
    assert body["detail"] == {"outcome": "resolved"} and "errors" not in body


def test_a_field_with_allowed_values_says_them_as_one_message(client, world):
    h = auth_header(client, "subjectA")
    resp = client.post("/api/v1/me/sync", json={"items": [{"kind": "teleport", "body": {"client_id": "x"}}]}, headers=h)
    (item,) = resp.get_json()["results"]
    assert item["error"]["code"] == "SYNC_KIND_UNKNOWN"
    (message,) = item["error"]["errors"]["kind"]
    assert message.startswith("one of: ") and "checkin" in message.split(": ", 1)[1].split(", ")


def test_warning_kinds_are_upper_snake_and_declared_once():
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*", k) for k in WARNING_KINDS)
    assert faces.MISSING_WARNING == "FACE_REFERENCE_MISSING" and faces.MISSING_WARNING in WARNING_KINDS
    assert warning_handling.KINDS is WARNING_KINDS


# --- state machines ----------------------------------------------------------------------------------------

PRODUCT_MACHINES = {
    "appeal",
    "checkin",
    "education_offline",
    "education_online",
    "field_report",
    "merit_application",
    "score_adjustment",
    "score_event",
    "service_report",
    "subject_request",
    "suggestion",
    "upload",
    "upload_review",
    "warning",
}


def test_the_state_machines_are_published_without_login(client):
    resp = client.get("/api/v1/meta/state-machines")
    assert resp.status_code == 200
    listed = {m["name"]: m for m in resp.get_json()}
    assert set(listed) >= PRODUCT_MACHINES
    for name in PRODUCT_MACHINES:
        m, machine = listed[name], MACHINES[name]
        assert m["transitions"] == machine.describe() and m["initial"] == machine.initial
        assert m["states"] == sorted(machine.states) and m["terminal"] == sorted(machine.terminal)
        assert m["description"] == describe(machine)
    assert listed["warning"]["transitions"] == {
        "acknowledged": ["handled"],
        "handled": [],
        "open": ["acknowledged", "handled"],
    }


def test_describe_names_every_state_and_move():
    text = describe(WARNING_STATES)
    assert text.startswith('States of "warning": open (initial) → acknowledged | handled;')
    assert "acknowledged → handled" in text and "handled (final)" in text


def test_status_fields_of_the_response_schemas_describe_their_machine(client):
    from mobile_api.common.records import AppealOut, RequestOut
    from mobile_api.me.schemas import CheckInOut
    from mobile_api.staff.oversight_schemas import SuggestionOut, WarningOut

    for schema, name in (
        (WarningOut, "warning"),
        (SuggestionOut, "suggestion"),
        (RequestOut, "subject_request"),
        (AppealOut, "appeal"),
        (CheckInOut, "checkin"),
    ):
        assert schema().fields["status"].metadata["description"] == describe(MACHINES[name])
    # and the OpenAPI document carries them
    spec = client.get("/openapi.json").get_json()
    assert describe(MACHINES["subject_request"]) in set(_descriptions(spec))


def _descriptions(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "description" and isinstance(v, str):
                yield v
            else:
                yield from _descriptions(v)
    elif isinstance(node, list):
        for v in node:
            yield from _descriptions(v)
