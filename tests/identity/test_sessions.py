"""An access token dies with its session (logout, refresh-token reuse), checked in the per-request user read."""

from __future__ import annotations

import dataclasses
import socket

from sqlalchemy import select

from backend import runtime
from backend.db import db
from backend.models import RefreshToken
from tests.factories import PASSWORD, login

ME = "/api/v1/me"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _me(client, pair: dict):
    return client.get(ME, headers=_bearer(pair["access_token"]))


def _refused(resp) -> bool:
    return resp.status_code == 401 and resp.get_json()["code"] == "TOKEN_INVALID"


def test_logout_ends_the_access_tokens_of_the_device_at_once(client, world):
    phone = login(client, "officerA", device_id="phone")
    older_phone = login(client, "officerA", device_id="phone")
    tablet = login(client, "officerA", device_id="tablet")
    assert _me(client, phone).status_code == 200 and _me(client, older_phone).status_code == 200
    assert client.post(LOGOUT, headers=_bearer(phone["access_token"])).status_code == 204
    assert _refused(_me(client, phone))
    assert _refused(_me(client, older_phone))  # the device's earlier login ended with it
    assert _me(client, tablet).status_code == 200  # another device keeps its session
    again = client.post(LOGOUT, headers=_bearer(phone["access_token"]))
    assert _refused(again)


def test_refresh_token_reuse_ends_the_access_tokens_of_that_login(client, world):
    stolen = login(client, "officerA", device_id="phone")
    other = login(client, "officerA", device_id="desk")
    rotated = client.post(REFRESH, json={"refresh_token": stolen["refresh_token"]}).get_json()
    assert _me(client, rotated).status_code == 200 and _me(client, stolen).status_code == 200
    reuse = client.post(REFRESH, json={"refresh_token": stolen["refresh_token"]})
    assert reuse.get_json()["code"] == "REFRESH_TOKEN_REUSED"
    assert _refused(_me(client, rotated))  # the thief's (or owner's) newest access token dies at once
    assert _refused(_me(client, stolen))
    assert _me(client, other).status_code == 200


def test_a_refresh_keeps_the_session_alive(client, world):
    first = login(client, "officerA")
    second = client.post(REFRESH, json={"refresh_token": first["refresh_token"]}).get_json()
    third = client.post(REFRESH, json={"refresh_token": second["refresh_token"]}).get_json()
    # the earlier access tokens belong to the same (live) session until they expire
    assert [_me(client, p).status_code for p in (first, second, third)] == [200, 200, 200]


def test_a_token_of_a_session_that_never_existed_is_refused(client, world, settings):
    import jwt

    pair = login(client, "officerA")
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    forged = jwt.encode({**claims, "sid": "00000000-0000-0000-0000-000000000000"}, settings.secret_key, "HS256")
    assert _refused(client.get(ME, headers=_bearer(forged)))
    # another user's live session does not lend itself either
    theirs = jwt.decode(login(client, "officerB")["access_token"], options={"verify_signature": False})
    borrowed = jwt.encode({**claims, "sid": theirs["sid"]}, settings.secret_key, "HS256")
    assert _refused(client.get(ME, headers=_bearer(borrowed)))


def test_sessions_are_checked_without_redis(client, world, settings, monkeypatch):
    ended = login(client, "officerA", device_id="old")
    client.post(LOGOUT, headers=_bearer(ended["access_token"]))
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    monkeypatch.setattr(runtime, "_settings", dataclasses.replace(settings, redis_url=dead))
    fresh = client.post("/api/v1/auth/login", json={"username": "officerA", "password": PASSWORD})
    assert fresh.status_code == 200  # rate limits and the throttle fail open: people still get in
    assert _me(client, fresh.get_json()).status_code == 200
    assert _refused(_me(client, ended))  # and an ended session stays ended
    row = db.session.scalar(select(RefreshToken).where(RefreshToken.device_id == "old"))
    assert row.revoked_at is not None
