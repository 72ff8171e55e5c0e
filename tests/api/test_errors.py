"""Every error is the API's error body with a catalogued code; no client input produces a 500."""

from __future__ import annotations

import json

import pytest

from backend.errors import CATALOGUE, DomainError, register
from tests.factories import auth_header


def _is_error_body(resp, code: str | None = None, status: int | None = None) -> dict:
    body = resp.get_json()
    assert isinstance(body, dict), resp.data[:200]
    assert set(body) <= {"code", "message", "message_en", "errors"}, body
    assert body["code"] in CATALOGUE, body
    entry = CATALOGUE[body["code"]]
    assert body["message"] == entry.message and any("\u4e00" <= ch <= "\u9fff" for ch in body["message"])
    assert body["message_en"].startswith(entry.message_en)
    if code is not None:
        assert body["code"] == code, body
    if status is not None:
        assert resp.status_code == status, (resp.status_code, body)
    return body


def test_unknown_path_is_404_in_error_shape(client):
    _is_error_body(client.get("/api/v1/no-such-thing"), "NOT_FOUND", 404)


def test_wrong_method_is_405_with_allow_header(client):
    resp = client.delete("/api/v1/auth/login")
    _is_error_body(resp, "METHOD_NOT_ALLOWED", 405)
    assert "POST" in resp.headers["Allow"]


def test_body_over_max_json_bytes_is_413(client, settings):
    big = {"username": "x", "password": "y" * (settings.max_json_bytes + 10)}
    _is_error_body(client.post("/api/v1/auth/login", json=big), "PAYLOAD_TOO_LARGE", 413)


def test_non_json_body_to_json_endpoint_is_415(client):
    resp = client.post("/api/v1/auth/login", data="username=a&password=b", content_type="text/plain")
    _is_error_body(resp, "UNSUPPORTED_MEDIA_TYPE", 415)


def test_malformed_json_is_400(client):
    resp = client.post("/api/v1/auth/login", data='{"username": "a",', content_type="application/json")
    _is_error_body(resp, "MALFORMED_JSON", 400)


def test_non_utf8_json_is_400(client):
    resp = client.post("/api/v1/auth/login", data=b'{"username": "\xff\xfe"}', content_type="application/json")
    _is_error_body(resp, "MALFORMED_JSON", 400)


def test_schema_errors_name_the_fields(client):
    body = _is_error_body(client.post("/api/v1/auth/login", json={"username": 5}), "VALIDATION_FAILED", 400)
    assert set(body["errors"]) == {"username", "password"}


def test_unknown_fields_are_refused(client):
    resp = client.post("/api/v1/auth/login", json={"username": "a", "password": "b", "admin": True})
    body = _is_error_body(resp, "VALIDATION_FAILED", 400)
    assert "admin" in body["errors"]


def test_bad_query_parameter_is_400(client, world):
    resp = client.get("/api/v1/staff/subjects?page=zero", headers=auth_header(client, "officerA"))
    body = _is_error_body(resp, "VALIDATION_FAILED", 400)
    assert "page" in body["errors"]


def test_no_token_is_401_and_wrong_role_is_403(client, world):
    _is_error_body(client.get("/api/v1/staff/subjects"), "UNAUTHENTICATED", 401)
    _is_error_body(client.get("/api/v1/staff/subjects", headers=auth_header(client, "gridA")), "FORBIDDEN", 403)


def test_error_code_catalogue_lists_every_code(client):
    resp = client.get("/api/v1/meta/error-codes")
    assert resp.status_code == 200
    listed = {e["code"]: e for e in resp.get_json()}
    assert set(listed) == set(CATALOGUE)
    for code, entry in CATALOGUE.items():
        assert listed[code] == {
            "code": code,
            "status": entry.status,
            "message": entry.message,
            "message_en": entry.message_en,
        }
        assert entry.message and entry.message_en and 400 <= entry.status <= 599


def test_catalogue_refuses_unknown_and_conflicting_codes():
    with pytest.raises(KeyError):
        DomainError("NO_SUCH_CODE")
    with pytest.raises(ValueError):
        register("NOT_FOUND", 404, "别的文字", "Other text")


ODD_VALUES = [None, [], [1, "a"], {}, {"a": {"b": None}}, 10**40, -(10**40), 1.5e308, "x" * 5000, "12", True, ""]


