"""Bearer-token authentication and the per-endpoint policy check, as one decorator."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import g, request

from backend.errors import DomainError
from backend.services.core.actors import Actor
from backend.services.identity import access, auth

#: view function (module.qualname) → the policy action it checks ("public" for none); read by the access test
ENDPOINT_ACTIONS: dict[str, str] = {}


def endpoint_key(fn: Callable) -> str:
    """The registry key of a view function; the module keeps same-named views of two blueprints apart."""
    return f"{fn.__module__}.{fn.__qualname__}"


def authorize(action: str) -> Callable:
    """Require a valid access token whose role may do ``action`` (401 without one, 403 for the role)."""

    def deco(fn: Callable) -> Callable:
        ENDPOINT_ACTIONS[endpoint_key(fn)] = action

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if g.get("actor") is None:  # @idempotent may have loaded it for this request already
                load_actor()
            access.require(g.actor, action)
            return fn(*args, **kwargs)

        return wrapper

    return deco


def public(fn: Callable) -> Callable:
    """Mark a view as open to anonymous callers (login, health, the error catalogue)."""
    ENDPOINT_ACTIONS[endpoint_key(fn)] = "public"
    return fn


def load_actor() -> Actor:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DomainError("UNAUTHENTICATED")
    actor, claims = auth.authenticate(token.strip())
    g.actor, g.claims = actor, claims
    return actor


def current_actor() -> Actor:
    return g.actor


def client_ip() -> str:
    """The caller's address: behind ``TRUSTED_PROXIES`` proxies, ProxyFix (mobile_api/app.py) has already
    taken it from X-Forwarded-For, so per-address limits count clients rather than the proxy."""
    return request.remote_addr or "unknown"
