"""Offline sync: queued creates, each as if sent alone; duplicates, out-of-order batches, the offline rule."""

from __future__ import annotations

import uuid
from datetime import date

from backend.services.activities import missed
from tests.support.activities import (
    YEAR,
    checkin_body,
    events,
    headers_for,
    new_subject,
    placed,
    rules_of,
    sh,
    uploaded,
)


def sync(client, h, items):
    resp = client.post("/api/v1/me/sync", json={"items": items}, headers=h)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["results"]


def queued_checkin(client, h, taken, **over) -> dict:
    """A check-in made offline at ``taken``: its photo uploaded once the phone is back online."""
    return {"kind": "checkin", "body": checkin_body(uploaded(client, h, taken), taken, **over)}


def test_out_of_order_and_duplicate_batches_count_once_and_by_capture_time(client, world, clock):
    subject = new_subject(world, level="normal", start_date=date(YEAR, 3, 1))  # periods 1–3, 4–6, 7–9 March …
    h = headers_for(client, subject)
    clock.set(sh(3, 4, 8))  # back online: photos uploaded, then the queue synced
    first = [queued_checkin(client, h, sh(3, 3, 21))]  # taken 11 h ago, in the period of 1–3 March
    second = [queued_checkin(client, h, sh(3, 4, 7))]  # taken an hour ago, in the period of 4–6 March
    # the later batch arrives first, then the earlier one, then both again
    b = sync(client, h, second)[0]
    a = sync(client, h, first)[0]
    assert (a["status"], b["status"], a["body"]["status"]) == (201, 201, "pending")
    pa, pb = placed(client, h, a["body"]["id"]), placed(client, h, b["body"]["id"])
    assert (pa["outcome"], pa["time_basis"]) == ("on_time", "captured")
    assert (pa["period_start"], pa["period_end"]) == (f"{YEAR}-03-01", f"{YEAR}-03-03")
    assert (pb["outcome"], pb["period_end"]) == ("on_time", f"{YEAR}-03-06")
    again = sync(client, h, first + second)
    assert [(r["status"], r["replayed"]) for r in again] == [(200, True), (200, True)]
    assert [r["body"] for r in again] == [a["body"], b["body"]]
    assert rules_of(subject.id) == ["CHECKIN_ONTIME", "CHECKIN_ONTIME"]

    # queued 35 hours: the capture time no longer counts; the receive time does (not in its own period)
    clock.set(sh(3, 9, 21))
    stale = queued_checkin(client, h, sh(3, 9, 21))
    clock.set(sh(3, 11, 8))
    c = placed(client, h, sync(client, h, [stale])[0]["body"]["id"])
    assert (c["time_basis"], c["outcome"], c["period_end"]) == (
        "received",
        "on_time",
        f"{YEAR}-03-12",
    )
    missed.run_missed(sh(3, 10, 22, 5))
    assert events(subject.id, "CHECKIN_MISSED")[0].source_id == f"{subject.id}:{YEAR}-03-09"


def test_a_photo_that_disagrees_with_the_claim_counts_at_the_receive_time(client, world, clock):
    subject = new_subject(world, level="strict", start_date=date(YEAR, 3, 2))
    h = headers_for(client, subject)
    clock.set(sh(3, 3, 8))
    uid = uploaded(client, h, sh(3, 2, 21, 0))
    item = {"kind": "checkin", "body": checkin_body(uid, sh(3, 2, 21, 40))}  # photo taken 40 min earlier
    got = placed(client, h, sync(client, h, [item])[0]["body"]["id"])
    assert (got["time_basis"], got["outcome"], got["period_end"]) == ("received", "late", f"{YEAR}-03-02")


def test_one_bad_item_never_blocks_the_others(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9))
    good_request = {
        "client_id": str(uuid.uuid4()),
        "type": "leave",
        "destination": "杭州",
        "reason": "就医",
        "start_date": f"{YEAR}-03-05",
        "end_date": f"{YEAR}-03-06",
    }
    items = [
        {"kind": "teleport", "body": {"client_id": "x"}},
        {"kind": "request", "body": {**good_request, "client_id": None}},
        queued_checkin(client, h, sh(3, 2, 8, 55), latitude=200),
        {"kind": "request", "body": {**good_request, "client_id": str(uuid.uuid4()), "start_date": f"{YEAR}-03-01"}},
        "not an object",
        {"kind": "request", "body": good_request},
        queued_checkin(client, h, sh(3, 2, 8, 58)),
        {"kind": "return", "body": checkin_body(1, sh(3, 2, 9))},
    ]
    results = sync(client, h, items)
    got = [(r["index"], r["status"], (r["error"] or {}).get("code")) for r in results]
    assert got == [
        (0, 422, "SYNC_KIND_UNKNOWN"),
        (1, 422, "CLIENT_ID_REQUIRED"),
        (2, 400, "VALIDATION_FAILED"),
        (3, 422, "START_IN_PAST"),
        (4, 422, "SYNC_KIND_UNKNOWN"),
        (5, 201, None),
        (6, 201, None),
        (7, 400, "VALIDATION_FAILED"),  # a return needs the leave's id
    ]
    assert results[2]["error"]["errors"] == {
        "latitude": ["Must be greater than or equal to -90 and less than or equal to 90."]
    }
    # the request sent alone before (same client id and body) is the same request: replayed
    alone = client.post("/api/v1/me/requests", json=good_request, headers=h)
    assert alone.status_code == 200 and alone.get_json() == results[5]["body"]


def test_a_return_report_and_the_batch_limit(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9))
    body = {
        "type": "leave",
        "destination": "杭州",
        "reason": "就医",
        "start_date": f"{YEAR}-03-03",
        "end_date": f"{YEAR}-03-04",
    }
    r = client.post("/api/v1/me/requests", json=body, headers=h).get_json()
    from tests.factories import auth_header

    client.post(
        f"/api/v1/staff/requests/{r['id']}/decision",
        json={"decision": "approve"},
        headers=auth_header(client, "officerA"),
    )
    clock.set(sh(3, 5, 8))
    uid = uploaded(client, h, sh(3, 4, 20))
    res = sync(client, h, [{"kind": "return", "request_id": r["id"], "body": checkin_body(uid, sh(3, 4, 20))}])[0]
    assert res["status"] == 201 and res["body"]["status"] == "returned"
    assert "LEAVE_RETURN_ONTIME" in rules_of(subject.id)  # queued offline on the 4th: on time
    too_many = client.post("/api/v1/me/sync", json={"items": [{"kind": "checkin", "body": {}}] * 101}, headers=h)
    assert (too_many.status_code, too_many.get_json()["code"]) == (422, "SYNC_BATCH_TOO_LARGE")
    assert client.post("/api/v1/me/sync", json={"items": []}, headers=h).status_code == 400
    assert (
        client.post("/api/v1/me/sync", json={"items": []}, headers=auth_header(client, "officerA")).status_code == 403
    )
