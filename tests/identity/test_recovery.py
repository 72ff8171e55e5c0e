"""Recovery (docs/roles.md#recovery): an officer reissues a subject's activation code, an admin a staff reset code."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from sqlalchemy import select, update

from backend import runtime
from backend.db import db
from backend.models import ActivationCode, AuditLog, Subject, User, utcnow
from backend.services.identity import codes
from backend.services.subjects import idcard
from tests.factories import PASSWORD, auth_header, login

ENROL = "/api/v1/staff/subjects"
ACTIVATE = "/api/v1/auth/activate"
RESET = "/api/v1/auth/reset"
NEW_PASSWORD = "N3w-Passw0rd!"


def _code_url(subject_id: int) -> str:
    return f"/api/v1/staff/subjects/{subject_id}/activation-code"


def _reset_url(user_id: int) -> str:
    return f"/api/v1/admin/users/{user_id}/reset-code"


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _later(monkeypatch, delta: timedelta) -> None:
    """Move the codes' clock forward by ``delta`` (the data stays as it was written)."""
    monkeypatch.setattr(codes, "utcnow", lambda: utcnow() + delta)


def _enrol(client, world) -> dict:
    body = {
        "name": "王五",
        "gender": "male",
        "id_number": idcard.make("330106", date(1990, 3, 7), 123),
        "correction_type": "probation",
        "start_date": "2026-01-05",
        "end_date": "2027-01-04",
        "office_id": world.units["office_A"],
        "grid_id": world.units["grid_A"],
    }
    resp = client.post(ENROL, json=body, headers=auth_header(client, "officerA"))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _activate(client, code: str, password: str = NEW_PASSWORD):
    return client.post(ACTIVATE, json={"activation_code": code, "password": password, "device_id": "phone-2"})


def test_officer_reissues_a_lapsed_code_and_the_subject_activates_with_it(client, world, monkeypatch):
    enrolled = _enrol(client, world)
    subject_id, lapsed = enrolled["subject"]["id"], enrolled["activation_code"]
    _later(monkeypatch, timedelta(days=runtime.settings().activation_code_days, minutes=1))
    resp = _activate(client, lapsed)
    assert resp.status_code == 422 and resp.get_json()["code"] == "ACTIVATION_CODE_INVALID"

    resp = client.post(_code_url(subject_id), json={}, headers=auth_header(client, "officerA"))
    assert resp.status_code == 201, resp.get_json()
    out = resp.get_json()
    assert out["subject_id"] == subject_id and out["username"] == enrolled["username"]
    assert out["activation_code"] != lapsed

    resp = _activate(client, out["activation_code"])
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["user"]["username"] == enrolled["username"]
    login(client, enrolled["username"], NEW_PASSWORD)
    assert _activate(client, out["activation_code"], "Other-Passw0rd!").get_json()["code"] == "ACTIVATION_CODE_INVALID"
    audit = db.session.scalars(select(AuditLog.action).where(AuditLog.target_id == str(subject_id))).all()
    assert "subject.activation_code" in audit


def test_a_reissued_code_kills_the_old_one(client, world):
    subject = world.subjects["A"]
    officer = auth_header(client, "officerA")
    first = client.post(_code_url(subject.id), json={}, headers=officer).get_json()["activation_code"]
    second = client.post(_code_url(subject.id), json={}, headers=officer).get_json()["activation_code"]
    assert _activate(client, first).get_json()["code"] == "ACTIVATION_CODE_INVALID"
    assert _activate(client, second).status_code == 200
    live = db.session.scalar(
        select(ActivationCode.id).where(
            ActivationCode.user_id == subject.user_id,
            ActivationCode.used_at.is_(None),
            ActivationCode.expires_at > utcnow(),
        )
    )
    assert live is None


def test_activating_a_reissued_code_sets_the_password_and_ends_every_session(client, world):
    subject = world.subjects["A"]
    old = login(client, "subjectA", device_id="old-phone")
    assert client.get("/api/v1/me", headers=_bearer(old["access_token"])).status_code == 200
    code = client.post(_code_url(subject.id), json={}, headers=auth_header(client, "bureauA")).get_json()
    # issuing alone ends nothing: the subject may still be using the app
    assert client.get("/api/v1/me", headers=_bearer(old["access_token"])).status_code == 200

    assert _activate(client, code["activation_code"]).status_code == 200
    assert client.get("/api/v1/me", headers=_bearer(old["access_token"])).status_code == 401
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": old["refresh_token"]})
    assert refreshed.status_code == 401
    resp = client.post("/api/v1/auth/login", json={"username": "subjectA", "password": PASSWORD})
    assert resp.get_json()["code"] == "INVALID_CREDENTIALS"
    login(client, "subjectA", NEW_PASSWORD)


def test_reissue_is_scoped_and_refused_for_a_released_subject(client, world):
    url = _code_url(world.subjects["A"].id)
    assert client.post(url, json={}, headers=auth_header(client, "officerB")).status_code == 404
    assert client.post(url, json={}, headers=auth_header(client, "gridA")).status_code == 403
    assert client.post(url, json={}, headers=auth_header(client, "admin")).status_code == 403
    with db.tx() as s:
        s.execute(update(Subject).where(Subject.id == world.subjects["A"].id).values(status="released"))
    resp = client.post(url, json={}, headers=auth_header(client, "officerA"))
    assert resp.status_code == 409 and resp.get_json()["code"] == "SUBJECT_RELEASED"


def test_reissue_for_a_disabled_login_is_refused(client, world):
    with db.tx() as s:
        s.execute(update(User).where(User.id == world.subjects["A"].user_id).values(active=False))
    resp = client.post(_code_url(world.subjects["A"].id), json={}, headers=auth_header(client, "officerA"))
    assert resp.status_code == 409 and resp.get_json()["code"] == "USER_DISABLED"


