"""Grid field reports over HTTP: scope, photos through the evidence pipeline, classification, scoring, review."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from backend.db import db
from backend.models import AuditLog, IdempotencyRecord, Upload, utcnow
from tests.factories import auth_header
from tests.support.field import events, field_photo, field_upload, notifications_of, post_report, warnings_of
from tests.support.uploads import upload


@pytest.fixture
def grid_h(client, world):
    return auth_header(client, "gridA")


@pytest.fixture
def officer_h(client, world):
    return auth_header(client, "officerA")


def test_positive_report_is_classified_and_earns_grid_positive_once(client, world, grid_h):
    sid = world.subjects["A"].id
    resp, body = post_report(client, grid_h, sid, "王某今天在小区帮助社区完成垃圾分类工作")
    assert resp.status_code == 201, resp.get_json()
    got = resp.get_json()
    assert got["polarity"] == "positive" and got["status"] == "recorded"
    assert got["categories"] == ["helping_others", "volunteering"]
    assert [h["keyword"] for h in got["hits"]] == ["帮助", "垃圾分类"]
    assert "id_number" not in str(got)
    replay = client.post("/api/v1/grid/field-reports", json=body, headers=grid_h)
    assert replay.status_code == 200 and replay.get_json() == got
    with db.tx() as s:  # 30 days later the idempotency record is gone: the client_id still finds the report
        s.execute(delete(IdempotencyRecord))
    late = client.post("/api/v1/grid/field-reports", json=body, headers=grid_h)
    assert late.status_code == 201 and late.get_json()["id"] == got["id"]
    [event] = events(sid, "GRID_POSITIVE")
    assert (event.source_kind, event.source_id, event.points) == ("field_report", str(got["id"]), 2)
    with db.tx() as s:
        photo = s.get(Upload, body["upload_ids"][0])
        assert (photo.record_type, photo.record_id, photo.status) == ("field_report", str(got["id"]), "accepted")


def test_grid_worker_cannot_report_on_another_grids_subject(client, world, grid_h):
    resp, _ = post_report(client, grid_h, world.subjects["B"].id, "王某在帮助邻居")
    assert resp.status_code == 404 and resp.get_json()["code"] == "NOT_FOUND"
    ghost, _ = post_report(client, grid_h, 987_654, "王某在帮助邻居")
    assert ghost.status_code == 404 and ghost.get_json() == resp.get_json()
    own, _ = post_report(client, grid_h, world.subjects["A"].id, "王某在帮助邻居")
    rid = own.get_json()["id"]
    grid_b = auth_header(client, "gridB")
    assert client.get(f"/api/v1/grid/field-reports/{rid}", headers=grid_b).status_code == 404
    assert client.get("/api/v1/grid/field-reports", headers=grid_b).get_json() == []
    assert [r["id"] for r in client.get("/api/v1/grid/field-reports", headers=grid_h).get_json()] == [rid]


def test_negative_high_report_goes_to_the_officer_and_warns_at_once(client, world, grid_h, officer_h):
    sid = world.subjects["A"].id
    resp, _ = post_report(client, grid_h, sid, "王某昨晚在酒店门口与人打架,被派出所带走")
    report = resp.get_json()
    assert resp.status_code == 201 and report["polarity"] == "negative" and report["status"] == "pending_review"
    [w] = warnings_of(sid, "KEYWORD_HIGH")
    assert w.severity == "high" and w.status == "open" and {"kind": "field_report", "id": report["id"]} in w.evidence
    [note] = notifications_of(world.users["officer_A"].id, "warning")
    assert note.data["warning_id"] == w.id
    assert events(sid, "GRID_POSITIVE") == [] and events(sid, "GRID_NEGATIVE") == []
    inbox = client.get("/api/v1/staff/inbox", headers=officer_h).get_json()
    kinds = {(i["kind"], i["item_id"]) for i in inbox}
    assert ("negative_field_report", report["id"]) in kinds
    assert ("warning", w.id) not in kinds, "the KEYWORD_HIGH warning is the report's own work item"

    url = f"/api/v1/staff/field-reports/{report['id']}/review"
    done = client.post(url, json={"decision": "confirm", "note": "走访核实属实"}, headers=officer_h)
    assert done.status_code == 200 and done.get_json()["status"] == "confirmed"
    [neg] = events(sid, "GRID_NEGATIVE")
    assert (neg.points, neg.confirmed_by) == (-5, world.users["officer_A"].id)
    [w] = warnings_of(sid, "KEYWORD_HIGH")
    assert (w.status, w.outcome) == ("handled", "confirmed")
    again = client.post(url, json={"decision": "confirm", "note": "重复提交"}, headers=officer_h)
    assert again.status_code == 200 and len(events(sid, "GRID_NEGATIVE")) == 1
    other = client.post(url, json={"decision": "dismiss", "note": "改判"}, headers=officer_h)
    assert other.status_code == 409 and other.get_json()["code"] == "FIELD_REPORT_DECIDED"
    bureau = client.post(url, json={"decision": "dismiss", "note": "x"}, headers=auth_header(client, "bureauA"))
    # decided by the officer: not the bureau's, which decides only overdue items (escalation)
    assert bureau.status_code == 422 and bureau.get_json()["code"] == "NOT_THE_DECIDER"


def test_reports_of_one_day_share_a_warning_whose_handling_reviews_them(client, world, grid_h, officer_h):
    sid = world.subjects["A"].id
    first = post_report(client, grid_h, sid, "听说王某在家里聚赌")[0].get_json()
    second = post_report(client, grid_h, sid, "王某与人斗殴")[0].get_json()
    [w] = warnings_of(sid, "KEYWORD_HIGH")
    assert {e["id"] for e in w.evidence if e["kind"] == "field_report"} == {first["id"], second["id"]}
    resp = client.post(
        f"/api/v1/staff/warnings/{w.id}/handle", json={"outcome": "dismissed", "note": "误报"}, headers=officer_h
    )
    assert resp.status_code == 200 and resp.get_json()["outcome"] == "dismissed"
    for rid in (first["id"], second["id"]):
        got = client.get(f"/api/v1/staff/field-reports/{rid}", headers=officer_h).get_json()
        assert got["status"] == "dismissed" and got["reviewed_by"] == world.users["officer_A"].id
    assert events(sid, "GRID_NEGATIVE") == []


def test_need_and_negated_reports_wait_for_nobody(client, world, grid_h, officer_h):
    sid = world.subjects["A"].id
    need = post_report(client, grid_h, sid, "王某失业在家,夫妻经常吵架")[0].get_json()
    assert (need["polarity"], need["status"]) == ("need", "recorded")
    assert need["categories"] == ["family_conflict", "unemployment"]
    negated = post_report(client, grid_h, sid, "王某没有打架,只是和邻居聊天")[0].get_json()
    assert (negated["polarity"], negated["hits"]) == ("neutral", [])
    assert warnings_of(sid) == [] and events(sid) == []
    review = client.post(
        f"/api/v1/staff/field-reports/{need['id']}/review", json={"decision": "confirm", "note": "x"}, headers=officer_h
    )
    assert review.status_code == 409 and review.get_json()["code"] == "FIELD_REPORT_NOT_UNDER_REVIEW"


def test_a_suspect_photo_opens_its_review_and_a_confirmed_fraud_takes_the_points_back(client, world, grid_h, officer_h):
    sid = world.subjects["A"].id
    observed = utcnow() - timedelta(minutes=5)
    edited = field_upload(client, grid_h, field_photo(observed, software="Adobe Photoshop 25.0"))
    resp, _ = post_report(client, grid_h, sid, "王某在社区做志愿服务", photo=edited, observed_at=observed)
    report = resp.get_json()
    assert resp.status_code == 201 and report["polarity"] == "positive"
    [positive] = events(sid, "GRID_POSITIVE")
    upload = client.get(f"/api/v1/uploads/{edited['id']}", headers=grid_h).get_json()
    assert upload["status"] == "suspect"
    [w] = warnings_of(sid, "EVIDENCE_SUSPECT")
    inbox = client.get("/api/v1/staff/inbox", headers=officer_h).get_json()
    assert ("suspect_evidence", edited["id"]) in {(i["kind"], i["item_id"]) for i in inbox}
    resp = client.post(
        f"/api/v1/staff/uploads/{edited['id']}/review",
        json={"decision": "confirm", "note": "照片经过修图"},
        headers=officer_h,
    )
    assert resp.status_code == 200, resp.get_json()
    [positive] = events(sid, "GRID_POSITIVE")
    assert (positive.status, positive.status_ref) == ("revoked", f"upload:{edited['id']}")
    assert warnings_of(sid, "EVIDENCE_SUSPECT")[0].status == "handled"


def test_bad_reports_are_refused_with_their_codes(client, world, grid_h):
    sid = world.subjects["A"].id
    future = utcnow() + timedelta(hours=2)
    resp, _ = post_report(client, grid_h, sid, "王某在帮助邻居", observed_at=future)
    assert resp.status_code == 422 and resp.get_json()["code"] == "FIELD_REPORT_TIME_INVALID"
    other_purpose = upload(client, grid_h, field_photo(), purpose="service")
    resp, _ = post_report(client, grid_h, sid, "王某在帮助邻居", photo=other_purpose)
    assert resp.status_code == 422 and resp.get_json()["code"] == "FIELD_REPORT_PHOTO_INVALID"
    resp, body = post_report(client, grid_h, sid, "王某在帮助邻居")
    reused = client.post("/api/v1/grid/field-reports", json={**body, "client_id": "another"}, headers=grid_h)
    assert reused.status_code == 422 and reused.get_json()["code"] == "UPLOAD_ALREADY_ATTACHED"
    none = client.post("/api/v1/grid/field-reports", json={**body, "client_id": None, "upload_ids": []}, headers=grid_h)
    assert none.status_code == 422 and none.get_json()["code"] == "FIELD_REPORT_PHOTO_REQUIRED"
    bads = ({"upload_ids": None}, {"text": ""}, {"latitude": 91}, {"observed_at": "yesterday"}, {"longitude": None})
    for bad in bads:
        resp = client.post("/api/v1/grid/field-reports", json={**body, "client_id": None, **bad}, headers=grid_h)
        assert resp.status_code == 400, (bad, resp.get_json())


def test_staff_see_the_place_only_with_a_purpose_and_the_read_is_audited(client, world, grid_h, officer_h):
    report = post_report(client, grid_h, world.subjects["A"].id, "王某在帮助邻居")[0].get_json()
    plain = client.get(f"/api/v1/staff/field-reports/{report['id']}", headers=officer_h).get_json()
    assert plain["latitude"] is None and plain["longitude"] is None
    listed = client.get("/api/v1/staff/field-reports", headers=officer_h).get_json()
    assert [r["id"] for r in listed] == [report["id"]] and listed[0]["latitude"] is None
    url = f"/api/v1/staff/field-reports/{report['id']}?purpose=核实走访地点"
    placed = client.get(url, headers=officer_h).get_json()
    assert placed["latitude"] == pytest.approx(30.05)
    with db.tx() as s:
        row = s.scalar(
            select(AuditLog).where(AuditLog.action == "field_report.location").order_by(AuditLog.id.desc()).limit(1)
        )
        assert row.purpose == "核实走访地点" and row.actor_id == world.users["officer_A"].id
    assert (
        client.get(f"/api/v1/staff/field-reports/{report['id']}", headers=auth_header(client, "officerB")).status_code
        == 404
    )
    csv = client.get("/api/v1/staff/field-reports", headers={**officer_h, "Accept": "text/csv"})
    text = csv.get_data(as_text=True)
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    number = world.subjects["A"].__dict__["_plain_id_number"]
    assert number not in text and number[:3] + "*" * 11 + number[-4:] in text
