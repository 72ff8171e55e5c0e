"""The state-machine helper: allowed moves pass, illegal ones are 409 ILLEGAL_TRANSITION with the allowed list."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from backend.errors import DomainError
from backend.services.core.statemachine import MACHINES, StateMachine

REQUEST = {"pending": {"approved", "rejected", "cancelled"}, "approved": {"revoked"}}


def _machine() -> StateMachine:
    return StateMachine("test_request", REQUEST, initial="pending")


def test_allowed_transition_moves_the_field():
    obj = SimpleNamespace(status="pending")
    assert _machine().apply(obj, "approved") == "pending"
    assert obj.status == "approved"
    _machine().apply(obj, "revoked")
    assert obj.status == "revoked"


def test_illegal_transition_is_409_with_the_allowed_list():
    obj = SimpleNamespace(status="rejected")
    with pytest.raises(DomainError) as caught:
        _machine().apply(obj, "approved")
    err = caught.value
    assert err.code == "ILLEGAL_TRANSITION" and err.status == 409
    assert err.errors is None  # no request field is at fault: the facts are the error's context (body "detail")
    assert err.context == {"machine": "test_request", "from": "rejected", "to": "approved", "allowed": []}
    assert obj.status == "rejected"  # unchanged
    with pytest.raises(DomainError) as caught:
        _machine().check("pending", "revoked")
    assert caught.value.context["allowed"] == ["approved", "cancelled", "rejected"]


def test_unknown_state_and_custom_field():
    with pytest.raises(DomainError):
        _machine().check("no_such_state", "approved")
    obj = SimpleNamespace(verdict="pending")
    _machine().apply(obj, "cancelled", field="verdict")
    assert obj.verdict == "cancelled"


def test_machines_are_registered_and_described():
    m = _machine()
    assert MACHINES["test_request"] is m
    assert m.describe() == {
        "approved": ["revoked"],
        "cancelled": [],
        "pending": ["approved", "cancelled", "rejected"],
        "rejected": [],
        "revoked": [],
    }
    assert m.terminal == {"cancelled", "rejected", "revoked"}


def test_bad_declarations_are_refused():
    with pytest.raises(ValueError):
        StateMachine("test_bad_initial", {"a": {"b"}}, initial="c")
    _machine()
    with pytest.raises(ValueError):
        StateMachine("test_request", {"pending": {"approved"}}, initial="pending")


def test_illegal_transition_reaches_the_client_as_409(app):
    """The HTTP layer maps the domain error to the API's error body."""
    from mobile_api.http.errors import handle_domain_error

    with app.test_request_context():
        try:
            _machine().check("approved", "pending")
        except DomainError as exc:
            resp = handle_domain_error(exc)
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["code"] == "ILLEGAL_TRANSITION" and body["detail"]["allowed"] == ["revoked"]
    assert "errors" not in body
    assert body["message"] and body["message_en"]
