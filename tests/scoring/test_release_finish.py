"""Release (解矫) finishes the case: sealed and signed export file, its handover, login ended, open work closed.

Rules: docs/score.md#release-and-export, docs/audit-and-privacy.md#release-export.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select

from backend import runtime
from backend.config import ConfigError, demo_recipient_private, load_settings
from backend.db import db
from backend.errors import DomainError
from backend.models import AuditLog, Notification, Subject, User, Warning, utcnow
from backend.models.field import Suggestion
from backend.models.release import ReleaseExport
from backend.models.request import SubjectRequest
from backend.services.core.warnings import raise_warning
from backend.services.identity import users
from backend.services.scoring import export_seal
from backend.services.scoring.release import EXPORT_FORMAT
from backend.services.subjects import profiles
from tests.factories import PASSWORD, auth_header, fire_together, login
from tests.oversight.test_inbox import _items
from tests.support.activities import sh
from tests.support.scoring import new_subject

H = timedelta(hours=1)


def _raw(public) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


@pytest.fixture
def platform(clean):
    """The provincial platform's own X25519 key pair; its public half configured as EXPORT_RECIPIENT_KEY."""
    private = X25519PrivateKey.generate()
    before = runtime.settings()
    public_b64 = base64.b64encode(_raw(private.public_key())).decode()
    runtime.configure(dataclasses.replace(before, export_recipient_key=public_b64))
    yield private.private_bytes_raw()
    runtime.configure(before)


def _our_public_key() -> bytes:
    """What the platform pins: our signing public key, derived here from the settings' seed, not from the file."""
    return _raw(Ed25519PrivateKey.from_private_bytes(runtime.settings().export_signing_seed()).public_key())


def _username(subject) -> str:
    return db.session.get(User, subject.user_id).username


def _release(client, subject, user="bureauA", **body):
    return client.post(f"/api/v1/staff/subjects/{subject.id}/release", json=body, headers=auth_header(client, user))


def _download(client, subject, user="bureauA"):
    return client.get(f"/api/v1/staff/subjects/{subject.id}/export/file", headers=auth_header(client, user))


def _inbox_subjects(client, user: str) -> set[int]:
    resp = client.get("/api/v1/staff/inbox?page_size=200", headers=auth_header(client, user))
    assert resp.status_code == 200, resp.get_json()
    return {item["subject_id"] for item in resp.get_json()}


_since = {"id": 0}


@pytest.fixture(autouse=True)
def _audit_mark(clean):
    """Audit rows of this test only (the log keeps every test's rows, and ids of other tables start again)."""
    _since["id"] = db.session.scalar(select(func.max(AuditLog.id))) or 0


def _audit(action: str, target_id) -> list[AuditLog]:
    return list(
        db.session.scalars(
            select(AuditLog)
            .where(AuditLog.action == action, AuditLog.target_id == str(target_id), AuditLog.id > _since["id"])
            .order_by(AuditLog.id)
        )
    )


# --- the export record: sealed for the recipient, signed by us ------------------------------------------------