def test_reissue_replays_with_the_same_client_id(client, world):
    url, officer = _code_url(world.subjects["A"].id), auth_header(client, "officerA")
    first = client.post(url, json={"client_id": "k-1"}, headers=officer)
    again = client.post(url, json={"client_id": "k-1"}, headers=officer)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()


def test_admin_reset_code_lets_a_staff_user_set_a_new_password(client, world):
    officer = world.users["officer_A"]
    old = login(client, "officerA", device_id="desk")
    resp = client.post(_reset_url(officer.id), json={}, headers=auth_header(client, "admin"))
    assert resp.status_code == 201, resp.get_json()
    out = resp.get_json()
    assert out["user_id"] == officer.id and out["username"] == "officerA"
    hours = (
        utcnow() + timedelta(hours=runtime.settings().reset_code_hours) - _parse(out["expires_at"])
    ).total_seconds()
    assert 0 <= hours < 60

    resp = client.post(RESET, json={"reset_code": out["reset_code"].lower(), "password": NEW_PASSWORD})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["user"]["username"] == "officerA"
    assert client.get("/api/v1/me", headers=_bearer(old["access_token"])).status_code == 401
    assert client.post("/api/v1/auth/login", json={"username": "officerA", "password": PASSWORD}).status_code == 401
    login(client, "officerA", NEW_PASSWORD)
    again = client.post(RESET, json={"reset_code": out["reset_code"], "password": "Third-Passw0rd!"})
    assert again.status_code == 422 and again.get_json()["code"] == "RESET_CODE_INVALID"
    actions = set(db.session.scalars(select(AuditLog.action).where(AuditLog.target_id == str(officer.id))))
    assert {"user.reset_code", "auth.reset"} <= actions


def _parse(value: str):
    from datetime import datetime

    return datetime.fromisoformat(value)


def test_codes_work_only_at_their_own_endpoint(client, world):
    admin, officer = auth_header(client, "admin"), auth_header(client, "officerA")
    reset_code = client.post(_reset_url(world.users["bureau_A"].id), json={}, headers=admin).get_json()["reset_code"]
    subject_code = client.post(_code_url(world.subjects["A"].id), json={}, headers=officer).get_json()
    assert _activate(client, reset_code).get_json()["code"] == "ACTIVATION_CODE_INVALID"
    resp = client.post(RESET, json={"reset_code": subject_code["activation_code"], "password": NEW_PASSWORD})
    assert resp.get_json()["code"] == "RESET_CODE_INVALID"
    # neither failed attempt spent the code
    assert client.post(RESET, json={"reset_code": reset_code, "password": NEW_PASSWORD}).status_code == 200
    assert _activate(client, subject_code["activation_code"]).status_code == 200


def test_reset_code_expires_and_is_refused_for_subjects_and_disabled_users(client, world, monkeypatch):
    admin = auth_header(client, "admin")
    assert client.post(_reset_url(world.subjects["A"].user_id), json={}, headers=admin).status_code == 404
    assert client.post(_reset_url(987_654), json={}, headers=admin).status_code == 404
    assert (
        client.post(
            _reset_url(world.users["officer_A"].id), json={}, headers=auth_header(client, "bureauA")
        ).status_code
        == 403
    )
    code = client.post(_reset_url(world.users["officer_A"].id), json={}, headers=admin).get_json()["reset_code"]
    _later(monkeypatch, timedelta(hours=runtime.settings().reset_code_hours, minutes=1))
    resp = client.post(RESET, json={"reset_code": code, "password": NEW_PASSWORD})
    assert resp.status_code == 422 and resp.get_json()["code"] == "RESET_CODE_INVALID"
    with db.tx() as s:
        s.execute(update(User).where(User.id == world.users["grid_A"].id).values(active=False))
    resp = client.post(_reset_url(world.users["grid_A"].id), json={}, headers=admin)
    assert resp.status_code == 409 and resp.get_json()["code"] == "USER_DISABLED"


def test_reset_checks_the_password_policy_without_spending_the_code(client, world):
    code = client.post(_reset_url(world.users["officer_A"].id), json={}, headers=auth_header(client, "admin"))
    code = code.get_json()["reset_code"]
    weak = client.post(RESET, json={"reset_code": code, "password": "123"})
    assert weak.status_code == 422 and weak.get_json()["code"] != "RESET_CODE_INVALID"
    assert client.post(RESET, json={"reset_code": code, "password": NEW_PASSWORD}).status_code == 200


def test_issuing_codes_is_rate_limited_per_account(client, world, monkeypatch, settings):
    monkeypatch.setattr(runtime, "_settings", dataclasses.replace(settings, rate_limit_codes_per_hour=2))
    admin = auth_header(client, "admin")
    url = _reset_url(world.users["officer_A"].id)
    assert [client.post(url, json={}, headers=admin).status_code for _ in range(2)] == [201, 201]
    resp = client.post(url, json={}, headers=admin)
    assert resp.status_code == 429 and resp.get_json()["code"] == "RATE_LIMITED"
    assert int(resp.headers["Retry-After"]) > 60
    # another account has its own budget
    assert client.post(_reset_url(world.users["bureau_A"].id), json={}, headers=admin).status_code == 201


def test_reset_is_rate_limited_per_address(client, world, monkeypatch, settings):
    monkeypatch.setattr(runtime, "_settings", dataclasses.replace(settings, rate_limit_login_per_minute=2))
    codes_seen = [client.post(RESET, json={"reset_code": "WRONGCODE1", "password": NEW_PASSWORD}) for _ in range(3)]
    assert [r.status_code for r in codes_seen] == [422, 422, 429]
