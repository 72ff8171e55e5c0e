"""/openapi.json as an app developer reads it: valid, named, honest about errors and about who may call."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from backend.errors import CATALOGUE
from mobile_api.http.contract import openapi_path
from mobile_api.http.operation_ids import OPERATION_IDS

METHODS = ("get", "put", "post", "patch", "delete")
PUBLIC = {
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/activate",
    "POST /api/v1/auth/refresh",
    "POST /api/v1/auth/reset",
    "GET /api/v1/files/{token}",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "GET /api/v1/meta/error-codes",
    "GET /api/v1/meta/state-machines",
}


@pytest.fixture(scope="module")
def doc(app):
    return app.test_client().get("/openapi.json").get_json()


def operations(doc):
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def test_the_document_validates(doc):
    validate(doc)


def test_every_operation_has_its_stable_operation_id(doc):
    ops = dict(operations(doc))
    assert len(ops) > 100
    missing = [key for key, op in ops.items() if "operationId" not in op]
    assert not missing, f"add these to mobile_api/http/operation_ids.py: {missing}"
    ids = [op["operationId"] for op in ops.values()]
    assert len(ids) == len(set(ids)), "operationIds are unique"
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", i) for i in ids), ids
    for key, op in ops.items():
        assert op["operationId"] == OPERATION_IDS[key]


def test_no_operation_is_left_without_a_document_entry(app, doc):
    """Every API route of the app is in the document (the documentation's pages and the H5 apps excepted)."""
    documented = {key for key, _ in operations(doc)}
    for rule in app.url_map.iter_rules():
        if rule.rule == "/" or rule.rule.startswith(("/static", "/docs", "/openapi.json", "/app")):
            continue  # the documentation's own pages and the H5 apps' files are not the API
        path = openapi_path(rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert f"{method} {path}" in documented


def test_one_error_schema_matching_the_body(doc):
    schemas = doc["components"]["schemas"]
    error = schemas["Error"]
    assert error["properties"]["code"]["type"] == "string"
    assert set(error["properties"]["code"]["enum"]) == set(CATALOGUE)
    assert error["required"] == ["code", "message", "message_en"]
    assert "responses" not in doc["components"], "flask-smorest's generic error responses are gone"
    for name, schema in schemas.items():  # no schema anywhere documents an integer error code
        code = schema.get("properties", {}).get("code")
        assert not (code and code.get("type") == "integer"), name


def test_every_error_response_lists_its_codes(doc):
    for key, op in operations(doc):
        codes = op["x-error-codes"]
        assert codes and set(codes) <= set(CATALOGUE), key
        assert "INTERNAL_ERROR" not in codes, key
        assert "default" not in op["responses"], key
        listed = set()
        for status, resp in op["responses"].items():
            if status[0] in "45":
                schema = resp["content"]["application/json"]["schema"]
                assert schema["$ref"].startswith("#/components/schemas/"), key
                assert all(CATALOGUE[c].status == int(status) for c in resp["x-error-codes"]), (key, status)
                assert all(f"`{c}`" in resp["description"] for c in resp["x-error-codes"]), (key, status)
                listed |= set(resp["x-error-codes"])
        assert listed == set(codes), key
        if op.get("requestBody"):
            assert "400" in op["responses"] and "VALIDATION_FAILED" in codes, key
            assert "422" not in op["responses"] or any(CATALOGUE[c].status == 422 for c in codes), key


def test_endpoint_specific_codes_are_read_from_the_code(doc):
    ops = dict(operations(doc))
    checkin = ops["POST /api/v1/me/checkins"]["x-error-codes"]
    assert {"UPLOAD_NOT_ATTACHABLE", "IDEMPOTENCY_KEY_REUSED", "SUBJECT_RELEASED", "FORBIDDEN"} <= set(checkin)
    assert "INVALID_CREDENTIALS" in ops["POST /api/v1/auth/login"]["x-error-codes"]
    assert "RATE_LIMITED" in ops["POST /api/v1/auth/login"]["x-error-codes"]
    assert "ILLEGAL_TRANSITION" in ops["POST /api/v1/staff/requests/{request_id}/decision"]["x-error-codes"]
    assert "Retry-After" in ops["POST /api/v1/auth/login"]["responses"]["429"]["headers"]


def test_public_operations_need_no_token_and_the_rest_do(doc):
    assert doc["security"] == [{"bearer": []}]
    for key, op in operations(doc):
        if key in PUBLIC:
            assert op.get("security") == [], key
            assert "UNAUTHENTICATED" not in op["x-error-codes"], key
        else:
            assert "security" not in op, key
            assert {"UNAUTHENTICATED", "TOKEN_INVALID", "FORBIDDEN"} <= set(op["x-error-codes"]), key


def test_creates_document_their_replay(doc):
    ops = dict(operations(doc))
    for key in (
        "POST /api/v1/me/checkins",
        "POST /api/v1/me/requests",
        "POST /api/v1/staff/subjects/{subject_id}/adjustments",
    ):
        responses = ops[key]["responses"]
        assert "201" in responses and "200" in responses, key
        assert "Idempotent-Replayed" in responses["200"]["headers"], key
        assert responses["200"]["content"] == responses["201"]["content"], key
        names = {(p["name"], p["in"]) for p in ops[key].get("parameters", [])}
        assert ("Idempotency-Key", "header") in names, key


def _query_param(doc, key: str, name: str) -> dict:
    op = dict(operations(doc))[key]
    return next(p for p in op["parameters"] if p["name"] == name and p["in"] == "query")


def test_closed_sets_are_enums(doc):
    kinds = _query_param(doc, "GET /api/v1/staff/inbox", "kind")["schema"]["enum"]
    assert {"request", "warning", "suggestion"} <= set(kinds)
    assert "requests" not in kinds
    statuses = _query_param(doc, "GET /api/v1/staff/requests", "status")["schema"]["enum"]
    assert "pending" in statuses
    assert _query_param(doc, "GET /api/v1/staff/appeals", "status")["schema"]["enum"]
    assert _query_param(doc, "GET /api/v1/admin/users", "role")["schema"]["enum"]
    assert _query_param(doc, "GET /api/v1/staff/warnings", "kind")["schema"]["enum"]


def test_summaries_stand_on_their_own(doc):
    for key, op in operations(doc):
        text = f"{op.get('summary', '')} {op.get('description', '')}"
        assert op.get("summary"), key
        for cited in re.findall(r"[\w./-]+\.md\b", text):  # only the repo's own docs may be named
            assert cited.startswith("docs/"), (key, cited)
        assert "../" not in text, key
        assert not re.search(r"\bissue \d+\b", text, re.IGNORECASE), key