def test_the_file_opens_with_the_platforms_key_and_verifies_with_ours(client, world, platform):
    p = new_subject(world, provincial=900)
    plain = p.__dict__["_plain_id_number"]
    assert _release(client, p, note="期满解矫").status_code == 200
    resp = _download(client, p)
    assert resp.status_code == 200, resp.get_json()
    assert resp.headers["Content-Disposition"] == f'attachment; filename="zhijiao-export-{p.id}.json"'
    assert resp.mimetype == "application/json"
    assert resp.headers["X-Content-SHA256"] == hashlib.sha256(resp.data).hexdigest()
    exported = json.loads(resp.data)
    record, signature = exported["record"], exported["signature"]
    assert record["format"] == EXPORT_FORMAT and record["note"] == "期满解矫"
    assert plain not in resp.data.decode()  # only sealed; the masked form beside it
    assert record["subject"]["id_number_masked"] == plain[:3] + "*" * 11 + plain[-4:]
    sealed = record["subject"]["id_number_sealed"]
    assert export_seal.open_sealed(sealed, platform, EXPORT_FORMAT, p.id) == plain
    assert signature["alg"] == "Ed25519" and base64.b64decode(signature["public_key"]) == _our_public_key()
    assert export_seal.verify(record, signature["value"], _our_public_key())
    # the JSON endpoint serves the same record
    json_record = client.get(f"/api/v1/staff/subjects/{p.id}/export", headers=auth_header(client, "officerA"))
    assert json_record.get_json()["record"] == record
    # downloading again gives the same bytes, and each download is audited with the file's digest
    assert _download(client, p).data == resp.data
    rows = _audit("subject.export_file", p.id)
    assert len(rows) == 2 and rows[0].details["sha256"] == hashlib.sha256(resp.data).hexdigest()


def test_a_tampered_record_fails_and_a_wrong_key_does_not_open(client, world, platform):
    p, q = new_subject(world), new_subject(world)
    for subject in (p, q):
        assert _release(client, subject).status_code == 200
    exported = json.loads(_download(client, p).data)
    record, value = exported["record"], exported["signature"]["value"]
    assert export_seal.verify(record, value, _our_public_key())
    changed = json.loads(json.dumps(record))
    changed["final_score"]["total"] += 1
    assert not export_seal.verify(changed, value, _our_public_key())
    sealed = record["subject"]["id_number_sealed"]
    flipped = dict(
        sealed,
        ciphertext=base64.b64encode(
            bytes([base64.b64decode(sealed["ciphertext"])[0] ^ 1]) + base64.b64decode(sealed["ciphertext"])[1:]
        ).decode(),
    )
    with pytest.raises(ValueError):
        export_seal.open_sealed(flipped, platform, EXPORT_FORMAT, p.id)
    with pytest.raises(ValueError):  # moved into another subject's record, it no longer opens
        export_seal.open_sealed(sealed, platform, EXPORT_FORMAT, q.id)
    with pytest.raises(ValueError):  # someone else's key
        export_seal.open_sealed(sealed, X25519PrivateKey.generate().private_bytes_raw(), EXPORT_FORMAT, p.id)
    other = Ed25519PrivateKey.generate()
    assert not export_seal.verify(
        record, base64.b64encode(other.sign(export_seal.canonical(record))).decode(), _our_public_key()
    )
    # a record edited in the database is served as it is, and the platform's check refuses it
    with db.tx() as s:
        from backend.models.scoring import ScoreRelease

        rel = s.get(ScoreRelease, p.id)
        rel.record = {**rel.record, "note": "改过"}
    tampered = json.loads(_download(client, p).data)
    assert tampered["record"]["note"] == "改过"
    assert not export_seal.verify(tampered["record"], tampered["signature"]["value"], _our_public_key())


def test_release_without_the_platforms_key_changes_nothing(client, world):
    p = new_subject(world)
    before = runtime.settings()
    runtime.configure(dataclasses.replace(before, export_recipient_key=""))
    try:
        resp = _release(client, p)
    finally:
        runtime.configure(before)
    assert resp.status_code == 409 and resp.get_json()["code"] == "EXPORT_KEY_MISSING"
    assert db.session.get(Subject, p.id).status == "in_correction"
    assert login(client, _username(p))["access_token"]


