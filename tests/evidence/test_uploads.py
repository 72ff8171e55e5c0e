"""The upload flow over HTTP on both storage backends: declare → send → complete → checks → read."""

from __future__ import annotations

import io
from datetime import datetime

import exifread
import pytest
from PIL import Image
from sqlalchemy import func, select

from backend.db import db
from backend.models import AuditLog, OutboxMessage, Upload
from tests.factories import auth_header
from tests.support.uploads import (
    PHOTOS,
    jpeg,
    run_outbox,
    scene,
    send_bytes,
    sha,
    storage_backend,
    upload,
)


@pytest.fixture(params=["local", "s3"])
def backend(request, client):
    with storage_backend(request.param):
        yield request.param


@pytest.fixture
def subject_h(client, world):
    return auth_header(client, "subjectA")


def declare(client, headers, data: bytes, **over) -> tuple[int, dict]:
    body = {"purpose": "checkin", "content_type": "image/jpeg", "size_bytes": len(data), "sha256": sha(data), **over}
    resp = client.post("/api/v1/uploads", json=body, headers=headers)
    return resp.status_code, resp.get_json()


def fetch(client, url: str) -> bytes:
    if url.startswith("http://localhost"):
        resp = client.get(url.split("localhost", 1)[1])
        assert resp.status_code == 200
        return resp.data
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 - the test's own S3 server
        return r.read()


def test_a_phone_photo_goes_through_the_whole_flow(backend, client, subject_h):
    data = jpeg(taken=datetime(2026, 11, 25, 9, 30), gps=(30.27, 120.15), orientation=6)
    status, declared = declare(client, subject_h, data)
    assert status == 201 and declared["status"] == "pending"
    send = declared["upload"]
    assert send["method"] == ("PUT" if backend == "local" else "POST")
    if backend == "s3":
        assert set(send["fields"]) >= {"key", "policy", "Content-Type"} and send["fields"]["key"].startswith(
            "incoming/"
        )
    assert send_bytes(client, subject_h, declared, data)[0] in (200, 204)

    resp = client.post(f"/api/v1/uploads/{declared['id']}/complete", headers=subject_h)
    assert resp.status_code == 200 and resp.get_json()["status"] == "processing"
    assert run_outbox() == ["done"]
    got = client.get(f"/api/v1/uploads/{declared['id']}", headers=subject_h).get_json()
    assert got["status"] == "accepted" and got["reasons"] == []
    f = got["facts"]
    assert (f["captured_at"], f["make"], f["model"], f["format"]) == (
        "2026-11-25T09:30:00+08:00",
        "Xiaomi",
        "Redmi K40",
        "jpeg",
    )
    assert f["latitude"] == pytest.approx(30.27, abs=1e-6) and (f["width"], f["height"]) == (640, 480)
    display = fetch(client, got["derivatives"]["display"]["url"])
    im = Image.open(io.BytesIO(display))
    assert im.size == (480, 640) and not exifread.process_file(io.BytesIO(display)) and "exif" not in im.info
    assert fetch(client, got["derivatives"]["thumbnail"]["url"])[:3] == b"\xff\xd8\xff"

    with db.tx() as s:
        up = s.get(Upload, declared["id"])
        assert up.storage_key.startswith("originals/") and declared["id"] != up.storage_key
        actions = set(s.scalars(select(AuditLog.action).where(AuditLog.target_id == str(up.id))))
    assert {"upload.declare", "upload.complete", "upload.check"} <= actions
    # completing again changes nothing and queues nothing
    assert (
        client.post(f"/api/v1/uploads/{declared['id']}/complete", headers=subject_h).get_json()["status"] == "accepted"
    )
    assert run_outbox() == []


