"""Login, failure throttle, Redis rate limits, JWT checks, refresh rotation, logout, disabling, password change."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import jwt
import pytest
import redis
from sqlalchemy import select, update

from backend import runtime
from backend.db import db
from backend.models import RefreshToken, User, utcnow
from backend.services.identity import ratelimit
from tests.factories import PASSWORD, auth_header, login

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _relax(monkeypatch, settings, **changes):
    changed = dataclasses.replace(settings, **changes)
    monkeypatch.setattr(runtime, "_settings", changed)
    return changed


def _refresh(client, token: str):
    return client.post(REFRESH, json={"refresh_token": token})


def test_login_returns_tokens_and_user_summary(client, world):
    resp = client.post(LOGIN, json={"username": "officerA", "password": PASSWORD, "device_id": "phone-1"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["expires_in"] == 900 and body["token_type"] == "Bearer"
    assert body["user"] == {
        "id": world.users["officer_A"].id,
        "username": "officerA",
        "role": "officer",
        "display_name": "officerA",
    }
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 900 and claims["role"] == "officer"
    assert client.get("/api/v1/me", headers=_bearer(body["access_token"])).status_code == 200
    row = db.session.scalar(select(RefreshToken).where(RefreshToken.user_id == world.users["officer_A"].id))
    assert row.device_id == "phone-1" and row.token_hash != body["refresh_token"]  # stored hashed
    assert timedelta(days=29, hours=23) < row.expires_at - row.created_at <= timedelta(days=30)


@pytest.mark.parametrize("username", ["officerA", "nobody"])
def test_wrong_password_or_unknown_user_is_401(client, world, username):
    resp = client.post(LOGIN, json={"username": username, "password": "Wrong123"})
    assert resp.status_code == 401 and resp.get_json()["code"] == "INVALID_CREDENTIALS"


def test_failures_slow_the_client_down_instead_of_locking_the_account(client, world, settings):
    # was "lock_out_after_max_failures": the account no longer locks (a stranger could lock anyone out);
    # the guessing client waits instead (docs/roles.md#sign-in-and-tokens, tests/identity/test_lockout.py)
    from backend.redis_conn import get_redis
    from backend.services.identity import throttle

    n = settings.login_max_failures
    for _ in range(n):
        resp = client.post(LOGIN, json={"username": "officerA", "password": "Wrong123"})
        assert resp.get_json()["code"] == "INVALID_CREDENTIALS"
    resp = client.post(LOGIN, json={"username": "officerA", "password": "Wrong123"})
    assert resp.status_code == 429 and resp.get_json()["code"] == "LOGIN_THROTTLED"
    assert 0 < int(resp.headers["Retry-After"]) <= throttle.FIRST_DELAY_S
    right = client.post(LOGIN, json={"username": "officerA", "password": PASSWORD})
    assert right.status_code == 429 and right.get_json()["code"] == "LOGIN_THROTTLED"
    # other accounts are not affected
    assert client.post(LOGIN, json={"username": "officerB", "password": PASSWORD}).status_code == 200
    # the wait runs out (moved into the past here rather than waiting)
    get_redis().hset(throttle.PREFIX + "officera:ip:127.0.0.1", "until", "0")
    assert client.post(LOGIN, json={"username": "officerA", "password": PASSWORD}).status_code == 200
    user = db.session.scalar(select(User).where(User.username == "officerA"))
    assert user.active and user.locked_until is None


def test_success_resets_the_failure_count(client, world, settings):
    for _ in range(settings.login_max_failures - 1):
        client.post(LOGIN, json={"username": "officerA", "password": "Wrong123"})
    login(client, "officerA")
    resp = client.post(LOGIN, json={"username": "officerA", "password": "Wrong123"})
    assert resp.get_json()["code"] == "INVALID_CREDENTIALS"


def test_login_upgrades_a_hash_made_with_old_parameters(client, world):
    from argon2 import PasswordHasher

    old = PasswordHasher(time_cost=1, memory_cost=2048, parallelism=2).hash(PASSWORD)
    with db.tx() as s:
        s.execute(update(User).where(User.username == "officerA").values(password_hash=old))
    login(client, "officerA")
    db.remove()
    stored = db.session.scalar(select(User.password_hash).where(User.username == "officerA"))
    assert stored != old and stored.startswith("$argon2id$")
    login(client, "officerA")


def test_rate_limit_is_counted_in_redis_and_shared_by_app_instances(client, world, settings, test_env, monkeypatch):
    from mobile_api import create_app

    relaxed = _relax(monkeypatch, settings, rate_limit_login_per_minute=3, login_max_failures=100)
    other = create_app(relaxed).test_client()  # a second server instance: shares nothing but Redis
    monkeypatch.setattr(runtime, "_settings", relaxed)
    direct = redis.Redis.from_url(test_env["REDIS_URL"])
    key = ratelimit.key_of("login:user:officera")
    for i, c in enumerate([client, other, client]):
        resp = c.post(LOGIN, json={"username": "officerA", "password": "Wrong123"})
        assert resp.get_json()["code"] == "INVALID_CREDENTIALS"
        assert int(direct.get(key)) == i + 1
    assert 0 < direct.ttl(key) <= 60
    resp = other.post(LOGIN, json={"username": "officerA", "password": PASSWORD})
    assert resp.status_code == 429 and resp.get_json()["code"] == "RATE_LIMITED"
    assert 0 < int(resp.headers["Retry-After"]) <= 60
    # the counter lives in Redis only: dropping the key there lifts the limit for every instance
    direct.delete(key)
    assert client.post(LOGIN, json={"username": "officerA", "password": PASSWORD}).status_code == 200


def test_rate_limit_per_address(client, world, settings, monkeypatch):
    _relax(monkeypatch, settings, rate_limit_login_per_minute=2, login_max_failures=100)
    codes = [client.post(LOGIN, json={"username": f"user{i}", "password": "x"}).get_json()["code"] for i in range(7)]
    assert codes == ["INVALID_CREDENTIALS"] * 6 + ["RATE_LIMITED"]


def _claims(client, username: str = "officerA") -> tuple[str, dict]:
    token = login(client, username)["access_token"]
    return token, jwt.decode(token, options={"verify_signature": False})


def test_a_valid_token_passes(client, world, settings):
    token, claims = _claims(client)
    again = jwt.encode(claims, settings.secret_key, algorithm="HS256")
    assert client.get("/api/v1/me", headers=_bearer(again)).status_code == 200


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda c, key: jwt.encode(c, None, algorithm="none"), id="alg-none"),
        pytest.param(lambda c, key: jwt.encode(c, key, algorithm="HS512"), id="hs512-same-key"),
        pytest.param(lambda c, key: jwt.encode(c, "another-key-" * 4, algorithm="HS256"), id="other-key"),
        pytest.param(lambda c, key: jwt.encode({**c, "exp": c["iat"] - 1}, key, algorithm="HS256"), id="expired"),
        pytest.param(lambda c, key: jwt.encode({**c, "aud": "someone-else"}, key, algorithm="HS256"), id="aud"),
        pytest.param(lambda c, key: jwt.encode({**c, "iss": "evil"}, key, algorithm="HS256"), id="iss"),
        pytest.param(
            lambda c, key: jwt.encode({k: v for k, v in c.items() if k != "exp"}, key, algorithm="HS256"), id="no-exp"
        ),
        pytest.param(lambda c, key: jwt.encode({**c, "typ": "upload"}, key, algorithm="HS256"), id="typ"),
        pytest.param(lambda c, key: jwt.encode({**c, "sub": "999999"}, key, algorithm="HS256"), id="no-such-user"),
        pytest.param(lambda c, key: jwt.encode({**c, "tv": c["tv"] + 1}, key, algorithm="HS256"), id="tv"),
        pytest.param(lambda c, key: "not.a.jwt", id="garbage"),
    ],
)
def test_forged_or_stale_tokens_are_refused(client, world, settings, forge):
    _token, claims = _claims(client)
    resp = client.get("/api/v1/me", headers=_bearer(forge(claims, settings.secret_key)))
    assert resp.status_code == 401 and resp.get_json()["code"] == "TOKEN_INVALID"


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer   ", "Basic b2ZmaWNlckE6eA=="])
def test_missing_bearer_is_401(client, world, header):
    resp = client.get("/api/v1/me", headers={"Authorization": header} if header else {})
    assert resp.status_code == 401 and resp.get_json()["code"] == "UNAUTHENTICATED"


def test_refresh_rotates_and_reuse_revokes_the_family(client, world):
    first = login(client, "officerA")
    r1 = first["refresh_token"]
    second = _refresh(client, r1)
    assert second.status_code == 200
    r2 = second.get_json()["refresh_token"]
    assert r2 != r1 and second.get_json()["expires_in"] == 900
    assert client.get("/api/v1/me", headers=_bearer(second.get_json()["access_token"])).status_code == 200
    r3 = _refresh(client, r2).get_json()["refresh_token"]
    assert len({r1, r2, r3}) == 3
    reuse = _refresh(client, r1)
    assert reuse.status_code == 401 and reuse.get_json()["code"] == "REFRESH_TOKEN_REUSED"
    newest = _refresh(client, r3)  # the whole family died, the newest token included
    assert newest.status_code == 401 and newest.get_json()["code"] == "REFRESH_TOKEN_INVALID"
    assert _refresh(client, r2).status_code == 401


def test_reuse_does_not_touch_other_logins(client, world):
    a = login(client, "officerA", device_id="a")["refresh_token"]
    b = login(client, "officerA", device_id="b")["refresh_token"]
    _refresh(client, a)
    assert _refresh(client, a).get_json()["code"] == "REFRESH_TOKEN_REUSED"
    assert _refresh(client, b).status_code == 200


def test_unknown_or_expired_refresh_token_is_401(client, world):
    assert _refresh(client, "x" * 43).get_json()["code"] == "REFRESH_TOKEN_INVALID"
    token = login(client, "officerA")["refresh_token"]
    with db.tx() as s:
        s.execute(update(RefreshToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert _refresh(client, token).get_json()["code"] == "REFRESH_TOKEN_INVALID"


def test_concurrent_refreshes_of_one_token_cannot_both_win(app, client, world):
    token = login(client, "officerA")["refresh_token"]
    barrier = threading.Barrier(2)
    results: list = []

    def go():
        c = app.test_client()
        barrier.wait()
        results.append(_refresh(c, token))

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 401]
    assert [r.get_json()["code"] for r in results if r.status_code == 401] == ["REFRESH_TOKEN_REUSED"]


def test_logout_revokes_this_devices_refresh_tokens(client, world):
    phone = login(client, "officerA", device_id="phone")
    older_phone = login(client, "officerA", device_id="phone")  # an earlier login on the same device
    tablet = login(client, "officerA", device_id="tablet")
    resp = client.post("/api/v1/auth/logout", headers=_bearer(phone["access_token"]))
    assert resp.status_code == 204
    assert _refresh(client, phone["refresh_token"]).status_code == 401
    assert _refresh(client, older_phone["refresh_token"]).status_code == 401
    assert _refresh(client, tablet["refresh_token"]).status_code == 200


def test_disabling_a_user_kills_access_and_refresh_tokens_at_once(client, world):
    victim = login(client, "officerA")
    admin = auth_header(client, "admin")
    uid = world.users["officer_A"].id
    resp = client.patch(f"/api/v1/admin/users/{uid}", json={"active": False}, headers=admin)
    assert resp.status_code == 200 and resp.get_json()["active"] is False
    me = client.get("/api/v1/me", headers=_bearer(victim["access_token"]))
    assert me.status_code == 401 and me.get_json()["code"] == "TOKEN_INVALID"
    assert _refresh(client, victim["refresh_token"]).status_code == 401
    again = client.post(LOGIN, json={"username": "officerA", "password": PASSWORD})
    assert again.status_code == 401 and again.get_json()["code"] == "ACCOUNT_DISABLED"
    assert client.patch(f"/api/v1/admin/users/{uid}", json={"active": True}, headers=admin).status_code == 200
    assert client.post(LOGIN, json={"username": "officerA", "password": PASSWORD}).status_code == 200


def test_admin_cannot_disable_subjects_or_unknown_users(client, world):
    admin = auth_header(client, "admin")
    sid = world.users["subject_A"].id
    assert client.patch(f"/api/v1/admin/users/{sid}", json={"active": False}, headers=admin).status_code == 404
    assert client.patch("/api/v1/admin/users/999999", json={"active": False}, headers=admin).status_code == 404
    officer = auth_header(client, "officerA")
    uid = world.users["officer_B"].id
    assert client.patch(f"/api/v1/admin/users/{uid}", json={"active": False}, headers=officer).status_code == 403


def test_password_change_invalidates_other_tokens(client, world):
    here = login(client, "officerA", device_id="here")
    elsewhere = login(client, "officerA", device_id="elsewhere")
    url = "/api/v1/me/password"
    hdr = _bearer(here["access_token"])
    wrong = client.post(url, json={"old_password": "Nope1234", "new_password": "NewPassw0rd"}, headers=hdr)
    assert wrong.status_code == 422 and wrong.get_json()["code"] == "WRONG_PASSWORD"
    weak = client.post(url, json={"old_password": PASSWORD, "new_password": "short"}, headers=hdr)
    assert weak.status_code == 422 and weak.get_json()["code"] == "PASSWORD_TOO_WEAK"
    ok = client.post(url, json={"old_password": PASSWORD, "new_password": "NewPassw0rd"}, headers=hdr)
    assert ok.status_code == 200
    fresh = ok.get_json()
    for old in (here, elsewhere):
        assert client.get("/api/v1/me", headers=_bearer(old["access_token"])).status_code == 401
        assert _refresh(client, old["refresh_token"]).status_code == 401
    assert client.get("/api/v1/me", headers=_bearer(fresh["access_token"])).status_code == 200
    assert _refresh(client, fresh["refresh_token"]).status_code == 200
    row = db.session.scalar(select(RefreshToken).order_by(RefreshToken.id.desc()))
    assert row.device_id == "here"  # the new login stays on the device that changed the password
    assert client.post(LOGIN, json={"username": "officerA", "password": PASSWORD}).status_code == 401
    login(client, "officerA", "NewPassw0rd")


def _enrol(client, world, **extra) -> dict:
    from tests.subjects.test_subjects import enrol_body

    resp = client.post(
        "/api/v1/staff/subjects", json=enrol_body(world, **extra), headers=auth_header(client, "officerA")
    )
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_subject_activation_with_one_time_code(client, world):
    enrolled = _enrol(client, world, username="wangwu")
    before = client.post(LOGIN, json={"username": "wangwu", "password": "Anything1"})
    # any password: the same answer as for a username that does not exist (it told strangers who exists)
    assert before.status_code == 401 and before.get_json()["code"] == "INVALID_CREDENTIALS"
    url = "/api/v1/auth/activate"
    code = enrolled["activation_code"]
    weak = client.post(url, json={"activation_code": code, "password": "weak"})
    assert weak.status_code == 422 and weak.get_json()["code"] == "PASSWORD_TOO_WEAK"
    resp = client.post(url, json={"activation_code": f" {code.lower()} ", "password": "MyNewPass1", "device_id": "p"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["user"]["role"] == "subject" and body["user"]["username"] == "wangwu" and body["expires_in"] == 900
    me = client.get("/api/v1/me", headers=_bearer(body["access_token"])).get_json()
    assert me["subject"]["id"] == enrolled["subject"]["id"]
    again = client.post(url, json={"activation_code": code, "password": "Another1pass"})
    assert again.status_code == 422 and again.get_json()["code"] == "ACTIVATION_CODE_INVALID"
    login(client, "wangwu", "MyNewPass1")


def test_expired_or_unknown_activation_code_is_refused(client, world):
    from backend.models import ActivationCode

    enrolled = _enrol(client, world)
    with db.tx() as s:
        s.execute(update(ActivationCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    for code in (enrolled["activation_code"], "ZZZZZZZZZZ"):
        resp = client.post("/api/v1/auth/activate", json={"activation_code": code, "password": "MyNewPass1"})
        assert resp.status_code == 422 and resp.get_json()["code"] == "ACTIVATION_CODE_INVALID"
    resp = client.post(LOGIN, json={"username": enrolled["username"], "password": "MyNewPass1"})
    assert resp.get_json()["code"] == "INVALID_CREDENTIALS"  # still not activated; a stranger learns nothing


@pytest.mark.parametrize(
    ("username", "role", "units"),
    [
        ("subjectA", "subject", ["office_A", "grid_A"]),
        ("gridA", "grid_worker", ["grid_A"]),
        ("officerA", "officer", ["office_A"]),
        ("bureauA", "bureau", ["district_A"]),
        ("admin", "admin", []),
    ],
)
def test_me_for_each_role(client, world, username, role, units):
    body = client.get("/api/v1/me", headers=auth_header(client, username)).get_json()
    assert body["role"] == role and body["user"]["username"] == username
    assert [u["id"] for u in body["jurisdiction"]] == [world.units[u] for u in units]
    if role == "subject":
        profile = body["subject"]
        assert profile["id"] == world.subjects["A"].id
        plain = world.subjects["A"].__dict__["_plain_id_number"]
        assert profile["id_number_masked"] == plain[:3] + "*" * 11 + plain[-4:]
        assert plain not in str(body)
    else:
        assert body["subject"] is None


def test_register_device_push_token(client, world):
    from backend.models import Device

    hdr = auth_header(client, "subjectA")
    body = {"device_id": "phone-9", "platform": "android", "push_token": "tok-1"}
    resp = client.post("/api/v1/me/devices", json=body, headers=hdr)
    assert resp.status_code == 200
    out = resp.get_json()
    assert out["device_id"] == "phone-9" and out["platform"] == "android" and out["has_push_token"] is True
    assert "push_token" not in out
    client.post("/api/v1/me/devices", json={**body, "push_token": "tok-2"}, headers=hdr)
    rows = db.session.scalars(select(Device).where(Device.device_id == "phone-9")).all()
    assert len(rows) == 1 and rows[0].push_token == "tok-2" and rows[0].user_id == world.users["subject_A"].id
    bad = client.post("/api/v1/me/devices", json={**body, "platform": "symbian"}, headers=hdr)
    assert bad.status_code == 400 and "platform" in bad.get_json()["errors"]


def test_notifications_list_and_read(client, world):
    from backend.services.core.notifications import notify

    with db.tx() as s:
        mine = [notify(s, world.users["subject_A"].id, "reminder", f"提醒{i}", "请按时报到").id for i in range(3)]
        theirs = notify(s, world.users["subject_B"].id, "reminder", "别人的提醒").id
    hdr = auth_header(client, "subjectA")
    resp = client.get("/api/v1/me/notifications?page_size=2", headers=hdr)
    assert resp.status_code == 200
    assert [n["id"] for n in resp.get_json()] == [mine[2], mine[1]]
    assert '"total": 3' in resp.headers["X-Pagination"]
    read = client.post(f"/api/v1/me/notifications/{mine[0]}/read", headers=hdr)
    assert read.status_code == 200 and read.get_json()["read_at"] is not None
    again = client.post(f"/api/v1/me/notifications/{mine[0]}/read", headers=hdr)
    assert again.get_json()["read_at"] == read.get_json()["read_at"]
    other = client.post(f"/api/v1/me/notifications/{theirs}/read", headers=hdr)
    assert other.status_code == 404 and other.get_json()["code"] == "NOT_FOUND"
    assert client.post("/api/v1/me/notifications/99999999/read", headers=hdr).status_code == 404
    listed = client.get("/api/v1/me/notifications", headers=auth_header(client, "subjectB")).get_json()
    assert [n["id"] for n in listed] == [theirs] and listed[0]["read_at"] is None


def test_concurrent_first_logins_on_one_device_make_one_device_row(app, client, world):
    from backend.models import Device

    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def go():
        c = app.test_client()
        barrier.wait()
        body = {"username": "officerA", "password": PASSWORD, "device_id": "brand-new"}
        statuses.append(c.post(LOGIN, json=body).status_code)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 4
    db.remove()
    assert len(db.session.scalars(select(Device).where(Device.device_id == "brand-new")).all()) == 1


def test_purge_drops_only_long_dead_refresh_tokens(client, world):
    from backend.models import RefreshToken, utcnow
    from backend.services.identity.auth import purge_refresh_tokens

    login(client, "officerA")
    login(client, "officerB")
    with db.tx() as s:
        old, fresh = s.scalars(select(RefreshToken).order_by(RefreshToken.id)).all()
        old.expires_at = utcnow() - timedelta(days=31)
        fresh_id = fresh.id
    assert purge_refresh_tokens() == 1
    db.session.rollback()
    assert [t.id for t in db.session.scalars(select(RefreshToken))] == [fresh_id]
    assert purge_refresh_tokens() == 0
