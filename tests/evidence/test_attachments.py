"""Attachment checks (through a small test-only record), staff review, original links and retention."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import ImageEnhance
from sqlalchemy import select

from backend.db import db
from backend.errors import DomainError
from backend.models import AuditLog, Upload, UploadHashBand, User, Warning, utcnow
from backend.services.evidence import attachments, retention
from backend.services.identity.auth import actor_for
from backend.storage import get_storage
from media.claims import CHECKIN_TIME_TOLERANCE, Claim
from tests.factories import auth_header
from tests.support.uploads import jpeg, run_outbox, scene, sha, storage_backend, upload

SH = ZoneInfo("Asia/Shanghai")
TAKEN = datetime(2026, 11, 25, 9, 30, tzinfo=SH)
HOME = (30.2741, 120.1551)
_record_ids = itertools.count(1)


def attach_to_test_record(username: str, upload_id: int, claim: Claim) -> None:
    """A stand-in for the check-in/report/request creates of later issues: one record, one photo."""
    with db.tx() as s:
        user = s.scalar(select(User).where(User.username == username))
        actor = actor_for(s, user)
        subject_id = actor.subject_id
        if subject_id is None:  # a grid worker's or officer's photo of a subject (district A)
            from backend.models import Subject

            subject_id = s.scalar(select(Subject.id).where(Subject.name == "对象A"))
        attachments.attach(
            s,
            actor,
            upload_id,
            subject_id=subject_id,
            record_type="test_record",
            record_id=next(_record_ids),
            claim=claim,
        )


def checkin_claim(at: datetime = TAKEN, where: tuple[float, float] = HOME) -> Claim:
    return Claim(captured_at=at, latitude=where[0], longitude=where[1], time_tolerance=CHECKIN_TIME_TOLERANCE)


@pytest.fixture
def subject_h(client, world):
    return auth_header(client, "subjectA")


#: "service" evidence: a check-in selfie would also get the face check of issue 7, which is not under test here
PURPOSE = "service"


def photo(im=None, taken: datetime | None = TAKEN, gps=HOME, **kw) -> bytes:
    return jpeg(im, taken=taken.replace(tzinfo=None) if taken else None, gps=gps, **kw)


def attach(client, headers, data: bytes, claim: Claim, username: str = "subjectA") -> dict:
    uid = upload(client, headers, data, purpose=PURPOSE)["id"]
    attach_to_test_record(username, uid, claim)
    return client.get(f"/api/v1/uploads/{uid}", headers=headers).get_json()


def codes(got: dict) -> list[str]:
    return [r["code"] for r in got["reasons"]]


def test_a_matching_photo_is_accepted_when_attached(client, subject_h):
    got = attach(client, subject_h, photo(), checkin_claim(TAKEN + timedelta(minutes=4), (30.2760, 120.1560)))
    assert got["status"] == "accepted" and got["review"] is None
    assert got["record"]["type"] == "test_record"


def test_exif_gps_far_from_the_claim_is_a_gps_mismatch(client, subject_h):
    got = attach(client, subject_h, photo(gps=(30.30, 120.20)), checkin_claim())
    assert got["status"] == "suspect" and codes(got) == ["GPS_MISMATCH"]
    assert 4000 < got["reasons"][0]["detail"]["distance_m"] < 6000
    assert got["review"]["status"] == "open"


def test_a_capture_time_a_day_old_is_a_time_mismatch(client, subject_h):
    got = attach(client, subject_h, photo(taken=TAKEN - timedelta(days=1)), checkin_claim())
    assert codes(got) == ["CAPTURE_TIME_MISMATCH"] and got["reasons"][0]["detail"]["minutes"] == 1440
    report = Claim(captured_at=TAKEN, time_tolerance=timedelta(hours=48))  # a report allows 48 hours
    got = attach(client, subject_h, photo(scene(seed=5), taken=TAKEN - timedelta(days=1)), report)
    assert got["status"] == "accepted"


def test_the_same_photo_resized_and_reencoded_is_a_duplicate(client, subject_h):
    first = attach(client, subject_h, photo(scene(seed=11, size=(1600, 1200))), checkin_claim())
    assert first["status"] == "accepted"
    again = scene(seed=11, size=(1600, 1200)).resize((1000, 750))
    got = attach(client, subject_h, photo(again, quality=70), checkin_claim())
    assert codes(got) == ["DUPLICATE_PHOTO"] and got["reasons"][0]["detail"]["upload_id"] == first["id"]
    stripped = attach(client, subject_h, jpeg(again, quality=60, exif=b""), checkin_claim())
    assert set(codes(stripped)) == {"NO_EXIF", "DUPLICATE_PHOTO"}  # no capture facts: no sign of a new exposure


def test_two_photos_of_one_scene_a_minute_apart_are_not_duplicates(client, subject_h):
    a = scene(seed=21, size=(1200, 900))
    b = ImageEnhance.Brightness(scene(seed=21, size=(1200, 900), shift=24)).enhance(0.96)
    from media.checks import inspect
    from media.phash import distance

    near = distance(inspect(photo(a)).phash, inspect(photo(b)).phash)
    assert near <= attachments.DUPLICATE_DISTANCE  # alike enough to be one picture by the hash alone …
    first = attach(client, subject_h, photo(a), checkin_claim())
    later = TAKEN + timedelta(minutes=1)
    got = attach(client, subject_h, photo(b, taken=later), checkin_claim(later))
    assert first["status"] == got["status"] == "accepted"  # … but the capture times show a new exposure
    other = attach(client, subject_h, photo(scene(seed=99, size=(1200, 900))), checkin_claim())
    assert other["status"] == "accepted"  # a different photo is far by hash


def test_duplicates_are_found_by_an_indexed_query_per_subject(client, subject_h, world):
    first = attach(client, subject_h, photo(scene(seed=31)), checkin_claim())
    with db.tx() as s:
        bands = s.scalars(select(UploadHashBand).where(UploadHashBand.upload_id == first["id"])).all()
        assert len(bands) == attachments.BANDS and {b.subject_id for b in bands} == {world.subjects["A"].id}
        if not db.is_sqlite:  # the planner may scan a tiny table anyway; ask whether the index serves the query
            s.connection().exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = s.connection().exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT upload_id FROM upload_hash_bands WHERE subject_id = 1 AND band = 2 AND value = 3"
            if db.is_sqlite
            else "EXPLAIN SELECT upload_id FROM upload_hash_bands WHERE subject_id = 1 AND band = 2 AND value = 3"
        )
        text = " ".join(str(r) for r in plan)
    assert "ix_upload_hash_bands_lookup" in text
    # another subject's identical photo is no duplicate of subject A's
    other = auth_header(client, "subjectB")
    uid = upload(client, other, photo(scene(seed=31)), purpose=PURPOSE)["id"]
    attach_to_test_record("subjectB", uid, checkin_claim())
    assert client.get(f"/api/v1/uploads/{uid}", headers=other).get_json()["status"] == "accepted"


def test_an_upload_attaches_once_and_only_when_usable(client, subject_h):
    got = upload(client, subject_h, photo(), purpose=PURPOSE)
    attach_to_test_record("subjectA", got["id"], checkin_claim())
    with pytest.raises(DomainError) as err:
        attach_to_test_record("subjectA", got["id"], checkin_claim())
    assert err.value.code == "UPLOAD_ALREADY_ATTACHED" and err.value.status == 422
    rejected = upload(client, subject_h, photo()[:500], purpose=PURPOSE)
    with pytest.raises(DomainError) as err:
        attach_to_test_record("subjectA", rejected["id"], checkin_claim())
    assert err.value.code == "UPLOAD_NOT_ATTACHABLE" and err.value.status == 422
    mine = upload(client, subject_h, photo(scene(seed=4)), purpose=PURPOSE)
    with pytest.raises(DomainError) as err:
        attach_to_test_record("subjectB", mine["id"], checkin_claim())
    assert err.value.code == "UPLOAD_UNKNOWN"


def test_a_record_learns_its_photo_was_rejected_after_it_was_attached(client, subject_h):
    seen = []
    attachments.on_verdict(lambda s, up: seen.append((up.id, up.status, up.record_type)))
    try:
        data = photo()[:-400]  # truncated: the checks will reject it
        resp = client.post(
            "/api/v1/uploads",
            json={"purpose": PURPOSE, "content_type": "image/jpeg", "size_bytes": len(data), "sha256": sha(data)},
            headers=subject_h,
        )
        uid = resp.get_json()["id"]
        client.put(f"/api/v1/uploads/{uid}/content", data=data, headers={**subject_h, "Content-Type": "image/jpeg"})
        client.post(f"/api/v1/uploads/{uid}/complete", headers=subject_h)
        attach_to_test_record("subjectA", uid, checkin_claim())
        assert seen == []
        run_outbox()
        assert seen == [(uid, "rejected", "test_record")]
    finally:
        attachments._verdict_hooks.pop()


def test_attaching_while_the_checks_run_defers_the_claim_checks(client, subject_h):
    data = photo(gps=(31.23, 121.47))  # Shanghai, not Hangzhou
    resp = client.post(
        "/api/v1/uploads",
        json={"purpose": PURPOSE, "content_type": "image/jpeg", "size_bytes": len(data), "sha256": sha(data)},
        headers=subject_h,
    )
    uid = resp.get_json()["id"]
    client.put(f"/api/v1/uploads/{uid}/content", data=data, headers={**subject_h, "Content-Type": "image/jpeg"})
    client.post(f"/api/v1/uploads/{uid}/complete", headers=subject_h)
    attach_to_test_record("subjectA", uid, checkin_claim())
    assert client.get(f"/api/v1/uploads/{uid}", headers=subject_h).get_json()["status"] == "processing"
    run_outbox()
    got = client.get(f"/api/v1/uploads/{uid}", headers=subject_h).get_json()
    assert got["status"] == "suspect" and codes(got) == ["GPS_MISMATCH"] and got["review"]["status"] == "open"


def test_suspect_evidence_is_reviewed_by_the_officer(client, subject_h, world):
    seen = []
    hooks_before = list(attachments._confirmed_hooks)
    attachments.on_confirmed(lambda s, up, actor: seen.append((up.id, actor.user_id)))
    try:
        got = attach(client, subject_h, photo(gps=(30.40, 120.30)), checkin_claim())
        uid = got["id"]
        with db.tx() as s:
            w = s.scalar(select(Warning).where(Warning.kind == "EVIDENCE_SUSPECT"))
            assert w.status == "open" and w.details["upload_id"] == uid
        url = f"/api/v1/staff/uploads/{uid}/review"
        body = {"decision": "confirm", "note": "照片地点与报到地点相距过远"}
        early = client.post(url, json=body, headers=auth_header(client, "bureauA"))  # the bureau: only once overdue
        assert early.status_code == 422 and early.get_json()["code"] == "NOT_THE_DECIDER"
        assert client.post(url, json=body, headers=auth_header(client, "officerB")).status_code == 404
        assert client.post(url, json=body, headers=subject_h).status_code == 403
        assert (
            client.post(url, json={"decision": "confirm"}, headers=auth_header(client, "officerA")).status_code == 400
        )
        officer = auth_header(client, "officerA")
        resp = client.post(url, json=body, headers=officer)
        assert resp.status_code == 200 and resp.get_json()["review"]["status"] == "confirmed"
        assert client.post(url, json=body, headers=officer).status_code == 200  # the same decision again
        resp = client.post(url, json={"decision": "clear", "note": "改判"}, headers=officer)
        assert resp.status_code == 409
        assert seen == [(uid, world.users["officer_A"].id)]
        with db.tx() as s:
            w = s.scalar(select(Warning).where(Warning.kind == "EVIDENCE_SUSPECT"))
            assert (w.status, w.outcome) == ("handled", "confirmed")
            assert (
                s.scalar(
                    select(AuditLog).where(AuditLog.action == "upload.review").order_by(AuditLog.id.desc()).limit(1)
                ).details["decision"]
                == "confirmed"
            )
    finally:
        attachments._confirmed_hooks[:] = hooks_before  # keep the hooks other features registered at import
    fine = attach(client, subject_h, photo(scene(seed=8)), checkin_claim())
    resp = client.post(f"/api/v1/staff/uploads/{fine['id']}/review", json=body, headers=officer)
    assert resp.status_code == 409 and resp.get_json()["code"] == "UPLOAD_NOT_UNDER_REVIEW"


def test_staff_read_originals_through_short_lived_audited_links(client, subject_h, world):
    data = photo()
    got = attach(client, subject_h, data, checkin_claim())
    url = f"/api/v1/staff/uploads/{got['id']}/original"
    officer = auth_header(client, "officerA")
    resp = client.get(url, headers=officer)
    assert resp.status_code == 422 and resp.get_json()["code"] == "PURPOSE_REQUIRED"
    for user, status in (("subjectA", 403), ("gridA", 403), ("officerB", 404), ("bureauB", 404), ("admin", 403)):
        assert client.get(url + "?purpose=x", headers=auth_header(client, user)).status_code == status, user
    link = client.get(url + "?purpose=复核照片证据", headers=officer).get_json()
    assert link["content_type"] == "image/jpeg"
    assert datetime.fromisoformat(link["expires_at"]) <= utcnow() + timedelta(seconds=301)
    original = client.get(link["url"].split("localhost", 1)[1])
    assert original.status_code == 200 and original.data == data  # the untouched original, GPS and all
    assert "attachment" in original.headers["Content-Disposition"]
    with db.tx() as s:
        row = s.scalar(
            select(AuditLog).where(AuditLog.action == "upload.read_original").order_by(AuditLog.id.desc()).limit(1)
        )
        assert (row.purpose, row.actor_id, row.target_id) == (
            "复核照片证据",
            world.users["officer_A"].id,
            str(got["id"]),
        )
    bureau = client.get(url + "?purpose=抽查", headers=auth_header(client, "bureauA"))
    assert bureau.status_code == 200
    with storage_backend("s3"):
        s3_up = attach(client, subject_h, photo(scene(seed=12)), checkin_claim())
        link = client.get(f"/api/v1/staff/uploads/{s3_up['id']}/original?purpose=复核", headers=officer).get_json()
        assert "X-Amz-Signature=" in link["url"] and "X-Amz-Expires=300" in link["url"]


def test_stale_uploads_expire_and_their_bytes_go(client, subject_h):
    data = photo()
    resp = client.post(
        "/api/v1/uploads",
        json={"purpose": PURPOSE, "content_type": "image/jpeg", "size_bytes": len(data), "sha256": sha(data)},
        headers=subject_h,
    )
    uid = resp.get_json()["id"]
    client.put(f"/api/v1/uploads/{uid}/content", data=data, headers={**subject_h, "Content-Type": "image/jpeg"})
    assert retention.expire_stale(utcnow())["expired"] == 0
    later = utcnow() + timedelta(hours=25)
    assert retention.expire_stale(later) == {"expired": 1, "bytes_deleted": 1, "incoming_cleared": 0}
    assert retention.expire_stale(later) == {"expired": 0, "bytes_deleted": 0, "incoming_cleared": 0}
    with db.tx() as s:
        up = s.get(Upload, uid)
        assert up.status == "expired" and get_storage().head(up.storage_key) is None
        assert (
            s.scalar(
                select(AuditLog).where(AuditLog.action == "upload.expire").order_by(AuditLog.id.desc()).limit(1)
            ).details["count"]
            == 1
        )
    resp = client.post(f"/api/v1/uploads/{uid}/complete", headers=subject_h)
    assert resp.status_code == 409 and resp.get_json()["code"] == "UPLOAD_EXPIRED"


def test_s3_incoming_objects_are_cleared_once_the_post_link_is_dead(client, subject_h):
    with storage_backend("s3"):
        got = upload(client, subject_h, photo(), purpose=PURPOSE)
        with db.tx() as s:
            key = s.get(Upload, got["id"]).incoming_key
        assert key is not None and get_storage().head(key) is None  # deleted at completion already
        later = utcnow() + timedelta(hours=1)
        assert retention.expire_stale(later)["incoming_cleared"] == 1
        with db.tx() as s:
            assert s.get(Upload, got["id"]).incoming_key is None


def test_retention_deletes_old_originals_but_keeps_open_cases(client, subject_h, settings):
    accepted = attach(client, subject_h, photo(scene(seed=41)), checkin_claim())
    suspect = attach(client, subject_h, photo(scene(seed=42), gps=(30.5, 120.5)), checkin_claim())
    held = attach(client, subject_h, photo(scene(seed=43)), checkin_claim())
    with db.tx() as s:
        retention.hold(s, held["id"])
    soon = utcnow() + timedelta(days=settings.original_retention_days - 1)
    assert retention.purge_originals(soon) == {"deleted": 0, "skipped": 0}
    later = utcnow() + timedelta(days=settings.original_retention_days + 1)
    assert retention.purge_originals(later) == {"deleted": 1, "skipped": 2}  # the suspect and the held one
    with db.tx() as s:
        rows = {u.id: u for u in s.scalars(select(Upload))}
    assert rows[accepted["id"]].original_deleted_at is not None
    assert get_storage().head(rows[accepted["id"]].storage_key) is None
    assert get_storage().head(rows[accepted["id"]].derivatives["display"]["key"]) is not None  # derivatives stay
    assert rows[suspect["id"]].original_deleted_at is None and rows[held["id"]].original_deleted_at is None
    officer = auth_header(client, "officerA")
    gone = client.get(f"/api/v1/staff/uploads/{accepted['id']}/original?purpose=x", headers=officer)
    assert gone.status_code == 409 and gone.get_json()["code"] == "UPLOAD_ORIGINAL_GONE"
    # the review closes the suspect case; releasing the hold closes the other: the clock starts then
    client.post(
        f"/api/v1/staff/uploads/{suspect['id']}/review", json={"decision": "clear", "note": "ok"}, headers=officer
    )
    with db.tx() as s:
        retention.release(s, held["id"])
    assert retention.purge_originals(soon) == {"deleted": 0, "skipped": 0}
    assert retention.purge_originals(later) == {"deleted": 2, "skipped": 0}
    with db.tx() as s:
        assert (
            s.scalar(
                select(AuditLog).where(AuditLog.action == "upload.purge_original").order_by(AuditLog.id.desc()).limit(1)
            )
            is not None
        )


def test_the_clean_up_jobs_are_scheduled_and_run(client, subject_h):
    from backend.services.core.jobruns import run_period
    from workers.schedules import SCHEDULES

    by_name = {s.name: s for s in SCHEDULES}
    upload(client, subject_h, photo(), purpose=PURPOSE)
    start = datetime.now(SH).replace(second=0, microsecond=0)
    assert run_period(by_name["expire_uploads"], start) == "ran"
    assert run_period(by_name["purge_originals"], start) == "ran"
    assert run_period(by_name["purge_originals"], start) != "ran"  # once per period
