"""Wrong passwords: one answer whatever the account, and growing delays for the guessing client only.

The rule is docs/roles.md#sign-in-and-tokens: failures are counted per username and client (a known
device of the account, else the address), and per username for clients that are not a known device; a
stranger's guesses never hold back the owner's known device.
"""

from __future__ import annotations

import dataclasses
import time

import pytest
from sqlalchemy import select, update

from backend import runtime
from backend.db import db
from backend.models import User
from backend.redis_conn import get_redis
from backend.services.identity import throttle
from backend.services.identity.auth import SHARED_FACTOR
from tests.factories import PASSWORD, auth_header, fire_together, login

LOGIN = "/api/v1/auth/login"


def _post(client, username: str, password: str, ip: str = "127.0.0.1", device_id: str | None = None):
    body = {"username": username, "password": password}
    if device_id:
        body["device_id"] = device_id
    return client.post(LOGIN, json=body, environ_base={"REMOTE_ADDR": ip})


def _code(resp) -> str:
    return resp.get_json()["code"]


@pytest.fixture
def roomy(monkeypatch, settings):
    """Rate limits out of the way, so only the failure throttle answers."""
    changed = dataclasses.replace(settings, rate_limit_login_per_minute=10_000)
    monkeypatch.setattr(runtime, "_settings", changed)
    return changed


def _wait_over(bucket: str) -> None:
    """Move a bucket's wait into the past (rather than sleeping through it)."""
    get_redis().hset(throttle.PREFIX + bucket, "until", str(time.time() - 1))


def _enrol(client, world) -> dict:
    from tests.subjects.test_subjects import enrol_body

    resp = client.post(
        "/api/v1/staff/subjects", json=enrol_body(world, username="zhaoliu"), headers=auth_header(client, "officerA")
    )
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_one_answer_for_a_wrong_password_whatever_the_account(client, world, roomy):
    enrolled = _enrol(client, world)
    with db.tx() as s:
        s.execute(update(User).where(User.username == "officerB").values(active=False))
    answers = [
        _post(client, name, "Wrong1234", ip=f"10.1.0.{i}")
        for i, name in enumerate(["officerA", "nobody", enrolled["username"], "officerB"])
    ]
    bodies = [(r.status_code, r.get_json()) for r in answers]
    assert bodies == [(401, bodies[0][1])] * 4 and bodies[0][1]["code"] == "INVALID_CREDENTIALS"
    # the right password of a disabled account says so: only the password's holder learns it
    assert _code(_post(client, "officerB", PASSWORD, ip="10.1.0.9")) == "ACCOUNT_DISABLED"


def test_not_activated_is_told_only_to_the_holder_of_the_activation_code(client, world, roomy):
    enrolled = _enrol(client, world)
    name, code = enrolled["username"], enrolled["activation_code"]
    assert _code(_post(client, name, "Anything1")) == "INVALID_CREDENTIALS"
    assert _code(_post(client, "nobody", code)) == "INVALID_CREDENTIALS"
    resp = _post(client, name, code.lower())
    assert resp.status_code == 401 and _code(resp) == "ACCOUNT_NOT_ACTIVATED"
    activated = client.post("/api/v1/auth/activate", json={"activation_code": code, "password": "MyNewPass1"})
    assert activated.status_code == 200
    assert _code(_post(client, name, code)) == "INVALID_CREDENTIALS"  # a spent code tells nothing
    login(client, name, "MyNewPass1")


