"""The OpenAPI document as the truth: what flask-smorest writes, finished with what the code really answers.

flask-smorest documents each operation's success response and request schema from the decorators. What it
cannot know is finished here, once, when ``/openapi.json`` is first asked for:

- every error response uses the one error body (``Error``: ``code``, ``message``, ``message_en``, ``errors``,
  ``detail``), and each operation lists the statuses it can answer with the codes each can carry
  (``x-error-codes``), read from the code by :mod:`mobile_api.http.raises` plus what every request of its
  kind can meet (a body that is not JSON, a missing token, an overloaded database);
- a create that replays (``Idempotency-Key`` or ``client_id``) documents its 200 replay and the header;
- every operation has its stable ``operationId`` (:mod:`mobile_api.http.operation_ids`);
- public operations (login, activation, refresh, signed files, health) carry no bearer requirement.

The contract tests (tests/contract/) check the document against the running API for every operation and role.
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Callable

import flask
from flask import Flask
from flask_smorest import Api

from backend.errors import CATALOGUE
from mobile_api.http.operation_ids import OPERATION_IDS
from mobile_api.http.pagination import wants_csv
from mobile_api.http.raises import codes_raised, layers, reached
from mobile_api.http.security import ENDPOINT_ACTIONS, endpoint_key

_METHODS = ("get", "put", "post", "patch", "delete")
#: what any request may meet, whatever the operation: a database or Redis that is down or overloaded
_ALWAYS = {"SERVICE_UNAVAILABLE"}
_WITH_BODY = {"MALFORMED_JSON", "JSON_TOO_COMPLEX", "VALIDATION_FAILED", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"}
_WITH_TOKEN = {"UNAUTHENTICATED", "TOKEN_INVALID", "FORBIDDEN"}
#: routes that serve the documentation's own files, not part of the API
_NOT_API = ("/docs/assets/{name}",)
#: never documented: a 500 is a bug, not part of the contract
_NEVER = {"INTERNAL_ERROR"}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
    }
}
_REPLAYED = {
    "Idempotent-Replayed": {
        "description": "`true`: this create was done before with the same key; the body is the first answer",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "a key of the client's choosing (1–128 characters) that makes a retry of this create safe; "
    "the body's client_id does the same",
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
}


def error_schema() -> dict:
    """The one error body, as the API answers it (mobile_api/http/errors.py writes it)."""
    return {
        "type": "object",
        "description": "Every error the API answers. `code` is stable (GET /api/v1/meta/error-codes lists them); "
        "`message` is Chinese for the person using the app, `message_en` English for developers.",
        "required": ["code", "message", "message_en"],
        "properties": {
            "code": {"type": "string", "enum": sorted(CATALOGUE)},
            "message": {"type": "string"},
            "message_en": {"type": "string"},
            "errors": {
                "type": "object",
                "description": "the fields that are wrong, each with its messages (nested fields as `a.0.b`)",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
            "detail": {
                "type": "object",
                "description": "what else the refusal carries (the current state, an allowed value)",
                "additionalProperties": True,
            },
        },
        "additionalProperties": False,
    }


def openapi_path(rule: str) -> str:
    """A Flask rule as the document writes its path (``<int:subject_id>`` → ``{subject_id}``)."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _views(app: Flask) -> dict[str, Callable]:
    """``METHOD /path`` → the function that answers it (a MethodView's method, or the view function)."""
    out: dict[str, Callable] = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        cls = getattr(view, "view_class", None)
        for method in rule.methods or ():
            fn = getattr(cls, method.lower(), None) if cls is not None else view
            if fn is not None:
                out[f"{method} {openapi_path(rule.rule)}"] = fn
    return out


def replays(fn: Callable) -> bool:
    """Whether a create answers a retry with 200 and ``Idempotent-Replayed`` (the decorator, or by hand)."""
    for layer in layers(fn):
        code = getattr(layer, "__code__", None)
        if code is None:
            continue
        if code.co_filename.replace("\\", "/").endswith("mobile_api/http/idempotent.py"):
            return True
        if "Idempotent-Replayed" in code.co_consts:
            return True
    return False


def _describe(status: int, codes: list[str]) -> str:
    lines = [f"`{c}`: {CATALOGUE[c].message} / {CATALOGUE[c].message_en}" for c in codes]
    return "; ".join(lines) if lines else str(status)