def test_settings_give_an_embedded_demo_key_and_refuse_a_malformed_one(tmp_path):
    s = load_settings({"ZHIJIAO_ENV": "embedded", "INSTANCE_DIR": str(tmp_path)})
    demo = X25519PrivateKey.from_private_bytes(demo_recipient_private(tmp_path))
    assert s.export_recipient_public() == _raw(demo.public_key())
    assert load_settings({"ZHIJIAO_ENV": "embedded", "INSTANCE_DIR": str(tmp_path)}).export_recipient_key == (
        s.export_recipient_key
    )  # kept across restarts
    assert len(s.export_signing_seed()) == 32
    seed = base64.b64encode(bytes(range(32))).decode()
    given = load_settings({"INSTANCE_DIR": str(tmp_path), "EXPORT_SIGNING_KEY": seed})
    assert given.export_signing_seed() == bytes(range(32))
    for var in ("EXPORT_RECIPIENT_KEY", "EXPORT_SIGNING_KEY"):
        with pytest.raises(ConfigError, match=var):
            load_settings({"INSTANCE_DIR": str(tmp_path), var: "c2hvcnQ="})


# --- the handover --------------------------------------------------------------------------------------------


def test_the_bureau_records_the_handover_once(client, world, platform):
    p = new_subject(world)
    bureau = auth_header(client, "bureauA")
    url = f"/api/v1/staff/subjects/{p.id}/export/handover"
    early = client.post(url, json={"reference": "ZJ-2026-001"}, headers=bureau)
    assert early.status_code == 409 and early.get_json()["code"] == "SUBJECT_NOT_RELEASED"
    assert _release(client, p, user="officerA").status_code == 200
    digest = hashlib.sha256(_download(client, p).data).hexdigest()
    wrong = client.post(url, json={"reference": "ZJ-2026-001", "file_sha256": "0" * 64}, headers=bureau)
    assert wrong.status_code == 422 and wrong.get_json()["code"] == "EXPORT_FILE_MISMATCH"
    bad = client.post(url, json={"reference": ""}, headers=bureau)
    assert bad.status_code == 400 and bad.get_json()["code"] == "VALIDATION_FAILED"
    done = client.post(
        url, json={"reference": "ZJ-2026-001", "file_sha256": digest, "note": "省平台回执"}, headers=bureau
    )
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["handed_over_by"] == world.users["bureau_A"].id and body["file_sha256"] == digest
    assert body["handover_reference"] == "ZJ-2026-001" and body["handed_over_at"]
    again = client.post(url, json={"reference": "ZJ-2026-001"}, headers=bureau)
    assert again.status_code == 200 and again.get_json()["handed_over_at"] == body["handed_over_at"]
    other = client.post(url, json={"reference": "ZJ-2026-999"}, headers=bureau)
    assert other.status_code == 409 and other.get_json()["code"] == "EXPORT_ALREADY_HANDED_OVER"
    rows = _audit("subject.export_handover", p.id)
    assert len(rows) == 1 and rows[0].actor_id == world.users["bureau_A"].id
    assert rows[0].details == {"reference": "ZJ-2026-001", "sha256": digest}
    # only the bureau downloads the file and records the handover; another district's bureau sees no subject
    assert _download(client, p, user="officerA").status_code == 403
    assert client.post(url, json={"reference": "x"}, headers=auth_header(client, "officerA")).status_code == 403
    assert _download(client, p, user="bureauB").status_code == 404


def test_a_record_released_before_signatures_is_signed_on_first_download(client, world, platform):
    p = new_subject(world)
    assert _release(client, p).status_code == 200
    with db.tx() as s:
        s.delete(s.get(ReleaseExport, p.id))
    exported = json.loads(_download(client, p).data)
    assert export_seal.verify(exported["record"], exported["signature"]["value"], _our_public_key())
    assert db.session.get(ReleaseExport, p.id) is not None


def test_two_releases_at_once_make_one(app, client, world, platform):
    p = new_subject(world)
    with db.tx() as s:
        raise_warning(s, s.get(Subject, p.id), "GEOFENCE", "medium", "越界", period_key="twice")
    headers = {"officerA": auth_header(client, "officerA"), "bureauA": auth_header(client, "bureauA")}
    users = ["officerA", "bureauA"]
    results = fire_together(
        app,
        2,
        lambda c: (lambda r: (r.status_code, r.get_json()))(
            c.post(f"/api/v1/staff/subjects/{p.id}/release", json={}, headers=headers[users.pop()])
        ),
    )
    assert [code for code, _ in results] == [200, 200], results
    assert results[0][1]["released_at"] == results[1][1]["released_at"]
    assert results[0][1]["record"] == results[1][1]["record"]
    assert len(_audit("subject.release", p.id)) == 1
    assert db.session.scalar(select(func.count()).select_from(ReleaseExport)) == 1


