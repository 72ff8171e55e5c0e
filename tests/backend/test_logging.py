"""Logs are JSON lines with a request id and never contain ID numbers, GPS, passwords or tokens."""

from __future__ import annotations

import io
import json
import logging
from datetime import date

import pytest
from sqlalchemy import text as sql_text
from sqlalchemy.exc import DBAPIError

from backend.db import db
from backend.logs import configure_logging, scrub, scrub_text
from backend.services.subjects import idcard
from tests.factories import PASSWORD, login

LAT, LON = "30.274085", "120.155070"
WRONG_PASSWORD = "Wr0ng-Secret-77"


@pytest.fixture
def captured(settings):
    """The real logging set-up (handler, redaction filter, JSON formatter), writing into a buffer."""
    buf = io.StringIO()
    configure_logging("INFO", stream=buf)
    yield buf
    configure_logging(settings.log_level)


def _lines(buf: io.StringIO) -> list[dict]:
    out = []
    for raw in buf.getvalue().splitlines():
        if raw.strip():
            out.append(json.loads(raw))  # every line is one JSON object
    return out


def test_logs_carry_no_personal_data_or_secrets(client, world, captured):
    id_number = idcard.make("330183", date(1990, 5, 17), 42)
    old_style = "330183900517042"  # 15-digit number issued before 1999
    secrets = {
        "ID number": id_number,
        "old ID number": old_style,
        "password": PASSWORD,
        "wrong password": WRONG_PASSWORD,
    }

    # a login, a failed login, a request with a bearer token and a refused (invalid) bearer token
    tokens = login(client, "officerA")
    bearer = {"Authorization": "Bearer " + tokens["access_token"]}
    bad = client.post("/api/v1/auth/login", json={"username": "officerA", "password": WRONG_PASSWORD})
    assert bad.status_code == 401
    assert (
        client.get("/api/v1/me", headers={"Authorization": "Bearer " + tokens["access_token"] + "x"}).status_code == 401
    )
    # an enrolment carrying an ID number, a search by it in the query string and a revealed read
    resp = client.post(
        "/api/v1/staff/subjects",
        json={
            "name": "日志测试",
            "gender": "male",
            "id_number": id_number,
            "correction_type": "parole",
            "start_date": "2026-02-01",
            "end_date": "2027-02-01",
            "office_id": world.units["office_A"],
            "grid_id": world.units["grid_A"],
        },
        headers=bearer,
    )
    assert resp.status_code == 201, resp.get_json()
    enrolled = resp.get_json()
    found = client.get(f"/api/v1/staff/subjects?id_number={id_number}", headers=bearer)
    assert [s["id"] for s in found.get_json()] == [enrolled["subject"]["id"]]
    revealed = client.get(
        f"/api/v1/staff/subjects/{enrolled['subject']['id']}?reveal=id_number&purpose=核对", headers=bearer
    )
    assert revealed.get_json()["id_number"] == id_number
    activated = client.post(
        "/api/v1/auth/activate",
        json={"activation_code": enrolled["activation_code"], "password": PASSWORD, "device_id": "phone-1"},
    )
    assert activated.status_code == 200
    refreshed = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"], "device_id": "test-device"}
    )
    assert refreshed.status_code == 200
    secrets.update(
        {
            "access token": tokens["access_token"],
            "token signature": tokens["access_token"].rsplit(".", 1)[1],
            "refresh token": tokens["refresh_token"],
            "rotated refresh token": refreshed.get_json()["refresh_token"],
            "activation code": enrolled["activation_code"],
        }
    )

    # code that logs such values on purpose, in the message, its arguments, extra fields and a traceback
    log = logging.getLogger("zhijiao.test")
    log.info(
        f"login of officerA password={PASSWORD} with Bearer {tokens['access_token']} id {id_number} at {LAT}, {LON}"
    )
    log.info("check-in at lat=%s lon=%s by %s (old id %s)", LAT, LON, id_number, old_style)
    log.info(
        "payload",
        extra={
            "password": PASSWORD,
            "access_token": tokens["access_token"],
            "id_number": id_number,
            "latitude": float(LAT),
            "longitude": float(LON),
            "note": f"subject {id_number} said {tokens['refresh_token']}",
            "body": {"new_password": WRONG_PASSWORD, "gps": [float(LAT), float(LON)], "items": [{"lat": LAT}]},
            "headers": {"Authorization": "Bearer " + tokens["access_token"]},
        },
    )
    try:
        raise ValueError(f"cannot enrol {id_number}: token {tokens['access_token']} password={PASSWORD}")
    except ValueError:
        log.exception("enrolment failed at %s,%s", LAT, LON)

    try:  # a database error names its statement; its parameters (here a latitude alone) stay out of the log
        with db.engine.connect() as conn:
            conn.execute(sql_text("SELECT * FROM no_such_table WHERE lat = :lat"), {"lat": float(LAT)})
    except DBAPIError:
        log.exception("query failed")

    text = captured.getvalue()
    leaked = [name for name, value in secrets.items() if value in text]
    leaked += [
        name for name, value in (("latitude", LAT), ("longitude", LON), ("longitude", "120.15507")) if value in text
    ]
    assert not leaked, f"the log contains: {leaked}"
    # the values were logged and scrubbed, not merely never logged
    assert "[id-number]" in text and "[redacted]" in text and "[coordinates]" in text
    lines = _lines(captured)
    payload = next(line for line in lines if line["message"] == "payload")
    assert payload["password"] == payload["id_number"] == payload["latitude"] == "[redacted]"
    assert "ValueError" in next(line for line in lines if line["message"].startswith("enrolment failed"))["exc_info"]
    assert "no_such_table" in next(line for line in lines if line["message"] == "query failed")["exc_info"]