def _finish_operation(key: str, op: dict, fn: Callable | None) -> None:
    op["operationId"] = OPERATION_IDS.get(key, op.get("operationId"))
    if op.get("operationId") is None:
        op.pop("operationId", None)
    public = fn is not None and ENDPOINT_ACTIONS.get(endpoint_key(fn)) == "public"
    if public:
        op["security"] = []
    codes = set(_ALWAYS)
    offers_csv = False
    if fn is not None:
        codes |= codes_raised(fn)
        offers_csv = inspect.unwrap(wants_csv) in {inspect.unwrap(f) for f in reached(fn)}
    if key.split(" ", 1)[1].startswith("/api/") and not offers_csv and "NOT_ACCEPTABLE" in CATALOGUE:
        codes.add("NOT_ACCEPTABLE")  # Accept: text/csv where there is no CSV form
    if "requestBody" in op:
        codes |= _WITH_BODY
    params = op.get("parameters", [])
    if any(p.get("in") == "query" for p in params if isinstance(p, dict)):
        codes.add("VALIDATION_FAILED")
    if "{" in key:
        codes.add("NOT_FOUND")
    if not public:
        codes |= _WITH_TOKEN
    codes -= _NEVER
    responses = op.setdefault("responses", {})
    for status, resp in list(responses.items()):  # flask-smorest's generic ones; an operation's own stay
        if status == "default" or (str(status)[0] in "45" and "$ref" in resp):
            del responses[status]
    by_status: dict[int, list[str]] = {}
    for code in sorted(codes):
        by_status.setdefault(CATALOGUE[code].status, []).append(code)
    for status, status_codes in sorted(by_status.items()):
        resp: dict = responses.get(str(status)) or {
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        resp["description"] = _describe(status, status_codes)
        resp["x-error-codes"] = status_codes
        if status in (429, 503):
            resp.setdefault("headers", {}).update(copy.deepcopy(_RETRY_AFTER))
        responses[str(status)] = resp
    op["x-error-codes"] = sorted(codes)
    ok = responses.get("200")
    if offers_csv and ok and "content" in ok:
        ok["content"]["text/csv"] = {
            "schema": {"type": "string"},
            "example": "id,status,created_at\n1,pending,2026-12-10T05:04:28+00:00\n",
        }
        ok["description"] = "the page as JSON, or with Accept: text/csv every matching row as CSV (UTF-8, a header row)"
    if fn is not None and "201" in responses and replays(fn):
        replay = copy.deepcopy(responses["201"])
        replay["description"] = "A replay: this create was already done with the same key; the first answer again"
        replay.setdefault("headers", {}).update(copy.deepcopy(_REPLAYED))
        responses["200"] = replay
        names = {(p.get("name"), p.get("in")) for p in params if isinstance(p, dict)}
        if ("Idempotency-Key", "header") not in names:
            op.setdefault("parameters", []).append(copy.deepcopy(_IDEMPOTENCY_KEY))


def finish(spec: dict, app: Flask) -> dict:
    """The document flask-smorest built, finished (see the module's docstring)."""
    spec = copy.deepcopy(spec)
    views = _views(app)
    for path, item in spec.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if op is not None:
                key = f"{method.upper()} {path}"
                _finish_operation(key, op, views.get(key))
    for path in _NOT_API:
        spec.get("paths", {}).pop(path, None)
    components = spec.setdefault("components", {})
    components.pop("responses", None)  # flask-smorest's DEFAULT_ERROR and UNPROCESSABLE_ENTITY: not ours
    components.setdefault("schemas", {})["Error"] = error_schema()
    return spec


class ContractApi(Api):
    """flask-smorest's Api, serving the finished document (built once, on the first request for it)."""

    DEFAULT_ERROR_RESPONSE_NAME = None

    def document(self) -> dict:
        cached = getattr(self, "_finished", None)
        if cached is None:
            cached = self._finished = finish(self.spec.to_dict(), flask.current_app)
        return cached

    def _openapi_json(self):
        return flask.current_app.response_class(
            flask.json.dumps(self.document(), indent=2, sort_keys=False), mimetype="application/json"
        )
