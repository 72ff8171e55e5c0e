"""Warnings for staff: the list (scoped, ordered, CSV), acknowledge, handle with outcome and note, kind hooks."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.db import db
from backend.errors import DomainError
from backend.models import Warning, utcnow
from backend.services.core.warnings import raise_warning
from backend.services.oversight import warning_handling
from tests.factories import auth_header
from tests.support.field import subject, warnings_of


def _raise(sid: int, kind: str, severity: str = "medium", key: str = "p", **kw) -> int:
    with db.tx() as s:
        w, _ = raise_warning(s, subject(sid), kind, severity, f"{kind} 预警", period_key=key, **kw)
        return w.id


@pytest.fixture
def officer_h(client, world):
    return auth_header(client, "officerA")


def test_list_is_scoped_ordered_and_filterable(client, world, officer_h):
    a, b = world.subjects["A"].id, world.subjects["B"].id
    now = utcnow()
    late = _raise(a, "CHECKIN_MISSED", due_at=now - timedelta(hours=1))
    soon = _raise(a, "LEAVE_OVERDUE", due_at=now + timedelta(days=1))
    later = _raise(a, "SCORE_RED", "high", due_at=now + timedelta(days=2))
    handled = _raise(a, "GEOFENCE", key="old", due_at=now - timedelta(days=5))
    with db.tx() as s:
        warning_handling.mark_handled(s.get(Warning, handled), warning_handling.Actor(None, "system"), "resolved", "x")
    _raise(b, "CHECKIN_MISSED")
    got = client.get("/api/v1/staff/warnings", headers=officer_h).get_json()
    assert [w["id"] for w in got] == [late, soon, later, handled]
    assert [w["overdue"] for w in got] == [True, False, False, False]
    assert got[0]["subject_name"] == "对象A" and "id_number" not in str(got)
    only = client.get("/api/v1/staff/warnings?kind=SCORE_RED&severity=high", headers=officer_h).get_json()
    assert [w["id"] for w in only] == [later]
    assert [w["id"] for w in client.get("/api/v1/staff/warnings?overdue=true", headers=officer_h).get_json()] == [late]
    assert [w["id"] for w in client.get("/api/v1/staff/warnings?status=handled", headers=officer_h).get_json()] == [
        handled
    ]
    bureau_b = client.get("/api/v1/staff/warnings", headers=auth_header(client, "bureauB")).get_json()
    assert {w["subject_id"] for w in bureau_b} == {b}
    assert client.get(f"/api/v1/staff/warnings/{late}", headers=auth_header(client, "officerB")).status_code == 404
    bad = client.get("/api/v1/staff/warnings?date_from=2026-02-01&date_to=2026-01-01", headers=officer_h)
    assert bad.status_code == 400


def test_csv_export_is_streamed_with_masked_id_numbers(client, world, officer_h):
    _raise(world.subjects["A"].id, "CHECKIN_MISSED")
    resp = client.get("/api/v1/staff/warnings", headers={**officer_h, "Accept": "text/csv"})
    assert resp.status_code == 200 and resp.mimetype == "text/csv" and resp.is_streamed
    text = resp.get_data(as_text=True)
    number = world.subjects["A"].__dict__["_plain_id_number"]
    header, row = text.lstrip("\ufeff").splitlines()
    assert header.startswith("id_number_masked,id,subject_id,subject_name,kind")
    assert row.startswith(number[:3] + "*" * 11 + number[-4:]) and number not in text


def test_acknowledge_then_handle_with_outcome_and_note(client, world, officer_h):
    wid = _raise(world.subjects["A"].id, "CHECKIN_MISSED")
    url = f"/api/v1/staff/warnings/{wid}"
    ack = client.post(url + "/acknowledge", headers=officer_h)
    assert ack.status_code == 200 and ack.get_json()["status"] == "acknowledged"
    assert client.post(url + "/acknowledge", headers=officer_h).status_code == 200
    no_note = client.post(url + "/handle", json={"outcome": "resolved"}, headers=officer_h)
    assert no_note.status_code == 400
    done = client.post(url + "/handle", json={"outcome": "resolved", "note": "已电话联系"}, headers=officer_h)
    body = done.get_json()
    assert done.status_code == 200 and (body["status"], body["outcome"], body["note"]) == (
        "handled",
        "resolved",
        "已电话联系",
    )
    assert body["handled_by"] == world.users["officer_A"].id
    again = client.post(url + "/handle", json={"outcome": "resolved", "note": "重复"}, headers=officer_h)
    assert again.status_code == 200 and again.get_json()["note"] == "已电话联系"
    other = client.post(url + "/handle", json={"outcome": "confirmed", "note": "改"}, headers=officer_h)
    assert other.status_code == 409 and other.get_json()["code"] == "WARNING_ALREADY_HANDLED"
    late_ack = client.post(url + "/acknowledge", headers=officer_h)
    assert late_ack.status_code == 409 and late_ack.get_json()["code"] == "ILLEGAL_TRANSITION"
    bureau = client.post(
        url + "/handle", json={"outcome": "resolved", "note": "x"}, headers=auth_header(client, "bureauA")
    )
    # the officer handled it: not the bureau's, which decides only overdue items (escalation)
    assert bureau.status_code == 422 and bureau.get_json()["code"] == "NOT_THE_DECIDER"


def test_a_kind_hook_runs_in_the_handling_transaction_and_can_refuse(client, world, officer_h):
    calls = []

    @warning_handling.on_confirm("TEST_KIND")
    def _confirm(session, w, actor, note):
        if note == "拒绝":
            raise DomainError("UNPROCESSABLE")
        calls.append((w.id, actor.user_id, note))

    try:
        wid = _raise(world.subjects["A"].id, "TEST_KIND")
        url = f"/api/v1/staff/warnings/{wid}/handle"
        refused = client.post(url, json={"outcome": "confirmed", "note": "拒绝"}, headers=officer_h)
        assert refused.status_code == 422 and warnings_of(world.subjects["A"].id)[0].status == "open"
        resolved_only = client.post(url, json={"outcome": "confirmed", "note": "属实"}, headers=officer_h)
        assert resolved_only.status_code == 200 and calls == [(wid, world.users["officer_A"].id, "属实")]
        with pytest.raises(ValueError):
            warning_handling.on_confirm("TEST_KIND")(lambda *a: None)
    finally:
        warning_handling.HOOKS.pop("TEST_KIND", None)


def test_concurrent_raises_open_one_warning(world):
    sid = world.subjects["A"].id
    ids, errors = [], []

    def run():
        try:
            ids.append(_raise(sid, "CHECKIN_MISSED", key="2026-11-20"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            db.remove()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(ids)) == 1
    with db.tx() as s:
        assert len(s.scalars(select(Warning.id).where(Warning.subject_id == sid)).all()) == 1
