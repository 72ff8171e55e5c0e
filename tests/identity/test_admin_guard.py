"""An admin cannot disable their own account, and the last active admin cannot be disabled (docs/roles.md#admin)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.db import db
from backend.errors import DomainError
from backend.models import User
from backend.services.core.actors import Actor
from backend.services.identity import users
from tests.factories import PASSWORD, auth_header, fire_together, login

USERS = "/api/v1/admin/users"


def _second_admin(client) -> int:
    body = {"username": "admin2", "password": PASSWORD, "role": "admin"}
    resp = client.post(USERS, json=body, headers=auth_header(client, "admin"))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def _active_admins() -> int:
    db.remove()
    return db.session.scalar(select(func.count()).where(User.role == "admin", User.active.is_(True)))


def test_an_admin_cannot_disable_their_own_account(client, world):
    me = world.users["admin"].id
    resp = client.patch(f"{USERS}/{me}", json={"active": False}, headers=auth_header(client, "admin"))
    assert resp.status_code == 409 and resp.get_json()["code"] == "CANNOT_DISABLE_SELF"
    assert _active_admins() == 1
    other = _second_admin(client)
    resp = client.patch(f"{USERS}/{me}", json={"active": False}, headers=auth_header(client, "admin"))
    assert resp.status_code == 409  # not even when another admin remains
    # another admin may
    resp = client.patch(f"{USERS}/{me}", json={"active": False}, headers=auth_header(client, "admin2"))
    assert resp.status_code == 200 and resp.get_json()["active"] is False
    assert other != me and _active_admins() == 1


def test_the_last_active_admin_cannot_be_disabled(client, world):
    last = world.users["admin"].id
    outsider = Actor(10**9, "admin", "someone")  # e.g. an admin whose own account was disabled meanwhile
    with pytest.raises(DomainError) as refused:
        users.set_active(outsider, last, False)
    assert refused.value.code == "LAST_ADMIN" and refused.value.status == 409
    assert _active_admins() == 1


def test_two_admins_disabling_each_other_at_once_leave_one(app, client, world):
    first, second = world.users["admin"].id, _second_admin(client)
    tokens = {
        first: login(client, "admin", device_id="a")["access_token"],
        second: login(client, "admin2", device_id="b")["access_token"],
    }
    turns = iter([(first, second), (second, first)])  # each thread takes one: admin A disables B, B disables A

    def send(c):
        actor, target = next(turns)
        hdr = {"Authorization": f"Bearer {tokens[actor]}"}
        resp = c.patch(f"{USERS}/{target}", json={"active": False}, headers=hdr)
        return resp.status_code, resp.get_json()["code"] if resp.status_code != 200 else "OK"

    results = fire_together(app, 2, send)
    # the loser either waited for the winner's lock and saw it was the last admin (409), or started after
    # the winner committed, when its own token had died with its account (401)
    assert sorted(results) in ([(200, "OK"), (409, "LAST_ADMIN")], [(200, "OK"), (401, "TOKEN_INVALID")])
    assert _active_admins() == 1
