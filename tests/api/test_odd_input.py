"""Odd client input is a clear 400, never a 500 (mobile_api/http/inputs.py): one regression test per cause.

Each case here once answered 500 on SQLite, PostgreSQL or both: dates at the calendar's edges, JSON nested
10,000 deep, a 5,000-digit number, a lone surrogate, NUL, an open set where a closed one was meant, a token
whose claims do not parse. They run on both backends like the rest of the suite.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from backend import runtime
from backend.db import db
from backend.models.subject import Subject
from tests.factories import auth_header


@pytest.fixture
def h(client, world):
    """Headers per role of the test world."""
    return {
        "subject": auth_header(client, "subjectA"),
        "grid": auth_header(client, "gridA"),
        "officer": auth_header(client, "officerA"),
        "bureau": auth_header(client, "bureauA"),
        "admin": auth_header(client, "admin"),
    }


def _refused(resp, code: str = "VALIDATION_FAILED", status: int = 400) -> dict:
    body = resp.get_json()
    assert resp.status_code == status, (resp.status_code, body)
    assert body["code"] == code, body
    assert body["message"] and body["message_en"]
    return body


@pytest.mark.parametrize("month", ["0000-01", "9999-12", "1999-12", "٢٠٢٦-01", "2026-1"])
def test_a_month_out_of_the_calendar_or_in_other_digits(client, h, month):
    body = _refused(client.get("/api/v1/me/education/summary", query_string={"month": month}, headers=h["subject"]))
    assert "month" in body["errors"]


DATE_LISTS = [
    ("subject", "/api/v1/me/checkins"),
    ("grid", "/api/v1/grid/field-reports"),
    ("officer", "/api/v1/staff/field-reports"),
    ("officer", "/api/v1/staff/warnings"),
    ("officer", "/api/v1/staff/suggestions"),
]


@pytest.mark.parametrize(("role", "path"), DATE_LISTS)
@pytest.mark.parametrize(("field", "value"), [("date_from", "0001-01-01"), ("date_to", "9999-12-31")])
def test_dates_at_the_edges_of_the_calendar(client, h, role, path, field, value):
    body = _refused(client.get(path, query_string={field: value}, headers=h[role]))
    assert field in body["errors"]


@pytest.mark.parametrize("role_path", DATE_LISTS[:1])
def test_a_date_in_other_digits(client, h, role_path):
    role, path = role_path
    body = _refused(client.get(path, query_string={"date_from": "٢٠٢٦-٠١-٠١"}, headers=h[role]))
    assert "date_from" in body["errors"]


def test_a_time_whose_conversion_to_utc_leaves_the_calendar(client, h):
    resp = client.get("/api/v1/admin/audit", query_string={"since": "0001-01-01T00:00:00+14:00"}, headers=h["admin"])
    assert "since" in _refused(resp)["errors"]


def test_a_login_body_nested_ten_thousand_deep(client):
    body = "[" * 10_000 + "]" * 10_000
    resp = client.post("/api/v1/auth/login", data=body, content_type="application/json")
    _refused(resp, "JSON_TOO_COMPLEX")


def test_a_rule_set_nested_nine_hundred_deep(client, h):
    rules: dict = {}
    inner = rules
    for _ in range(900):
        inner["x"] = {}
        inner = inner["x"]
    resp = client.post("/api/v1/admin/rule-sets", json={"rules": rules}, headers=h["admin"])
    _refused(resp, "JSON_TOO_COMPLEX")


def test_an_integer_of_five_thousand_digits(client, h):
    body = '{"mode": "online", "course": "法律常识", "minutes": ' + "9" * 5000 + "}"
    resp = client.post(
        "/api/v1/me/education-sessions", data=body, content_type="application/json", headers=h["subject"]
    )
    _refused(resp, "JSON_TOO_COMPLEX")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_numbers_json_does_not_have(client, h, constant):
    body = '{"rules": {"x": ' + constant + "}}"
    resp = client.post("/api/v1/admin/rule-sets", data=body, content_type="application/json", headers=h["admin"])
    _refused(resp, "MALFORMED_JSON")


def test_an_integer_beyond_the_database_columns(client, h):
    resp = client.post(
        "/api/v1/me/education-sessions",
        json={"mode": "online", "course": "法律常识", "upload_id": 2**40},
        headers=h["subject"],
    )
    assert "upload_id" in _refused(resp)["errors"]


def test_a_lone_surrogate_in_the_login_username(client):
    body = '{"username": "\\ud800x", "password": "x", "device_id": "d"}'
    resp = client.post("/api/v1/auth/login", data=body, content_type="application/json")
    assert "username" in _refused(resp)["errors"]


@pytest.mark.parametrize("field", ["username", "password", "device_id"])
def test_nul_in_the_anonymous_login(client, field):
    body = {"username": "subjectA", "password": "x", "device_id": "d", field: "ab\u0000c"}
    resp = client.post("/api/v1/auth/login", json=body)
    assert field in _refused(resp)["errors"]


def test_nul_in_a_stored_text(client, h):
    resp = client.post(
        "/api/v1/me/education-sessions", json={"mode": "online", "course": "法律\u0000常识"}, headers=h["subject"]
    )
    assert "course" in _refused(resp)["errors"]


def test_nul_in_a_query_parameter(client, h):
    resp = client.get("/api/v1/staff/subjects", query_string={"q": "张\u0000"}, headers=h["officer"])
    assert "q" in _refused(resp)["errors"]


def test_nul_in_a_client_id(client, h):
    resp = client.post(
        "/api/v1/me/education-sessions",
        json={"mode": "online", "course": "法律常识", "client_id": "k\u00001"},
        headers=h["subject"],
    )
    assert "client_id" in _refused(resp)["errors"]


def test_nul_in_a_client_id_from_a_role_that_may_not_create(client, h):
    """The role check comes first: the officer is refused for its role, not crashed by the key."""
    resp = client.post(
        "/api/v1/me/education-sessions",
        json={"mode": "online", "course": "法律常识", "client_id": "k\u00001"},
        headers=h["officer"],
    )
    _refused(resp, "FORBIDDEN", 403)


def _enrolment(world, name: str) -> dict:
    return {
        "name": name,
        "gender": "male",
        "id_number": "11010519491231002X",
        "correction_type": "probation",
        "start_date": "2026-01-01",
        "end_date": "2027-01-01",
        "office_id": world.units["office_A"],
        "grid_id": world.units["grid_A"],
    }


def test_an_ansi_escape_in_a_name_is_refused(client, h, world):
    resp = client.post(
        "/api/v1/staff/subjects",
        json=_enrolment(world, "\x1b[31m张三"),
        headers=h["officer"],
    )
    assert "name" in _refused(resp)["errors"]


def test_invisible_characters_are_dropped_from_a_name(client, h, world):
    resp = client.post(
        "/api/v1/staff/subjects",
        json=_enrolment(world, "\u202e张\u200b三\u2066"),
        headers=h["officer"],
    )
    assert resp.status_code == 201, resp.get_json()
    subject = resp.get_json()["subject"]
    assert subject["name"] == "张三"
    assert db.session.get(Subject, subject["id"]).name == "张三"


@pytest.mark.parametrize("kind", ["xyz", "requests", "0"])
def test_an_inbox_kind_outside_the_closed_set(client, h, kind):
    resp = client.get("/api/v1/staff/inbox", query_string={"kind": kind}, headers=h["officer"])
    assert "kind" in _refused(resp)["errors"]


def _signed(**claims) -> str:
    s = runtime.settings()
    now = datetime.now(UTC)
    base = {
        "sub": "1",
        "role": "officer",
        "tv": 0,
        "sid": "x",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "aud": s.jwt_audience,
        "iss": s.jwt_issuer,
        "typ": "access",
    }
    return jwt.encode({**base, **claims}, s.secret_key, algorithm="HS256")


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "abc"},
        {"sub": "²"},
        {"sub": "٣"},
        {"sub": "99999999999999999999"},
        {"sub": 1.5},
        {"sub": ["1"]},
        {"tv": "0"},
        {"tv": True},
        {"sid": {"a": 1}},
        {"sid": "a\u0000b"},
    ],
    ids=json.dumps,
)
def test_a_signed_token_whose_claims_do_not_parse(client, world, claims):
    resp = client.get("/api/v1/me", headers={"Authorization": "Bearer " + _signed(**claims)})
    _refused(resp, "TOKEN_INVALID", 401)
