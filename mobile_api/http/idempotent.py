"""Idempotent creates over HTTP: ``Idempotency-Key`` header or ``client_id`` in the body.

The rule: docs/audit-and-privacy.md#idempotent-creates. A key is scoped to the acting user, the create's
kind (the decorator's ``scope``), the ids in the request's path and the key itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Response, g, make_response, request

from backend.errors import DomainError
from backend.services.core import idempotency


def idempotent(scope: str) -> Callable:
    """First request 201, replay 200 with the identical body, same key with another body 409.

    Place it below ``@authorize`` and ``@blp.arguments`` and directly above ``@blp.response``: the role
    is checked (403) and the body validated (400) before any key is looked up or claimed, and it wraps the
    serialisation, so the create and its stored result commit in one transaction.
    """

    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            body = request.get_json(silent=True)
            key = request.headers.get("Idempotency-Key")
            if key is None and isinstance(body, dict):
                key = body.get("client_id")
            if key is None:
                return fn(*args, **kwargs)
            if not idempotency.valid_key(key):
                limit = idempotency.MAX_KEY
                raise DomainError("VALIDATION_FAILED", {"client_id": [f"a string of 1–{limit} printable characters"]})
            actor = g.get("actor")
            if actor is None:  # a programming error: the role must be checked before any key is touched
                raise RuntimeError("@idempotent must sit below @authorize")

            def create() -> tuple[int, object]:
                resp = make_response(fn(*args, **kwargs))
                g.idem_headers = {k: v for k, v in resp.headers.items() if k in ("Location", "ETag")}
                return resp.status_code, resp.get_json()

            outcome = idempotency.run_once(
                actor.user_id,
                scope,
                key,
                idempotency.request_hash(body),
                create,
                resource=idempotency.resource_of(request.view_args),
            )
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