def test_resending_identical_bytes_is_fine_and_different_bytes_conflict(backend, client, subject_h):
    data = jpeg(taken=datetime(2026, 11, 25, 9, 30))
    other = jpeg(scene(seed=9), taken=datetime(2026, 11, 25, 9, 30))
    other = other[: len(data)] if len(other) >= len(data) else other + b"\0" * (len(data) - len(other))
    _, declared = declare(client, subject_h, data)
    uid = declared["id"]
    if backend == "local":
        url = f"/api/v1/uploads/{uid}/content"
        put = lambda body: client.put(url, data=body, headers={**subject_h, "Content-Type": "image/jpeg"})  # noqa: E731
        assert put(other).status_code == 409  # not what was declared: nothing is stored
        assert client.post(f"/api/v1/uploads/{uid}/complete", headers=subject_h).status_code == 422
        assert put(data).status_code == 200 and put(data).status_code == 200
        assert client.post(f"/api/v1/uploads/{uid}/complete", headers=subject_h).status_code == 200
        assert put(data).status_code == 200
        assert put(other).get_json()["code"] == "UPLOAD_CONTENT_MISMATCH"
    else:
        assert send_bytes(client, subject_h, declared, other)[0] in (200, 204)  # S3 cannot check the hash
        resp = client.post(f"/api/v1/uploads/{uid}/complete", headers=subject_h)
        assert resp.status_code == 409 and resp.get_json()["code"] == "UPLOAD_CONTENT_MISMATCH"
        assert send_bytes(client, subject_h, declared, data)[0] in (200, 204)
        assert client.post(f"/api/v1/uploads/{uid}/complete", headers=subject_h).status_code == 200
        assert send_bytes(client, subject_h, declared, data)[0] in (200, 204)  # identical resend
        assert client.post(f"/api/v1/uploads/{uid}/complete", headers=subject_h).status_code == 200
        assert send_bytes(client, subject_h, declared, other)[0] in (200, 204)
        assert client.post(f"/api/v1/uploads/{uid}/complete", headers=subject_h).status_code == 409
    run_outbox()
    assert client.get(f"/api/v1/uploads/{uid}", headers=subject_h).get_json()["status"] == "accepted"
    with db.tx() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.job == "check_upload")) == 1


def test_an_oversize_body_is_refused(backend, client, subject_h):
    data = jpeg()
    _, declared = declare(client, subject_h, data)
    status, _ = send_bytes(client, subject_h, declared, data + b"\0" * 100)
    assert status == (413 if backend == "local" else 400)  # S3 answers EntityTooLarge itself
    resp = client.post(f"/api/v1/uploads/{declared['id']}/complete", headers=subject_h)
    assert resp.status_code == 422 and resp.get_json()["code"] == "UPLOAD_CONTENT_MISSING"


def test_declarations_are_validated(client, subject_h, settings):
    data = jpeg()
    assert declare(client, subject_h, data, size_bytes=settings.upload_max_bytes + 1)[1]["code"] == "UPLOAD_TOO_LARGE"
    assert declare(client, subject_h, data, size_bytes=settings.upload_max_bytes + 1)[0] == 413
    assert declare(client, subject_h, data, content_type="text/html")[0] == 415
    assert declare(client, subject_h, data, content_type="image/tiff")[0] == 415
    assert declare(client, subject_h, data, purpose="field")[1]["code"] == "UPLOAD_PURPOSE_NOT_ALLOWED"
    for bad in ({"size_bytes": 0}, {"size_bytes": "12"}, {"sha256": "abc"}, {"purpose": "selfie"}, {"sha256": None}):
        status, body = declare(client, subject_h, data, **bad)
        assert status == 400 and body["code"] == "VALIDATION_FAILED", bad
    resp = client.post("/api/v1/uploads", data="{", headers={**subject_h, "Content-Type": "application/json"})
    assert resp.status_code == 400


def test_a_declaration_with_client_id_is_idempotent(client, subject_h):
    data = jpeg()
    first = declare(client, subject_h, data, client_id="7c1e0c4e-0000-4000-8000-000000000001")
    again = declare(client, subject_h, data, client_id="7c1e0c4e-0000-4000-8000-000000000001")
    assert (first[0], again[0]) == (201, 200) and first[1] == again[1]
    other = declare(client, subject_h, jpeg(scene(seed=3)), client_id="7c1e0c4e-0000-4000-8000-000000000001")
    assert other[0] == 409
    with db.tx() as s:
        assert s.scalar(select(func.count()).select_from(Upload)) == 1


def test_a_png_declared_as_jpeg_is_judged_by_its_content(backend, client, subject_h):
    out = io.BytesIO()
    scene().save(out, "PNG")
    got = upload(client, subject_h, out.getvalue())
    assert got["facts"]["format"] == "png" and got["status"] == "suspect"
    assert [r["code"] for r in got["reasons"]] == ["TYPE_MISMATCH", "NO_EXIF"] and got["reasons"][0]["message"]


def test_a_malformed_file_is_rejected_with_a_reason_and_the_job_succeeds(backend, client, subject_h):
    data = (PHOTOS / "Pillow" / "truncated_jpeg.jpg").read_bytes()
    got = upload(client, subject_h, data)
    assert got["status"] == "rejected" and [r["code"] for r in got["reasons"]] == ["TRUNCATED_IMAGE"]
    assert got["derivatives"] == {}
    with db.tx() as s:
        assert set(s.scalars(select(OutboxMessage.status))) == {"done"}


def test_heic_from_an_iphone(client, subject_h):
    data = (PHOTOS / "metadata-extractor-images" / "exif-at-eof.heic").read_bytes()
    got = upload(client, subject_h, data, content_type="image/heic")
    assert got["status"] == "accepted" and got["facts"]["model"] == "iPhone 11 Pro"
    assert got["facts"]["captured_at"] == "2020-05-04T18:39:11-04:00"


