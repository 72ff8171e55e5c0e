"""Idempotency keys are scoped to the caller, the create's kind and the ids in its path (issue 14).

Rule: docs/audit-and-privacy.md#idempotent-creates. Every create with a path parameter: the same key on two
resources is two creates, the same key on one resource replays; ``/me/sync`` items share their single
endpoint's scope; a check-in stays one per subject and client id on both routes; the role is checked and the
body validated before any key is looked up, and a key that is not 1–128 printable characters is 400.
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.db import db
from backend.models import IdempotencyRecord, User
from backend.models.checkin import CheckIn
from backend.models.faces import FaceReference
from backend.models.request import SubjectRequest
from backend.models.scoring_decisions import EmploymentRecord, ScoreAdjustment
from tests.factories import auth_header, fire_together
from tests.support.activities import YEAR, checkin_body, headers_for, sh, uploaded
from tests.support.activities import new_subject as new_activity_subject
from tests.support.scoring import new_subject
from tests.support.uploads import upload

FACES = Path(__file__).resolve().parents[1] / "faces"
NOTICE = "2026-01-05T09:00:00+08:00"

#: the staff creates whose path names a subject: path after /staff/subjects/{id} → (model, a valid body, a change)
STAFF_CREATES = {
    "adjustments": (ScoreAdjustment, {"dimension": "behaviour", "points": 3, "reason": "补录表彰"}, {"points": 4}),
    "employment": (
        EmploymentRecord,
        {"kind": "job", "organisation": "富阳某物流公司", "started_on": "2026-02-10"},
        {"organisation": "富阳某机械厂"},
    ),
}


def _count(model, **where) -> int:
    db.remove()
    stmt = select(func.count()).select_from(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    return db.session.scalar(stmt)


def _records() -> list[tuple[str, str, str]]:
    db.remove()
    rows = db.session.execute(select(IdempotencyRecord.scope, IdempotencyRecord.resource, IdempotencyRecord.key))
    return sorted(tuple(r) for r in rows)


def _keyed(headers: dict, body: dict, key: str, via: str) -> tuple[dict, dict]:
    if via == "header":
        return {**headers, "Idempotency-Key": key}, body
    return headers, {**body, "client_id": key}


# --- staff creates on /staff/subjects/{subject_id}/… ---------------------------------------------------------------


@pytest.mark.parametrize("via", ["client_id", "header"])
@pytest.mark.parametrize("what", sorted(STAFF_CREATES))
def test_one_key_on_two_subjects_creates_two_records(client, world, what, via):
    model, body, change = STAFF_CREATES[what]
    one, two = new_subject(world), new_subject(world)
    hdr, sent = _keyed(auth_header(client, "officerA"), body, "k1", via)
    first = client.post(f"/api/v1/staff/subjects/{one.id}/{what}", json=sent, headers=hdr)
    second = client.post(f"/api/v1/staff/subjects/{two.id}/{what}", json=sent, headers=hdr)
    assert (first.status_code, second.status_code) == (201, 201), second.get_json()
    assert "Idempotent-Replayed" not in second.headers
    assert (first.get_json()["subject_id"], second.get_json()["subject_id"]) == (one.id, two.id)
    assert _count(model, subject_id=one.id) == 1 and _count(model, subject_id=two.id) == 1
    # the same key on the same subject replays that subject's create, and creates nothing
    for subject, made in ((one, first), (two, second)):
        again = client.post(f"/api/v1/staff/subjects/{subject.id}/{what}", json=sent, headers=hdr)
        assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (200, "true")
        assert again.get_data() == made.get_data()
    assert _count(model) == 2
    scope = {"adjustments": "scoring.adjustment", "employment": "scoring.employment"}[what]
    assert _records() == [(scope, f"subject_id={one.id}", "k1"), (scope, f"subject_id={two.id}", "k1")]
    # another body under the key on one subject is still 409 there
    changed = client.post(f"/api/v1/staff/subjects/{one.id}/{what}", json={**sent, **change}, headers=hdr)
    assert (changed.status_code, changed.get_json()["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")


def test_one_key_on_two_subjects_adds_two_face_references(client, world):
    officer = auth_header(client, "officerA")
    one, two = world.subjects["A"].id, new_subject(world).id
    photos = [
        upload(client, officer, (FACES / name).read_bytes(), purpose="enrolment")
        for name in ("obama.jpg", "obama2.jpg")
    ]
    assert all(p["status"] in ("accepted", "suspect") for p in photos), photos
    photos = [p["id"] for p in photos]
    keyed = {**officer, "Idempotency-Key": "face-k1"}

    def add(subject_id: int, upload_id: int):
        body = {"upload_id": upload_id, "notice_given_at": NOTICE}
        return client.post(f"/api/v1/staff/subjects/{subject_id}/face-references", json=body, headers=keyed)

    first, second = add(one, photos[0]), add(two, photos[1])
    assert (first.status_code, second.status_code) == (201, 201), second.get_json()
    assert (first.get_json()["subject_id"], second.get_json()["subject_id"]) == (one, two)
    assert _count(FaceReference, subject_id=one) == 1 and _count(FaceReference, subject_id=two) == 1
    again = add(two, photos[1])
    assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (200, "true")
    assert again.get_data() == second.get_data()
    # subject one's photo under the key on subject two: never subject one's answer, nothing added
    other = add(two, photos[0])
    assert (other.status_code, other.get_json()["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert _count(FaceReference) == 2


# --- the return report: /me/requests/{request_id}/return and its /me/sync item --------------------------------------


def _approved_leave(client, h: dict, start: date, end: date) -> int:
    body = {
        "type": "leave",
        "destination": "杭州",
        "reason": "就医",
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
    }
    made = client.post("/api/v1/me/requests", json=body, headers=h)
    assert made.status_code == 201, made.get_json()
    rid = made.get_json()["id"]
    decided = client.post(
        f"/api/v1/staff/requests/{rid}/decision", json={"decision": "approve"}, headers=auth_header(client, "officerA")
    )
    assert decided.status_code == 200, decided.get_json()
    return rid


def _status(request_id: int) -> str:
    db.remove()
    return db.session.get(SubjectRequest, request_id).status


def _sync(client, h: dict, items: list) -> list[dict]:
    resp = client.post("/api/v1/me/sync", json={"items": items}, headers=h)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["results"]


@pytest.fixture
def leaves(client, world, clock):
    """A subject with two approved leaves (3–4 and 6–7 March), both due for their return report on the 8th."""
    subject = new_activity_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9))
    first = _approved_leave(client, h, date(YEAR, 3, 3), date(YEAR, 3, 4))
    second = _approved_leave(client, h, date(YEAR, 3, 6), date(YEAR, 3, 7))
    clock.set(sh(3, 8, 9))
    return subject, h, first, second


def test_a_return_key_belongs_to_its_leave(client, leaves):
    subject, h, first, second = leaves
    body = checkin_body(uploaded(client, h, sh(3, 8, 8, 55)), sh(3, 8, 8, 55))
    made = client.post(f"/api/v1/me/requests/{first}/return", json=body, headers=h)
    assert made.status_code == 201 and made.get_json()["id"] == first and _status(first) == "returned"
    replay = client.post(f"/api/v1/me/requests/{first}/return", json=body, headers=h)
    assert (replay.status_code, replay.headers.get("Idempotent-Replayed")) == (200, "true")
    assert replay.get_data() == made.get_data()
    # the key on the other leave is never the first leave's answer: its check-in (one per subject and client
    # id) is the first return's, so the second leave is told so and stays unreturned
    other = client.post(f"/api/v1/me/requests/{second}/return", json=body, headers=h)
    assert (other.status_code, other.get_json()["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert "Idempotent-Replayed" not in other.headers and _status(second) == "approved"
    assert _records() == [("request.return", f"request_id={first}", body["client_id"])]
    fresh = checkin_body(uploaded(client, h, sh(3, 8, 8, 57)), sh(3, 8, 8, 57))
    done = client.post(f"/api/v1/me/requests/{second}/return", json=fresh, headers=h)
    assert done.status_code == 201 and done.get_json()["id"] == second and _status(second) == "returned"
    assert _count(CheckIn, subject_id=subject.id) == 2


def test_a_queued_return_shares_the_scope_of_its_single_endpoint(client, leaves):
    _subject, h, first, second = leaves
    body = checkin_body(uploaded(client, h, sh(3, 8, 8, 55)), sh(3, 8, 8, 55))
    queued = _sync(client, h, [{"kind": "return", "request_id": first, "body": body}])[0]
    assert (queued["status"], queued["replayed"], queued["body"]["id"]) == (201, False, first)
    alone = client.post(f"/api/v1/me/requests/{first}/return", json=body, headers=h)
    assert (alone.status_code, alone.headers.get("Idempotent-Replayed")) == (200, "true")
    assert alone.get_json() == queued["body"]
    again = _sync(client, h, [{"kind": "return", "request_id": first, "body": body}])[0]
    assert (again["status"], again["replayed"], again["body"]) == (200, True, queued["body"])
    # the same item for the other leave is that leave's own create, not the first leave's replay
    other = _sync(client, h, [{"kind": "return", "request_id": second, "body": body}])[0]
    assert (other["status"], other["error"]["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert _status(second) == "approved"
    assert _records() == [("request.return", f"request_id={first}", body["client_id"])]


def test_a_return_sent_alone_first_is_replayed_by_its_queued_copy(client, leaves):
    _subject, h, first, _second = leaves
    body = checkin_body(uploaded(client, h, sh(3, 8, 8, 55)), sh(3, 8, 8, 55))
    alone = client.post(f"/api/v1/me/requests/{first}/return", json=body, headers=h)
    assert alone.status_code == 201
    queued = _sync(client, h, [{"kind": "return", "request_id": first, "body": body}])[0]
    assert (queued["status"], queued["replayed"], queued["body"]) == (200, True, alone.get_json())


def test_a_check_in_is_one_through_checkins_and_sync(client, world, clock):
    subject = new_activity_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9))
    body = checkin_body(uploaded(client, h, sh(3, 2, 8, 58)), sh(3, 2, 8, 58))
    direct = client.post("/api/v1/me/checkins", json=body, headers=h)
    assert direct.status_code == 201, direct.get_json()
    queued = _sync(client, h, [{"kind": "checkin", "body": body}])[0]
    assert (queued["status"], queued["replayed"], queued["body"]["id"]) == (200, True, direct.get_json()["id"])
    # and the other way round: queued first, then sent alone
    later = checkin_body(uploaded(client, h, sh(3, 2, 8, 59)), sh(3, 2, 8, 59))
    first = _sync(client, h, [{"kind": "checkin", "body": later}])[0]
    assert (first["status"], first["replayed"]) == (201, False)
    alone = client.post("/api/v1/me/checkins", json=later, headers=h)
    assert (alone.status_code, alone.headers.get("Idempotent-Replayed")) == (200, "true")
    assert alone.get_json()["id"] == first["body"]["id"]
    assert _count(CheckIn, subject_id=subject.id) == 2
    assert _records() == []  # a check-in is its own record: no stored answer with its GPS


# --- the role and the body before the key; what a key may be -------------------------------------------------------


def test_the_role_is_checked_before_any_key_is_looked_up(client, world):
    sid = world.subjects["A"].id
    url = f"/api/v1/staff/subjects/{sid}/adjustments"
    body = {**STAFF_CREATES["adjustments"][1], "client_id": "k-role"}
    for user in ("bureauA", "gridA", "subjectA", "admin"):
        resp = client.post(url, json=body, headers=auth_header(client, user))
        assert (resp.status_code, resp.get_json()["code"]) == (403, "FORBIDDEN"), user
        nul = client.post(url, json={**body, "client_id": "k\x00"}, headers=auth_header(client, user))
        assert (nul.status_code, nul.get_json()["code"]) == (403, "FORBIDDEN"), user
    assert _records() == [] and _count(ScoreAdjustment) == 0


def test_the_body_is_validated_before_the_key_is_looked_up(client, world):
    sid = world.subjects["A"].id
    url = f"/api/v1/staff/subjects/{sid}/adjustments"
    hdr = auth_header(client, "officerA")
    body = {**STAFF_CREATES["adjustments"][1], "client_id": "k-body"}
    assert client.post(url, json=body, headers=hdr).status_code == 201
    # a malformed body under a key already used is a 400 naming the field, not the key's 409 or its replay
    bad = client.post(url, json={**body, "points": "many"}, headers=hdr)
    assert (bad.status_code, bad.get_json()["code"]) == (400, "VALIDATION_FAILED")
    assert "points" in bad.get_json()["errors"]
    fresh = client.post(url, json={**body, "client_id": "k-new", "dimension": "nope"}, headers=hdr)
    assert (fresh.status_code, fresh.get_json()["code"]) == (400, "VALIDATION_FAILED")
    assert _records() == [("scoring.adjustment", f"subject_id={sid}", "k-body")]


@pytest.mark.parametrize("key", ["", "k\x00", "\x00", "a\tb", "k\u2028", "k" * 129])
def test_a_key_that_is_not_printable_text_of_1_to_128_is_400(client, world, key):
    sid = world.subjects["A"].id
    url = f"/api/v1/staff/subjects/{sid}/adjustments"
    hdr = auth_header(client, "officerA")
    body = STAFF_CREATES["adjustments"][1]
    if len(key) <= 128:  # the schema's own limit is 128: the decorator's check is what answers here
        resp = client.post(url, json={**body, "client_id": key}, headers=hdr)
        assert (resp.status_code, resp.get_json()["code"]) == (400, "VALIDATION_FAILED"), resp.get_json()
        assert "client_id" in resp.get_json()["errors"]
    if key.isascii():  # what a header of the test client can carry
        resp = client.post(url, json=body, headers={**hdr, "Idempotency-Key": key})
        assert (resp.status_code, resp.get_json()["code"]) == (400, "VALIDATION_FAILED"), resp.get_json()
    assert _records() == [] and _count(ScoreAdjustment) == 0


def test_a_printable_key_of_any_script_is_a_key(client, world):
    sid = world.subjects["A"].id
    url = f"/api/v1/staff/subjects/{sid}/adjustments"
    hdr = auth_header(client, "officerA")
    body = {**STAFF_CREATES["adjustments"][1], "client_id": "补录-" + "键" * 125}
    first = client.post(url, json=body, headers=hdr)
    again = client.post(url, json=body, headers=hdr)
    assert (first.status_code, again.status_code, again.headers.get("Idempotent-Replayed")) == (201, 200, "true")


@pytest.mark.parametrize("client_id", ["", "a\tb", "k\u2028", "k" * 129, 7])
def test_a_queued_item_with_a_malformed_client_id_is_400(client, world, clock, client_id):
    subject = new_activity_subject(world)
    h = headers_for(client, subject)
    request = {
        "client_id": client_id,
        "type": "leave",
        "destination": "杭州",
        "reason": "就医",
        "start_date": f"{YEAR}-03-05",
        "end_date": f"{YEAR}-03-06",
    }
    got = _sync(client, h, [{"kind": "request", "body": request}])[0]
    assert (got["status"], got["error"]["code"]) == (400, "VALIDATION_FAILED")
    assert _records() == [] and _count(SubjectRequest) == 0


def test_a_queued_item_is_validated_before_its_key_is_looked_up(client, world, clock):
    subject = new_activity_subject(world)
    h = headers_for(client, subject)
    request = {
        "client_id": str(uuid.uuid4()),
        "type": "leave",
        "destination": "杭州",
        "reason": "就医",
        "start_date": f"{YEAR}-03-05",
        "end_date": f"{YEAR}-03-06",
    }
    made = _sync(client, h, [{"kind": "request", "body": request}])[0]
    assert made["status"] == 201
    bad = _sync(client, h, [{"kind": "request", "body": {**request, "type": "holiday"}}])[0]
    assert (bad["status"], bad["error"]["code"]) == (400, "VALIDATION_FAILED") and "type" in bad["error"]["errors"]
    assert _count(SubjectRequest, subject_id=subject.id) == 1


def test_keys_of_different_users_on_one_subject_are_apart(client, world):
    """Two officers of one office use the same key on the same subject: two proposals."""
    from backend.services.identity.users import create_user
    from tests.factories import PASSWORD

    with db.tx() as s:
        create_user(s, username="officerA2", password=PASSWORD, role="officer", unit_ids=[world.units["office_A"]])
    sid = world.subjects["A"].id
    url = f"/api/v1/staff/subjects/{sid}/adjustments"
    body = {**STAFF_CREATES["adjustments"][1], "client_id": "k-shared"}
    a = client.post(url, json=body, headers=auth_header(client, "officerA"))
    b = client.post(url, json=body, headers=auth_header(client, "officerA2"))
    assert (a.status_code, b.status_code) == (201, 201) and a.get_json()["id"] != b.get_json()["id"]
    proposers = {db.session.get(User, u).username for u in (a.get_json()["proposed_by"], b.get_json()["proposed_by"])}
    assert proposers == {"officerA", "officerA2"}


def test_concurrent_duplicates_on_two_subjects_create_once_each(app, client, world):
    one, two = new_subject(world), new_subject(world)
    hdr = auth_header(client, "officerA")
    body = {**STAFF_CREATES["adjustments"][1], "client_id": "k-race"}
    targets = [one.id, two.id] * 3

    def send(c):
        sid = targets[send.n.pop()]
        return sid, c.post(f"/api/v1/staff/subjects/{sid}/adjustments", json=body, headers=hdr)

    send.n = list(range(len(targets)))
    results = fire_together(app, len(targets), send)
    by_subject = {sid: sorted(r.status_code for s, r in results if s == sid) for sid in (one.id, two.id)}
    assert by_subject == {one.id: [200, 200, 201], two.id: [200, 200, 201]}, [r.get_json() for _s, r in results]
    for sid in (one.id, two.id):
        assert len({r.get_data() for s, r in results if s == sid}) == 1
        assert _count(ScoreAdjustment, subject_id=sid) == 1