def test_every_line_is_json_with_the_request_id(client, world, captured):
    login(client, "officerA")
    resp = client.get("/api/v1/me", headers={"X-Request-ID": "trace-0123456789"})
    assert resp.status_code == 401
    lines = _lines(captured)
    assert lines and all("request_id" in line and "level" in line and "time" in line for line in lines)
    requests = [line for line in lines if line["message"] == "request"]
    assert len(requests) == 2
    assert all(line["request_id"] for line in requests)
    last = requests[-1]
    assert (last["request_id"], last["path"], last["status"]) == ("trace-0123456789", "/api/v1/me", 401)


@pytest.mark.parametrize(
    ("raw", "hidden"),
    [
        ("id 11010519491231002X here", "11010519491231002X"),
        ("id 11010519491231002x here", "11010519491231002x"),
        ("old 110105491231002 here", "110105491231002"),
        ('{"refresh_token": "abc.def-ghi"}', "abc.def-ghi"),
        ("user_password: hunter22", "hunter22"),
        ("at (30.2741,120.1551)", "30.2741"),
        ("longitude=120.1551", "120.1551"),
        ("authorization: Bearer abc.def", "abc.def"),
        ("rotated to VsgjDJeRlkeFS-AbgUSrosyJMOefYecYzzHv-Tfwlqo now", "VsgjDJeRlkeFS-AbgUSrosyJMOefYecYzzHv-Tfwlqo"),
    ],
)
def test_scrub_text(raw, hidden):
    assert hidden not in scrub_text(raw)


def test_scrub_keeps_harmless_values():
    harmless = "took 0.0123 s; order 20260101; request 0f2b9c4e5d6a47b8a9c0d1e2f3a4b5c6; /api/v1/staff/subjects/12"
    assert scrub_text(harmless) == harmless
    assert scrub({"status": 200, "outbox_id": 7, "X-Refresh-Token": "t", "gps": [1.0, 2.0]}) == {
        "status": 200,
        "outbox_id": 7,
        "X-Refresh-Token": "[redacted]",
        "gps": "[redacted]",
    }