def test_completing_before_the_bytes_arrive_and_put_on_s3(client, subject_h):
    data = jpeg()
    _, declared = declare(client, subject_h, data)
    resp = client.post(f"/api/v1/uploads/{declared['id']}/complete", headers=subject_h)
    assert resp.status_code == 422 and resp.get_json()["code"] == "UPLOAD_CONTENT_MISSING"
    with storage_backend("s3"):
        _, on_s3 = declare(client, subject_h, data)
        resp = client.put(f"/api/v1/uploads/{on_s3['id']}/content", data=data, headers=subject_h)
        assert resp.status_code == 404  # with S3 the bytes never pass through this server


def test_uploads_are_private_to_their_owner_and_the_staff_of_the_subject(client, world, subject_h):
    data = jpeg(taken=datetime(2026, 11, 25, 9, 30), gps=(30.27, 120.15))
    got = upload(client, subject_h, data)
    uid = got["id"]
    for user in ("subjectB", "gridA", "officerB", "bureauB"):
        resp = client.get(f"/api/v1/uploads/{uid}", headers=auth_header(client, user))
        assert resp.status_code == 404, user
    assert client.get(f"/api/v1/uploads/{uid}", headers=auth_header(client, "admin")).status_code == 403
    officer = auth_header(client, "officerA")
    seen = client.get(f"/api/v1/uploads/{uid}", headers=officer).get_json()
    assert seen["facts"]["latitude"] is None and seen["facts"]["location_withheld"] is True
    seen = client.get(f"/api/v1/uploads/{uid}?purpose=核实报到地点", headers=officer).get_json()
    assert seen["facts"]["latitude"] == pytest.approx(30.27, abs=1e-6)
    with db.tx() as s:
        row = s.scalar(
            select(AuditLog).where(AuditLog.action == "upload.read_location").order_by(AuditLog.id.desc()).limit(1)
        )
        assert row.purpose == "核实报到地点" and row.actor_id == world.users["officer_A"].id
    resp = client.put(f"/api/v1/uploads/{uid}/content", data=data, headers=auth_header(client, "subjectB"))
    assert resp.status_code == 404
    assert client.get("/api/v1/files/not-a-token").status_code == 404


def test_the_checks_run_in_a_real_worker(client, subject_h, worker_process):
    from tests.conftest import wait_for

    data = jpeg(taken=datetime(2026, 11, 25, 9, 30))
    _, declared = declare(client, subject_h, data)
    send_bytes(client, subject_h, declared, data)
    client.post(f"/api/v1/uploads/{declared['id']}/complete", headers=subject_h)
    url = f"/api/v1/uploads/{declared['id']}"
    got = wait_for(lambda: (r := client.get(url, headers=subject_h).get_json())["status"] != "processing" and r)
    assert got["status"] == "accepted" and got["derivatives"]["display"]["width"] == 640


def test_storage_down_is_a_503_and_the_checks_wait_for_it(client, subject_h):
    import dataclasses

    from backend import runtime
    from backend.services.evidence.checks import check_upload

    data = jpeg(taken=datetime(2026, 11, 25, 9, 30))
    with storage_backend("s3"):
        _, declared = declare(client, subject_h, data)
        send_bytes(client, subject_h, declared, data)
        up = runtime.settings()
        runtime.configure(dataclasses.replace(up, s3_endpoint="http://127.0.0.1:9"))  # S3 unreachable
        try:
            resp = client.post(f"/api/v1/uploads/{declared['id']}/complete", headers=subject_h)
            assert resp.status_code == 503 and resp.headers["Retry-After"] == "10"
            assert resp.get_json()["code"] == "SERVICE_UNAVAILABLE"
        finally:
            runtime.configure(up)
        assert client.post(f"/api/v1/uploads/{declared['id']}/complete", headers=subject_h).status_code == 200
        runtime.configure(dataclasses.replace(up, s3_endpoint="http://127.0.0.1:9"))
        try:
            with pytest.raises(Exception):  # noqa: B017 - a transient error: the job fails and is retried
                run_outbox()
        finally:
            runtime.configure(up)
        with db.tx() as s:
            assert s.get(Upload, declared["id"]).status == "processing"
        assert run_outbox() == ["done"]
        with db.tx() as s:  # the handler itself is idempotent: a second run changes nothing
            before = s.get(Upload, declared["id"])
            snapshot = (before.status, before.checked_at, dict(before.facts))
            check_upload(s, {"upload_id": declared["id"]})
            check_upload(s, {"upload_id": 987654})  # a missing row is nothing to do
        with db.tx() as s:
            after = s.get(Upload, declared["id"])
            assert (
                (after.status, after.checked_at, dict(after.facts))
                == snapshot
                == ("accepted", snapshot[1], snapshot[2])
            )
