"""Idempotent creates over HTTP: ``Idempotency-Key`` header or ``client_id`` in the body."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Response, g, make_response, request

from backend.errors import DomainError
from backend.services.core import idempotency
from mobile_api.http.security import load_actor


def idempotent(scope: str) -> Callable:
    """First request 201, replay 200 with the identical body, same key with another body 409.

    Place it directly below ``@blp.route`` / above ``@blp.arguments`` so it wraps the whole create,
    including serialisation; the create and the stored result commit in one transaction.
    """

    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            body = request.get_json(silent=True)
            key = request.headers.get("Idempotency-Key") or (body.get("client_id") if isinstance(body, dict) else None)
            if not key:
                return fn(*args, **kwargs)
            if not isinstance(key, str) or len(key) > 128:
                raise DomainError("VALIDATION_FAILED", {"client_id": ["a string of at most 128 characters"]})
            actor = getattr(g, "actor", None) or load_actor()

            def create() -> tuple[int, object]:
                resp = make_response(fn(*args, **kwargs))
                g.idem_headers = {k: v for k, v in resp.headers.items() if k in ("Location", "ETag")}
                return resp.status_code, resp.get_json()

            outcome = idempotency.run_once(actor.user_id, scope, key, idempotency.request_hash(body), create)
            if outcome.body is None:
                resp = Response(status=outcome.status)
            else:
                resp = make_response(outcome.body, outcome.status)
            if outcome.replayed:
                resp.headers["Idempotent-Replayed"] = "true"
            for k, v in (getattr(g, "idem_headers", None) or {}).items():
                resp.headers[k] = v
            return resp

        return wrapper

    return deco
