"""The one place where domain errors and HTTP errors become the API's error body."""

from __future__ import annotations

import logging

import redis.exceptions
import sqlalchemy.exc
from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from backend.errors import CATALOGUE, DomainError, field_errors
from mobile_api.http import fields as _fields  # a module: fields → pagination → errors import in a ring

log = logging.getLogger("mobile_api.errors")

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE",
    429: "RATE_LIMITED",
    503: "SERVICE_UNAVAILABLE",
}


def error_body(code: str, errors: dict | None = None, detail: str | None = None, context: dict | None = None) -> dict:
    """``errors`` is always ``{field: [messages]}``; other facts of the refusal go under ``detail`` (an object)."""
    entry = CATALOGUE[code]
    body: dict = {"code": code, "message": entry.message, "message_en": entry.message_en}
    if detail:
        body["message_en"] = f"{entry.message_en}: {detail}"
    if errors:
        body["errors"] = field_errors(errors)
    if context:
        body["detail"] = context
    return body


def respond(
    code: str,
    status: int | None = None,
    errors: dict | None = None,
    detail: str | None = None,
    retry_after: int | None = None,
    context: dict | None = None,
):
    resp = jsonify(error_body(code, errors, detail, context))
    resp.status_code = status or CATALOGUE[code].status
    if retry_after is not None:
        resp.headers["Retry-After"] = str(retry_after)
    return resp


def handle_domain_error(exc: DomainError):
    return respond(exc.code, exc.status, exc.errors, exc.detail, exc.retry_after, exc.context)


def handle_http_exception(exc: HTTPException):
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    if "messages" in data:  # webargs / marshmallow schema errors: a malformed request
        messages = data["messages"]
        if isinstance(messages, dict) and len(messages) == 1:
            messages = next(iter(messages.values()))  # drop the location level ("json", "query")
        if messages == ["Invalid JSON body."]:
            return respond("MALFORMED_JSON", 400)
        return respond("VALIDATION_FAILED", 400, messages)
    if status == 400 and "json" in (exc.description or "").lower():
        return respond("MALFORMED_JSON", 400)
    code = data.get("code") if isinstance(data.get("code"), str) and data.get("code") in CATALOGUE else None
    code = code or _HTTP_CODES.get(status) or ("BAD_REQUEST" if status < 500 else "INTERNAL_ERROR")
    retry = exc.response.headers.get("Retry-After") if exc.response is not None else None
    resp = respond(code, status, retry_after=int(retry) if retry and retry.isdigit() else None)
    allow = dict(exc.get_headers()).get("Allow")
    if allow:  # 405 says which methods would work
        resp.headers["Allow"] = allow
    return resp


#: failures that mean a dependency is down or overloaded, not that the code is wrong: 503 + Retry-After
_UNAVAILABLE = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def handle_unexpected(exc: Exception):
    if isinstance(exc, _UNAVAILABLE):
        log.exception("dependency unavailable")
        return respond("SERVICE_UNAVAILABLE", 503, retry_after=10)
    log.exception("unhandled error")
    return respond("INTERNAL_ERROR", 500)


class BoundedInt(IntegerConverter):
    """``<int:...>`` path segments limited to the id range, so an absurd number is a 404, not a driver crash."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 - werkzeug's signature
        kwargs.setdefault("max", _fields.MAX_ID)
        super().__init__(map, *args, **kwargs)


def bound_path_ids(app: Flask) -> None:
    """Make ``<int:...>`` bounded; call before the blueprints are registered (rules bind their converters then)."""
    app.url_map.converters["int"] = BoundedInt


def register(app: Flask) -> None:
    """Install the error handlers, after flask-smorest's own, so ours win."""
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