def _fuzz_targets(world) -> list[tuple[str, str, str, dict]]:
    """(method, path, user, valid body): a few endpoints that take JSON, with a body that would pass."""
    a = world.units
    enrol = {
        "name": "李四",
        "gender": "male",
        "id_number": "11010519491231002X",
        "correction_type": "probation",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "office_id": a["office_A"],
        "grid_id": a["grid_A"],
    }
    sid = world.subjects["A"].id
    return [
        ("post", "/api/v1/auth/login", None, {"username": "officerA", "password": "wrong", "device_id": "d"}),
        ("post", "/api/v1/auth/refresh", None, {"refresh_token": "x" * 20}),
        ("post", "/api/v1/auth/activate", None, {"activation_code": "ABCDEFGH", "password": "Abcdefg1"}),
        ("post", "/api/v1/staff/subjects", "officerA", enrol),
        ("patch", f"/api/v1/staff/subjects/{sid}", "officerA", {"supervision_level": "strict", "reason": "x"}),
        ("post", "/api/v1/me/devices", "officerA", {"device_id": "d1", "platform": "ios", "push_token": "t"}),
        ("post", "/api/v1/me/password", "officerA", {"old_password": "a", "new_password": "b"}),
        ("patch", f"/api/v1/admin/users/{world.users['grid_B'].id}", "admin", {"active": True}),
    ]


def test_fuzzed_json_never_causes_a_500(client, world, settings, monkeypatch):
    import dataclasses

    from backend import runtime

    # many wrong logins in a row are the point here, not the lock-out or the rate limit
    relaxed = dataclasses.replace(settings, rate_limit_login_per_minute=10_000, login_max_failures=10_000)
    monkeypatch.setattr(runtime, "_settings", relaxed)
    headers = {u: auth_header(client, u) for u in ("officerA", "admin")}
    seen: set[int] = set()
    for method, path, user, valid in _fuzz_targets(world):
        hdr = headers.get(user, {})
        bodies = [v for v in ODD_VALUES] + [{k: v for k in valid} for v in ODD_VALUES]
        for field in valid:
            bodies += [{**valid, field: v} for v in ODD_VALUES]
        for body in bodies:
            resp = getattr(client, method)(path, data=json.dumps(body), content_type="application/json", headers=hdr)
            assert resp.status_code < 500, (method, path, body, resp.get_json())
            if resp.status_code >= 400:
                _is_error_body(resp)
            seen.add(resp.status_code)
        for raw in (b"\xff\xfe\x00", b"[", b'{"a": 1}{', b"\x00", '{"\u00e9": NaN}'.encode()):
            resp = getattr(client, method)(path, data=raw, content_type="application/json", headers=hdr)
            assert 400 <= resp.status_code < 500, (path, raw, resp.status_code)
            _is_error_body(resp)
    assert 400 in seen and 422 in seen


@pytest.mark.parametrize("path", ["/api/v1/staff/subjects/99999999999999999999999", "/api/v1/staff/subjects/-1"])
def test_out_of_range_path_ids_are_404(client, world, path):
    _is_error_body(client.get(path, headers=auth_header(client, "officerA")), "NOT_FOUND", 404)


def test_out_of_range_query_ids_are_400(client, world):
    hdr = auth_header(client, "officerA")
    resp = client.get(f"/api/v1/staff/subjects?office_id={10**30}", headers=hdr)
    _is_error_body(resp, "VALIDATION_FAILED", 400)


def test_dependency_failures_are_503_and_bugs_are_500_in_error_shape(app):
    import sqlalchemy.exc
    from werkzeug.exceptions import RequestTimeout

    from mobile_api.http.errors import handle_http_exception, handle_unexpected

    with app.test_request_context():
        down = handle_unexpected(sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("connection refused")))
        bug = handle_unexpected(ZeroDivisionError())
        timeout = handle_http_exception(RequestTimeout())
    assert down.status_code == 503 and down.headers["Retry-After"] == "10"
    assert down.get_json()["code"] == "SERVICE_UNAVAILABLE"
    assert bug.status_code == 500 and bug.get_json()["code"] == "INTERNAL_ERROR"
    assert timeout.status_code == 408 and timeout.get_json()["code"] == "BAD_REQUEST"
