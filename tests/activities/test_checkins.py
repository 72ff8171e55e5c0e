"""Check-ins over HTTP: schedule, photo verdict, events, time-zone edges, offline items, geofence, refusals."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from backend.db import db
from backend.models import AuditLog, IdempotencyRecord, OutboxMessage, Subject, Upload
from backend.models.checkin import CheckIn
from backend.services.activities import missed as checkin_jobs
from backend.services.core import audit
from tests.factories import auth_header, fire_together
from tests.support.activities import (
    AWAY,
    HOME,
    YEAR,
    check_in,
    checkin_body,
    declared_only,
    drain,
    events,
    headers_for,
    new_subject,
    placed,
    rules_of,
    sh,
    uploaded,
    warnings_of,
)
from tests.support.uploads import jpeg, sha


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _score(client, h) -> dict:
    resp = client.get("/api/v1/me/score", headers=h)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_a_subjects_day_schedule_photo_verdict_event_score(client, world, clock):
    subject = new_subject(world, level="normal", start_date=date(YEAR, 3, 1))
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 8, 0))
    sched = client.get("/api/v1/me/checkin-schedule", headers=h).get_json()
    assert sched["interval_days"] == 3 and sched["supervision_level"] == "normal" and sched["grade"] is None
    assert sched["current_period"]["start_date"] == f"{YEAR}-03-01"
    assert _t(sched["current_period"]["due_at"]) == sh(3, 3, 22)
    assert sched["current_period"]["checked"] is False and sched["late_period"] is None
    before = _score(client, h)["dimensions"]["compliance"]

    # the photo's checks have not run yet: the check-in waits for the verdict
    clock.set(sh(3, 2, 9, 30))
    uid = declared_only(client, h, sh(3, 2, 9, 29))
    resp = client.post("/api/v1/me/checkins", json=checkin_body(uid, sh(3, 2, 9, 29)), headers=h)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "pending" and body["outcome"] is None and body["inside_area"] is True
    assert rules_of(subject.id) == []
    drain()  # the intrinsic checks: accepted; the attachment checks; then the placement job
    photo = client.get(f"/api/v1/uploads/{uid}", headers=h).get_json()
    assert photo["status"] == "accepted" and photo["record"]["type"] == "checkin"
    got = client.get("/api/v1/me/checkins", headers=h).get_json()[0]
    assert (got["status"], got["outcome"], got["time_basis"]) == ("counted", "on_time", "received")
    assert _t(got["period_due_at"]) == sh(3, 3, 22)
    assert rules_of(subject.id) == ["CHECKIN_ONTIME"]
    assert _score(client, h)["dimensions"]["compliance"] == before + 1
    sched = client.get("/api/v1/me/checkin-schedule", headers=h).get_json()
    assert sched["current_period"]["checked"] is True and _t(sched["next_due_at"]) == sh(3, 6, 22)

    # a second check-in in the same period is recorded but counts for nothing
    extra = check_in(client, h, clock, sh(3, 3, 10, 0))
    assert (extra["status"], extra["outcome"]) == ("counted", "extra")
    assert rules_of(subject.id) == ["CHECKIN_ONTIME"]


def test_21_59_22_01_and_22_01_the_next_day(client, world, clock):
    """Strict (1-day) periods due 22:00 Shanghai: on time, late, and too late (missed) + late for the next day."""
    day = date(YEAR, 3, 2)
    a, b, c = (new_subject(world, level="strict", start_date=day) for _ in range(3))
    assert check_in(client, headers_for(client, a), clock, sh(3, 2, 21, 59))["outcome"] == "on_time"
    late = check_in(client, headers_for(client, b), clock, sh(3, 2, 22, 1))
    assert (late["outcome"], late["period_end"]) == ("late", day.isoformat())
    next_day = check_in(client, headers_for(client, c), clock, sh(3, 3, 22, 1))
    assert (next_day["outcome"], next_day["period_end"]) == ("late", f"{YEAR}-03-03")
    assert rules_of(a.id) == ["CHECKIN_ONTIME"] and rules_of(b.id) == ["CHECKIN_LATE"]
    # the nightly job after the 2nd's late window: only c missed the 2nd (never both late and missed)
    checkin_jobs.run_missed(sh(3, 3, 22, 5))
    assert rules_of(a.id) == ["CHECKIN_ONTIME"] and rules_of(b.id) == ["CHECKIN_LATE"]
    assert rules_of(c.id) == ["CHECKIN_LATE", "CHECKIN_MISSED"]
    missed = events(c.id, "CHECKIN_MISSED")[0]
    assert missed.source_id == f"{c.id}:{day.isoformat()}" and missed.points == -5
    assert len(warnings_of(c.id, "CHECKIN_MISSED")) == 1 and warnings_of(a.id, "CHECKIN_MISSED") == []
    assert checkin_jobs.run_missed(sh(3, 3, 22, 5))["missed"] == 0  # twice: nothing new


def test_an_offline_item_counts_at_its_capture_time_when_the_photo_agrees(client, world, clock):
    subject = new_subject(world, level="strict", start_date=date(YEAR, 3, 2))
    h = headers_for(client, subject)
    taken = sh(3, 2, 21, 30)
    clock.set(sh(3, 3, 7, 0))  # back online the next morning, within 24 hours
    uid = uploaded(client, h, taken)
    body = checkin_body(uid, taken, offline=True)
    got = placed(client, h, client.post("/api/v1/me/checkins", json=body, headers=h).get_json()["id"])
    assert (got["outcome"], got["time_basis"], got["period_end"]) == ("on_time", "captured", f"{YEAR}-03-02")
    # the same claim with a photo taken 30 minutes apart: receive time, late for the 2nd
    other = new_subject(world, level="strict", start_date=date(YEAR, 3, 2))
    h2 = headers_for(client, other)
    uid = uploaded(client, h2, taken - timedelta(minutes=30))
    got = client.post("/api/v1/me/checkins", json=checkin_body(uid, taken, offline=True), headers=h2).get_json()
    got = placed(client, h2, got["id"])
    assert (got["outcome"], got["time_basis"], got["period_end"]) == ("late", "received", f"{YEAR}-03-02")


def test_outside_the_district_warns_without_a_penalty_and_a_confirmation_penalises(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    inside = check_in(client, h, clock, sh(3, 2, 9, 0), HOME)
    assert inside["inside_area"] is True and warnings_of(subject.id, "GEOFENCE") == []
    away = check_in(client, h, clock, sh(3, 3, 9, 0), AWAY)
    assert away["inside_area"] is False and away["distance_m"] > 100_000
    (warning,) = warnings_of(subject.id, "GEOFENCE")
    assert warning.details["checkin_id"] == away["id"] and warning.status == "open"
    assert "GEOFENCE_BREACH" not in rules_of(subject.id)
    officer = auth_header(client, "officerA")
    resp = client.post(
        f"/api/v1/staff/warnings/{warning.id}/handle",
        json={"outcome": "confirmed", "note": "未请假离开"},
        headers=officer,
    )
    assert resp.status_code == 200, resp.get_json()
    (breach,) = events(subject.id, "GEOFENCE_BREACH")
    assert breach.points == -20 and breach.confirmed_by == world.users["officer_A"].id
    assert breach.source_kind == "checkin" and breach.source_id == str(away["id"])


def test_a_dismissed_geofence_warning_penalises_nothing(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    check_in(client, h, clock, sh(3, 2, 9, 0), AWAY)
    (warning,) = warnings_of(subject.id, "GEOFENCE")
    officer = auth_header(client, "officerA")
    resp = client.post(
        f"/api/v1/staff/warnings/{warning.id}/handle",
        json={"outcome": "dismissed", "note": "定位漂移"},
        headers=officer,
    )
    assert resp.status_code == 200
    assert "GEOFENCE_BREACH" not in rules_of(subject.id)


def test_grade_moves_the_interval_and_a_pending_base_does_not(client, world, clock):
    clock.set(sh(3, 2, 9))
    pending = new_subject(world, level="normal")
    green = new_subject(world, level="normal", grade="green")
    red = new_subject(world, level="normal", grade="red")
    got = {
        name: client.get("/api/v1/me/checkin-schedule", headers=headers_for(client, s)).get_json()
        for name, s in (("pending", pending), ("green", green), ("red", red))
    }
    assert (got["pending"]["interval_days"], got["pending"]["grade_effect"]) == (3, None)
    assert (got["green"]["interval_days"], got["green"]["grade_effect"]) == (7, "looser")
    assert (got["red"]["interval_days"], got["red"]["grade_effect"]) == (1, "tighter")


def test_retries_and_refusals(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9, 0))
    uid = uploaded(client, h, sh(3, 2, 9, 0))
    body = checkin_body(uid, sh(3, 2, 9, 0))
    first = client.post("/api/v1/me/checkins", json=body, headers=h)
    again = client.post("/api/v1/me/checkins", json=body, headers=h)
    assert (first.status_code, again.status_code) == (201, 200) and first.get_json() == again.get_json()
    drain()
    assert len(events(subject.id)) == 1
    changed = client.post("/api/v1/me/checkins", json={**body, "accuracy_m": 99.0}, headers=h)
    assert (changed.status_code, changed.get_json()["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")

    def post(**over):
        resp = client.post("/api/v1/me/checkins", json={**checkin_body(uid, sh(3, 2, 9, 0)), **over}, headers=h)
        return resp.status_code, resp.get_json()["code"]

    assert post() == (422, "UPLOAD_ALREADY_ATTACHED")
    assert post(captured_at=sh(3, 2, 9, 30).isoformat()) == (422, "CAPTURED_AT_INVALID")
    assert post(captured_at=sh(2, 20, 9, 0).isoformat()) == (422, "CAPTURED_AT_TOO_OLD")
    assert post(captured_at="2027-03-02T09:00:00") == (400, "VALIDATION_FAILED")  # no offset
    assert post(latitude=91) == (400, "VALIDATION_FAILED")
    other = uploaded(client, auth_header(client, "subjectA"), sh(3, 2, 9, 0))
    assert post(upload_id=other) == (422, "UPLOAD_UNKNOWN")  # someone else's photo
    assert post(upload_id=other + 10_000) == (422, "UPLOAD_UNKNOWN")  # no such photo at all
    staff = client.post("/api/v1/me/checkins", json=body, headers=auth_header(client, "officerA"))
    assert staff.status_code == 403


def _last_audit_id() -> int:
    with db.new_session() as s:
        return s.scalar(select(func.max(AuditLog.id))) or 0


def _left_behind(checkin_id: int, upload_id: int, since: int) -> tuple[Upload, list[OutboxMessage], list[AuditLog]]:
    """The check-in's photo, its photo's attachment-check jobs, and the audit rows of both after row ``since``."""
    with db.new_session() as s:
        upload = s.get(Upload, upload_id)
        jobs = s.scalars(select(OutboxMessage).where(OutboxMessage.job == "evaluate_attachment")).all()
        rows = s.scalars(
            select(AuditLog)
            .where(AuditLog.id > since)
            .where(
                (AuditLog.target_type == "checkin") & (AuditLog.target_id == str(checkin_id))
                | (AuditLog.target_type == "upload")
                & (AuditLog.target_id == str(upload_id))
                & (AuditLog.action == "upload.attach")
            )
            .order_by(AuditLog.id)
        ).all()
        assert audit.verify(s).ok
        return upload, [j for j in jobs if j.payload["upload_id"] == upload_id], rows


def test_a_check_in_leaves_its_photo_attached_its_checks_queued_and_two_audit_rows(client, world, clock):
    """What one create writes, on each backend (PostgreSQL writes it in one statement of its own)."""
    subject = new_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9, 0))
    checked = uploaded(client, h, sh(3, 2, 9, 0))
    since = _last_audit_id()
    resp = client.post("/api/v1/me/checkins", json=checkin_body(checked, sh(3, 2, 9, 0)), headers=h)
    assert resp.status_code == 201, resp.get_json()
    made = resp.get_json()
    upload, jobs, rows = _left_behind(made["id"], checked, since)
    assert (upload.record_type, upload.record_id, upload.subject_id) == ("checkin", str(made["id"]), subject.id)
    assert upload.attached_at is not None and _t(upload.claim["captured_at"]) == sh(3, 2, 9, 0)
    assert (upload.claim["latitude"], upload.claim["longitude"]) == HOME
    assert len(jobs) == 1 and jobs[0].status == "pending"  # the attachment checks of a photo already checked
    assert [r.action for r in rows] == ["upload.attach", "checkin.create"]
    assert rows[0].details == {"record_type": "checkin", "record_id": str(made["id"]), "subject_id": subject.id}
    assert rows[1].details == {"kind": "checkin", "offline": False, "inside_area": True, "status": "pending"}
    assert rows[1].actor_id == rows[0].actor_id == subject.user_id and rows[1].id == rows[0].id + 1
    assert placed(client, h, made["id"])["status"] == "counted"

    # a photo whose own checks are still to run: no attachment checks are queued now (its verdict queues them)
    clock.set(sh(3, 3, 9, 0))
    waiting = declared_only(client, h, sh(3, 3, 9, 0), AWAY)
    since = _last_audit_id()
    resp = client.post("/api/v1/me/checkins", json=checkin_body(waiting, sh(3, 3, 9, 0), AWAY), headers=h)
    assert resp.status_code == 201 and resp.get_json()["inside_area"] is False
    upload, jobs, rows = _left_behind(resp.get_json()["id"], waiting, since)
    assert upload.record_id == str(resp.get_json()["id"]) and upload.status == "processing" and jobs == []
    assert [r.action for r in rows] == ["upload.attach", "checkin.create"] and rows[1].details["inside_area"] is False
    assert placed(client, h, resp.get_json()["id"])["status"] == "counted"  # its checks ran the attachment's too
    upload, jobs, _rows = _left_behind(resp.get_json()["id"], waiting, since)
    assert upload.status == "accepted" and upload.claim["latitude"] == AWAY[0] and jobs == []


def test_concurrent_duplicates_of_a_check_in_count_once(app, client, world, clock):
    """A check-in is its own idempotency record (subject, client id): duplicates racing it make one, all
    answered alike, and no copy of its answer (with the GPS) is kept in the idempotency records."""
    subject = new_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9, 0))
    body = checkin_body(uploaded(client, h, sh(3, 2, 9, 0)), sh(3, 2, 9, 0))
    results = fire_together(app, 6, lambda c: c.post("/api/v1/me/checkins", json=body, headers=h))
    assert sorted(r.status_code for r in results) == [200] * 5 + [201], [r.get_json() for r in results]
    assert len({r.get_data() for r in results}) == 1
    with db.new_session() as s:
        ids = s.scalars(select(CheckIn.id).where(CheckIn.subject_id == subject.id)).all()
        records = s.scalar(
            select(func.count())
            .select_from(IdempotencyRecord)
            .where(IdempotencyRecord.scope == "checkin", IdempotencyRecord.key == body["client_id"])
        )
    assert len(ids) == 1 and records == 0
    retry = client.post("/api/v1/me/checkins", json=body, headers=h)
    assert retry.status_code == 200 and retry.get_data() == results[0].get_data()
    drain()
    assert len(events(subject.id)) == 1


def test_a_retry_is_answered_alike_later_and_through_either_route(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9, 0))
    body = checkin_body(uploaded(client, h, sh(3, 2, 9, 0)), sh(3, 2, 9, 0))
    first = client.post("/api/v1/me/checkins", json=body, headers=h)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    drain()
    assert placed(client, h, first.get_json()["id"])["status"] == "counted"
    clock.set(sh(3, 12, 9, 0))  # ten days on: a new check-in with that capture time would be too old
    again = client.post("/api/v1/me/checkins", json=body, headers=h)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()  # the first answer (pending), not today's state
    synced = client.post("/api/v1/me/sync", json={"items": [{"kind": "checkin", "body": body}]}, headers=h)
    result = synced.get_json()["results"][0]
    assert (result["status"], result["replayed"], result["body"]) == (200, True, first.get_json())
    assert len(events(subject.id)) == 1


def test_a_rejected_photo_makes_the_check_in_invalid(client, world, clock):
    subject = new_subject(world, start_date=date(YEAR, 3, 2))
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9, 0))
    data = jpeg(taken=sh(3, 2, 9, 0).replace(tzinfo=None))[:2000]  # truncated
    d = client.post(
        "/api/v1/uploads",
        json={"purpose": "checkin", "content_type": "image/jpeg", "size_bytes": len(data), "sha256": sha(data)},
        headers=h,
    ).get_json()
    path = d["upload"]["url"].split("://", 1)[1].split("/", 1)[1]
    client.put("/" + path, data=data, headers={**h, "Content-Type": "image/jpeg"})
    client.post(f"/api/v1/uploads/{d['id']}/complete", headers=h)
    got = client.post("/api/v1/me/checkins", json=checkin_body(d["id"], sh(3, 2, 9, 0)), headers=h).get_json()
    assert got["status"] == "pending"
    drain()
    assert client.get(f"/api/v1/uploads/{d['id']}", headers=h).get_json()["status"] == "rejected"
    checkin_jobs.run_missed(sh(3, 2, 23, 0))
    with db.tx() as s:
        assert s.get(CheckIn, got["id"]).status == "invalid"
    assert rules_of(subject.id) == []


def test_location_history_is_for_staff_with_a_purpose_and_audited(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    check_in(client, h, clock, sh(3, 2, 9, 0))
    check_in(client, h, clock, sh(3, 5, 9, 0), AWAY)
    # uploads are dated by the real clock (today), check-ins by the test clock (next March): span both
    since = date.today() - timedelta(days=1)
    url = f"/api/v1/staff/subjects/{subject.id}/locations?date_from={since}&date_to={YEAR}-03-31"
    officer = auth_header(client, "officerA")
    resp = client.get(url, headers=officer)
    assert (resp.status_code, resp.get_json()["code"]) == (422, "PURPOSE_REQUIRED")
    resp = client.get(url + "&purpose=核查外出情况", headers=officer)
    assert resp.status_code == 200, resp.get_json()
    points = resp.get_json()
    assert [p["source"] for p in points].count("checkin") == 2
    assert {(p["latitude"], p["longitude"]) for p in points if p["source"] == "checkin"} == {HOME, AWAY}
    assert any(p["source"] == "upload" for p in points)  # the selfies' EXIF GPS
    with db.tx() as s:
        reads = select(AuditLog).where(AuditLog.action == "subject.read_locations").order_by(AuditLog.id)
        row = s.scalars(reads).all()[-1]
    assert row.purpose == "核查外出情况" and row.target_id == str(subject.id) and row.details["points"] == len(points)
    assert client.get(url + "&purpose=x", headers=auth_header(client, "gridA")).status_code == 403
    assert client.get(url + "&purpose=x", headers=auth_header(client, "officerB")).status_code == 404
    assert client.get(url + "&purpose=x", headers=h).status_code == 403


def test_a_released_subject_cannot_check_in_and_history_ranges_are_bounded(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 9, 0))
    uid = uploaded(client, h, sh(3, 2, 9, 0))
    with db.tx() as s:
        s.get(Subject, subject.id).status = "released"
    resp = client.post("/api/v1/me/checkins", json=checkin_body(uid, sh(3, 2, 9, 0)), headers=h)
    assert (resp.status_code, resp.get_json()["code"]) == (409, "SUBJECT_RELEASED")
    officer = auth_header(client, "officerA")
    url = f"/api/v1/staff/subjects/{subject.id}/locations?purpose=x"
    too_long = client.get(f"{url}&date_from={YEAR}-01-01&date_to={YEAR + 1}-01-02", headers=officer)
    backwards = client.get(f"{url}&date_from={YEAR}-03-02&date_to={YEAR}-03-01", headers=officer)
    assert too_long.get_json()["code"] == backwards.get_json()["code"] == "DATE_RANGE_INVALID"