# --- the login ends ------------------------------------------------------------------------------------------


def test_the_login_ends_at_release(client, world, platform):
    p = new_subject(world)
    name = _username(p)
    tokens = login(client, name)
    me = {"Authorization": "Bearer " + tokens["access_token"]}
    assert client.get("/api/v1/me", headers=me).status_code == 200
    assert _release(client, p, user="officerA").status_code == 200
    refused = client.get("/api/v1/me", headers=me)
    assert refused.status_code == 401 and refused.get_json()["code"] == "TOKEN_INVALID"
    again = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD, "device_id": "d"})
    assert again.status_code == 401 and again.get_json()["code"] == "ACCOUNT_RELEASED"
    wrong = client.post("/api/v1/auth/login", json={"username": name, "password": "Wrong#1234", "device_id": "d"})
    assert wrong.get_json()["code"] == "INVALID_CREDENTIALS"  # only the right password learns why
    refresh = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401 and refresh.get_json()["code"] == "REFRESH_TOKEN_INVALID"
    user = db.session.get(User, p.user_id)
    assert not user.active
    # no way back in: no new activation code, and the admin cannot enable the account
    code = client.post(f"/api/v1/staff/subjects/{p.id}/activation-code", headers=auth_header(client, "officerA"))
    assert code.status_code == 409 and code.get_json()["code"] == "SUBJECT_RELEASED"
    enable = client.patch(
        f"/api/v1/admin/users/{p.user_id}", json={"active": True}, headers=auth_header(client, "admin")
    )
    assert enable.status_code == 404  # the admin has no subject records
    with pytest.raises(DomainError) as err:  # and the service itself refuses, whoever calls it
        users.set_active(_actor(world, "admin"), p.user_id, True)
    assert err.value.code == "SUBJECT_RELEASED"
    assert not db.session.get(User, p.user_id).active


def test_an_unspent_activation_code_dies_at_release(client, world, platform):
    p = new_subject(world, password=None)
    _subject, code, _expires = profiles.reissue_activation_code(_actor(world, "officer_A"), p.id)
    assert _release(client, p).status_code == 200
    resp = client.post(
        "/api/v1/auth/activate", json={"activation_code": code, "password": "New#Passw0rd", "device_id": "d"}
    )
    assert resp.status_code == 422 and resp.get_json()["code"] == "ACTIVATION_CODE_INVALID"


def _actor(world, key):
    from backend.services.identity.auth import actor_for

    return actor_for(db.session, world.users[key])


# --- the journey: open work closed, officers told ------------------------------------------------------------