def test_a_guessing_address_waits_longer_and_longer(client, world, roomy):
    n = roomy.login_max_failures
    bucket = f"officera:ip:{'10.2.0.1'}"
    for _ in range(n):
        assert _code(_post(client, "officerA", "Wrong1234", ip="10.2.0.1")) == "INVALID_CREDENTIALS"
    waits = []
    for _round in range(3):
        resp = _post(client, "officerA", PASSWORD, ip="10.2.0.1")  # even the right password waits
        assert resp.status_code == 429 and _code(resp) == "LOGIN_THROTTLED"
        waits.append(int(resp.headers["Retry-After"]))
        _wait_over(bucket)
        assert _code(_post(client, "officerA", "Wrong1234", ip="10.2.0.1")) == "INVALID_CREDENTIALS"
    first = throttle.FIRST_DELAY_S
    assert first - 1 <= waits[0] <= first and waits[1] == pytest.approx(2 * first, abs=1)
    assert waits[2] == pytest.approx(4 * first, abs=1)
    # the longest wait is LOGIN_LOCK_MINUTES
    assert throttle.delay_after(n + 30, n, roomy.login_lock_minutes * 60) == roomy.login_lock_minutes * 60
    # the owner elsewhere is not held back; a success there does not free the guessing address
    assert _post(client, "officerA", PASSWORD, ip="10.2.0.2").status_code == 200
    assert _code(_post(client, "officerA", PASSWORD, ip="10.2.0.1")) == "LOGIN_THROTTLED"
    _wait_over(bucket)
    assert _post(client, "officerA", PASSWORD, ip="10.2.0.1").status_code == 200
    # a success forgets that client's failures: the next typo is just a typo
    assert _code(_post(client, "officerA", "Wrong1234", ip="10.2.0.1")) == "INVALID_CREDENTIALS"


def test_unknown_usernames_are_throttled_alike(client, world, roomy):
    n = roomy.login_max_failures
    for name in ("officerA", "nobody"):
        codes = [_code(_post(client, name, "Wrong1234", ip="10.3.0.1")) for _ in range(n + 1)]
        assert codes == ["INVALID_CREDENTIALS"] * n + ["LOGIN_THROTTLED"]


def test_a_stranger_cannot_lock_the_owner_out_of_a_known_device(client, world, roomy):
    n = roomy.login_max_failures
    login(client, "officerA", device_id="owner-phone")  # the owner's phone: a known device from now on
    # strangers from many addresses, one of them the owner's own (a shared carrier NAT)
    strangers = [f"10.4.{i}.1" for i in range(SHARED_FACTOR + 1)] + ["127.0.0.1"]
    for ip in strangers:
        for _ in range(n):
            _post(client, "officerA", "Wrong1234", ip=ip, device_id="attacker")
    assert _code(_post(client, "officerA", PASSWORD, ip="127.0.0.1")) == "LOGIN_THROTTLED"
    # every client that is not a known device shares the account's budget, and it is spent
    fresh = _post(client, "officerA", PASSWORD, ip="10.99.0.1", device_id="new-phone")
    assert fresh.status_code == 429 and int(fresh.headers["Retry-After"]) > 0
    # the owner's phone, behind the same address, logs in at once
    assert _post(client, "officerA", PASSWORD, ip="127.0.0.1", device_id="owner-phone").status_code == 200
    user = db.session.scalar(select(User).where(User.username == "officerA"))
    assert user.active and user.locked_until is None  # nothing was locked


def test_a_known_device_has_its_own_count(client, world, roomy):
    n = roomy.login_max_failures
    login(client, "officerA", device_id="owner-phone")
    codes = [_code(_post(client, "officerA", "Wrong1234", device_id="owner-phone")) for _ in range(n + 1)]
    assert codes == ["INVALID_CREDENTIALS"] * n + ["LOGIN_THROTTLED"]
    assert _post(client, "officerA", PASSWORD, ip="10.5.0.1", device_id="desk").status_code == 200


def test_guesses_sent_at_once_cannot_pass_the_count(app, client, world, roomy):
    n = roomy.login_max_failures
    many = n + 5
    results = fire_together(app, many, lambda c: _code(_post(c, "officerA", "Wrong1234", ip="10.6.0.1")))
    assert sorted(results).count("INVALID_CREDENTIALS") == n
    assert results.count("LOGIN_THROTTLED") == many - n


def test_the_per_user_rate_limit_spares_known_devices(client, world, settings, monkeypatch):
    monkeypatch.setattr(
        runtime, "_settings", dataclasses.replace(settings, rate_limit_login_per_minute=2, login_max_failures=100)
    )
    login(client, "officerA", device_id="owner-phone")
    codes = [_code(_post(client, "officerA", "Wrong1234", ip=f"10.7.0.{i}")) for i in range(3)]
    assert codes == ["INVALID_CREDENTIALS", "RATE_LIMITED", "RATE_LIMITED"]
    assert _post(client, "officerA", PASSWORD, ip="10.7.0.9", device_id="owner-phone").status_code == 200
