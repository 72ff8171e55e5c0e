"""Idempotent creates: 201 then 200 with the same body, 409 for a reused key, safe under concurrent duplicates."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from backend import runtime
from backend.db import db
from backend.errors import DomainError
from backend.models import IdempotencyRecord, Subject, utcnow
from backend.services.core import idempotency
from tests.factories import auth_header, fire_together
from tests.subjects.test_subjects import URL, enrol_body


def _count_subjects(name: str) -> int:
    db.remove()
    return db.session.scalar(select(func.count()).select_from(Subject).where(Subject.name == name))


@pytest.mark.parametrize("via", ["client_id", "header"])
def test_first_201_replay_200_same_body_other_body_409(client, world, via):
    key = str(uuid.uuid4())
    hdr = auth_header(client, "officerA")
    body = enrol_body(world)
    if via == "client_id":
        body["client_id"] = key
    else:
        hdr = {**hdr, "Idempotency-Key": key}
    first = client.post(URL, json=body, headers=hdr)
    assert first.status_code == 201, first.get_json()
    replay = client.post(URL, json=body, headers=hdr)
    assert replay.status_code == 200
    assert replay.get_data() == first.get_data()
    assert replay.headers.get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first.headers
    assert _count_subjects(body["name"]) == 1
    changed = client.post(URL, json={**body, "phone": "13911111111"}, headers=hdr)
    assert changed.status_code == 409 and changed.get_json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert _count_subjects(body["name"]) == 1


def test_keys_belong_to_their_user_and_scope(client, world):
    key = str(uuid.uuid4())
    a = client.post(URL, json=enrol_body(world, client_id=key), headers=auth_header(client, "officerA"))
    assert a.status_code == 201
    body_b = enrol_body(
        world,
        client_id=key,
        id_number="11010519491231002X",
        office_id=world.units["office_B"],
        grid_id=world.units["grid_B"],
    )
    b = client.post(URL, json=body_b, headers=auth_header(client, "officerB"))
    assert b.status_code == 201 and b.get_json()["subject"]["id"] != a.get_json()["subject"]["id"]


def test_a_failed_create_is_not_remembered(client, world):
    hdr = auth_header(client, "officerA")
    key = str(uuid.uuid4())
    bad = client.post(URL, json=enrol_body(world, client_id=key, grid_id=world.units["grid_B"]), headers=hdr)
    assert bad.status_code == 422
    good = client.post(URL, json=enrol_body(world, client_id=key), headers=hdr)
    assert good.status_code == 201


@pytest.mark.parametrize("key", [5, ["a"], "k" * 129])
def test_malformed_keys_are_400(client, world, key):
    resp = client.post(URL, json=enrol_body(world, client_id=key), headers=auth_header(client, "officerA"))
    assert resp.status_code == 400 and resp.get_json()["code"] == "VALIDATION_FAILED"
    assert _count_subjects("王五") == 0


def test_stored_results_are_encrypted(client, world):
    resp = client.post(URL, json=enrol_body(world, client_id="k-1"), headers=auth_header(client, "officerA"))
    code = resp.get_json()["activation_code"]
    with db.engine.connect() as conn:
        raw = conn.execute(text("SELECT response_body FROM idempotency_records")).scalar_one()
    assert code not in str(raw) and "王五" not in str(raw)


def test_concurrent_duplicates_create_exactly_once(app, client, world):
    hdr = auth_header(client, "officerA")
    body = enrol_body(world, client_id=str(uuid.uuid4()))
    results = fire_together(app, 6, lambda c: c.post(URL, json=body, headers=hdr))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] * 5 + [201], [r.get_json() for r in results]
    assert len({r.get_data() for r in results}) == 1
    assert _count_subjects(body["name"]) == 1
    assert db.session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1


def test_concurrent_enrolments_of_one_person_without_a_key(app, client, world):
    """No key, so no replay: the unique keyed hash lets one through and the rest get 409, never a 500."""
    hdr = auth_header(client, "officerA")
    results = fire_together(app, 4, lambda c: c.post(URL, json=enrol_body(world), headers=hdr))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201, 409, 409, 409], [r.get_json() for r in results]
    assert {r.get_json()["code"] for r in results if r.status_code == 409} == {"ID_NUMBER_DUPLICATE"}
    assert _count_subjects("王五") == 1


def _created(n: list):
    def create():
        n.append(1)
        return 201, {"n": len(n)}

    return create


def test_records_expire_after_idempotency_days(clean, settings, monkeypatch):
    monkeypatch.setattr(runtime, "_settings", dataclasses.replace(settings, idempotency_days=3))
    calls: list = []
    h = idempotency.request_hash({"a": 1})
    assert idempotency.run_once(1, "test", "old", h, _created(calls)).status == 201
    assert idempotency.run_once(1, "test", "new", h, _created(calls)).status == 201
    again = idempotency.run_once(1, "test", "old", h, _created(calls))
    assert (again.status, again.body, again.replayed, len(calls)) == (200, {"n": 1}, True, 2)
    rec = db.session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == "old"))
    assert timedelta(days=3) - timedelta(minutes=1) < rec.expires_at - rec.created_at <= timedelta(days=3)
    with db.tx() as s:
        s.execute(update(IdempotencyRecord).where(IdempotencyRecord.key == "old").values(expires_at=utcnow()))
    assert idempotency.purge_expired() == 1
    keys = db.session.scalars(select(IdempotencyRecord.key)).all()
    assert keys == ["new"]
    assert idempotency.run_once(1, "test", "old", h, _created(calls)).status == 201  # forgotten: runs again
    assert idempotency.purge_expired() == 0


def test_request_hash_ignores_key_order():
    assert idempotency.request_hash({"a": 1, "b": [1, 2]}) == idempotency.request_hash({"b": [1, 2], "a": 1})
    assert idempotency.request_hash({"a": 1}) != idempotency.request_hash({"a": 2})


def test_a_key_is_scoped_to_its_resource(clean):
    calls: list = []
    h = idempotency.request_hash({"a": 1})
    one = idempotency.run_once(1, "test", "k", h, _created(calls), resource=idempotency.resource_of({"subject_id": 1}))
    two = idempotency.run_once(1, "test", "k", h, _created(calls), resource=idempotency.resource_of({"subject_id": 2}))
    assert (one.status, one.body, two.status, two.body, two.replayed) == (201, {"n": 1}, 201, {"n": 2}, False)
    again = idempotency.run_once(1, "test", "k", h, _created(calls), resource="subject_id=2")
    assert (again.status, again.body, again.replayed, len(calls)) == (200, {"n": 2}, True, 2)
    assert idempotency.resource_of({"subject_id": 3, "request_id": 7}) == "request_id=7,subject_id=3"
    assert idempotency.resource_of(None) == idempotency.resource_of({}) == ""


@pytest.mark.parametrize("key", ["", "k\x00", "a\nb", "k" * 129, 5, None])
def test_run_once_refuses_a_key_that_is_not_printable_text(clean, key):
    calls: list = []
    with pytest.raises(DomainError) as err:
        idempotency.run_once(1, "test", key, idempotency.request_hash({}), _created(calls))
    assert (err.value.code, calls) == ("VALIDATION_FAILED", [])
    assert db.session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