def test_journey_release_closes_the_case(client, world, platform, clock):
    p = new_subject(world, provincial=800, start_date=sh(1, 1).date(), end_date=sh(12, 31).date())
    name = _username(p)
    h = auth_header(client, name)
    # an open request, through the API
    asked = client.post(
        "/api/v1/me/requests",
        json={
            "type": "leave",
            "destination": "上海市",
            "reason": "探亲",
            "start_date": sh(3, 10).date().isoformat(),
            "end_date": sh(3, 12).date().isoformat(),
        },
        headers=h,
    )
    assert asked.status_code == 201 and asked.get_json()["status"] == "pending", asked.get_json()
    request_id = asked.get_json()["id"]
    # an open warning (overdue, so the bureau sees it too) and a suggestion, and one open item of every other kind
    now = utcnow()
    with db.tx() as s:
        warning, _ = raise_warning(s, s.get(Subject, p.id), "GEOFENCE", "high", "越界", period_key="j", due_at=now - H)
        warning_id = warning.id
        suggestion = Suggestion(
            subject_id=p.id,
            kind="counselling_needed",
            category="counselling",
            priority="high",
            title="建议约谈",
            rationale={},
            trigger_version=1,
            officer_id=world.users["officer_A"].id,
            office_id=p.office_id,
            status="open",
            due_at=now + 24 * H,
        )
        s.add(suggestion)
        s.flush()
        suggestion_id = suggestion.id
    others = _items(p.id, p.office_id, world, now)  # one open item of every inbox kind besides
    assert p.id in _inbox_subjects(client, "officerA") and p.id in _inbox_subjects(client, "bureauA")
    subject_access = login(client, name)["access_token"]

    released = _release(client, p, note="期满")
    assert released.status_code == 200, released.get_json()

    # it cannot log in, and its access token is refused
    assert (
        client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD, "device_id": "x"}).get_json()[
            "code"
        ]
        == "ACCOUNT_RELEASED"
    )
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {subject_access}"}).status_code == 401
    # nothing of it in the officer's or the bureau's inbox
    assert p.id not in _inbox_subjects(client, "officerA")
    assert p.id not in _inbox_subjects(client, "bureauA")
    # the request cancelled, the warning and the suggestion closed with the reason "released"
    r = db.session.get(SubjectRequest, request_id)
    assert (r.status, r.decider_role, r.due_at) == ("cancelled", None, None)
    w = db.session.get(Warning, warning_id)
    assert (w.status, w.outcome, w.handled_by) == ("handled", "released", world.users["bureau_A"].id)
    sug = db.session.get(Suggestion, suggestion_id)
    assert (sug.status, sug.dismiss_reason) == ("dismissed", "released")
    assert db.session.get(Suggestion, others["suggestion"]).status == "dismissed"
    assert db.session.get(SubjectRequest, others["request"]).status == "cancelled"
    for user in ("officerA", "bureauA"):
        headers = auth_header(client, user)
        for path in (
            "warnings?status=open",
            "warnings?status=acknowledged",
            "suggestions?status=open",
            "suggestions?status=accepted",
            "requests?status=pending",
            "requests?status=recommended",
        ):
            listed = client.get(f"/api/v1/staff/{path}&subject_id={p.id}", headers=headers)
            assert listed.status_code == 200 and listed.get_json() == [], (user, path, listed.get_json())
    assert _audit("request.cancel", request_id)[0].details["reason"] == "released"
    # the officer got the notice
    notices = list(
        db.session.scalars(
            select(Notification).where(
                Notification.user_id == world.users["officer_A"].id, Notification.kind == "subject_released"
            )
        )
    )
    assert len(notices) == 1 and notices[0].data["subject_id"] == p.id
    assert notices[0].data["requests"] >= 1 and notices[0].data["warnings"] >= 1
    release_row = _audit("subject.release", p.id)[0]
    assert request_id in release_row.details["closed"]["requests"]
    assert warning_id in release_row.details["closed"]["warnings"]
    assert suggestion_id in release_row.details["closed"]["suggestions"]
    # the export file opens to the full ID number and verifies; its handover is recorded
    exported = _download(client, p)
    record = json.loads(exported.data)["record"]
    assert (
        export_seal.open_sealed(record["subject"]["id_number_sealed"], platform, EXPORT_FORMAT, p.id)
        == (p.__dict__["_plain_id_number"])
    )
    assert export_seal.verify(record, json.loads(exported.data)["signature"]["value"], _our_public_key())
    handed = client.post(
        f"/api/v1/staff/subjects/{p.id}/export/handover",
        json={"reference": "ZJ-1", "file_sha256": hashlib.sha256(exported.data).hexdigest()},
        headers=auth_header(client, "bureauA"),
    )
    assert handed.status_code == 200 and handed.get_json()["handed_over_by"] == world.users["bureau_A"].id
