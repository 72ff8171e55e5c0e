"""Uploads that hold against misuse, over HTTP on both storage backends: bytes after the image, content that
is not the declared type, metadata that must not reach the derivatives, and the per-user quota.

Rules: docs/photos.md#trailing-data, docs/photos.md#derivatives-and-links, docs/photos.md#upload-quota.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
from datetime import datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import select, update

from backend import runtime
from backend.db import db
from backend.models import Upload, utcnow
from tests.evidence.test_uploads import declare, fetch
from tests.factories import auth_header
from tests.media.test_trailing import SECRET, XMP, a_video, a_zip, mpo, samsung_trailer
from tests.support.uploads import exif_bytes, jpeg, scene, send_bytes, sha, storage_backend, upload

TAKEN = datetime(2026, 11, 25, 9, 30)
MiB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def backend(request, client):
    with storage_backend(request.param):
        yield request.param


@pytest.fixture
def subject_h(client, world):
    return auth_header(client, "subjectA")


@contextlib.contextmanager
def quota(**limits):
    before = runtime.settings()
    runtime.configure(dataclasses.replace(before, **limits))
    try:
        yield
    finally:
        runtime.configure(before)


def codes(got: dict) -> list[str]:
    return [r["code"] for r in got["reasons"]]


def test_a_jpeg_with_a_zip_appended_is_suspect(backend, client, subject_h):
    photo = jpeg(taken=TAKEN)
    got = upload(client, subject_h, photo + a_zip())
    assert got["status"] == "suspect" and codes(got) == ["TRAILING_DATA"]
    reason = got["reasons"][0]
    assert reason["message"] and reason["message_en"]
    assert reason["detail"] == {"image_end": len(photo), "trailing_bytes": len(a_zip()), "kind": "zip"}
    assert {"display", "thumbnail"} <= set(got["derivatives"])  # an image still: a person reviews it


def test_an_mpo_a_motion_photo_and_a_samsung_trailer_are_accepted(backend, client, subject_h):
    photo = jpeg(taken=TAKEN)
    trailer = samsung_trailer([(0x0A30, b"MotionPhoto_Data", a_video())])
    for name, data in {"mpo": mpo(), "motion": photo + a_video(), "samsung": photo + trailer}.items():
        got = upload(client, subject_h, data)
        assert got["status"] == "accepted" and got["reasons"] == [], name


def test_content_other_than_the_declared_type_is_suspect(backend, client, subject_h):
    out = io.BytesIO()
    scene().save(out, "WEBP", exif=exif_bytes(taken=TAKEN))
    webp = out.getvalue()
    got = upload(client, subject_h, webp, content_type="image/jpeg")
    assert got["status"] == "suspect" and codes(got) == ["TYPE_MISMATCH"]
    assert got["reasons"][0]["detail"] == {"declared": "image/jpeg", "found": "image/webp"}
    assert upload(client, subject_h, webp, content_type="image/webp")["status"] == "accepted"


def test_derivatives_carry_no_comment_xmp_or_gps(backend, client, subject_h):
    out = io.BytesIO()
    scene().save(out, "JPEG", exif=exif_bytes(taken=TAKEN, gps=(30.0512, 119.9501)), comment=SECRET, xmp=XMP)
    got = upload(client, subject_h, out.getvalue())
    assert got["status"] == "accepted"
    for name in ("display", "thumbnail"):
        data = fetch(client, got["derivatives"][name]["url"])
        assert SECRET.encode() not in data and b"xmpmeta" not in data and b"Exif" not in data
        assert not {"comment", "xmp", "exif"} & set(Image.open(io.BytesIO(data)).info)


# --- the quota at declaration ------------------------------------------------------------------------------


def test_pending_declarations_are_limited_per_user(backend, client, subject_h):
    data = jpeg(taken=TAKEN)
    with quota(upload_quota_pending=3):
        first = declare(client, subject_h, data, client_id="7c1e0c4e-0000-4000-8000-00000000000a")
        assert first[0] == 201
        for _ in range(2):
            assert declare(client, subject_h, data)[0] == 201
        resp = client.post(
            "/api/v1/uploads",
            json={"purpose": "checkin", "content_type": "image/jpeg", "size_bytes": len(data), "sha256": sha(data)},
            headers=subject_h,
        )
        assert resp.status_code == 429 and resp.get_json()["code"] == "UPLOAD_QUOTA_EXCEEDED"
        assert resp.get_json()["message"] and "pending" in resp.get_json()["errors"]
        hours = runtime.settings().upload_pending_hours
        assert hours * 3600 - 60 < int(resp.headers["Retry-After"]) <= hours * 3600  # when the oldest expires
        # a replay of an earlier declaration is no new declaration
        again = declare(client, subject_h, data, client_id="7c1e0c4e-0000-4000-8000-00000000000a")
        assert again == (200, first[1])
        # another user has a quota of their own
        assert declare(client, auth_header(client, "subjectB"), data)[0] == 201
        # completing one frees its place
        assert send_bytes(client, subject_h, first[1], data)[0] in (200, 204)
        assert client.post(f"/api/v1/uploads/{first[1]['id']}/complete", headers=subject_h).status_code == 200
        assert declare(client, subject_h, data)[0] == 201
        assert declare(client, subject_h, data)[0] == 429
        # so does one whose time ran out, even before the expiry job has run
        with db.tx() as s:
            oldest = s.scalar(select(Upload).where(Upload.status == "pending").order_by(Upload.id).limit(1))
            oldest.upload_expires_at = utcnow() - timedelta(seconds=1)
        assert declare(client, subject_h, data)[0] == 201


def test_declared_bytes_per_hour_are_limited_per_user(backend, client, subject_h):
    with quota(upload_quota_bytes_per_hour=10 * MiB):
        assert declare(client, subject_h, jpeg(), size_bytes=4 * MiB)[0] == 201
        assert declare(client, subject_h, jpeg(), size_bytes=4 * MiB)[0] == 201
        status, body = declare(client, subject_h, jpeg(), size_bytes=3 * MiB)
        assert status == 429 and body["code"] == "UPLOAD_QUOTA_EXCEEDED" and "size_bytes" in body["errors"]
        assert declare(client, subject_h, jpeg(), size_bytes=2 * MiB)[0] == 201  # exactly the budget
        # the first 4 MiB leave the window 60 minutes after they were declared: that is the Retry-After
        with db.tx() as s:
            first = s.scalar(select(Upload).order_by(Upload.id).limit(1))
            first.created_at = utcnow() - timedelta(minutes=50)
        resp = client.post(
            "/api/v1/uploads",
            json={"purpose": "checkin", "content_type": "image/jpeg", "size_bytes": MiB, "sha256": sha(b"x")},
            headers=subject_h,
        )
        assert resp.status_code == 429 and 590 <= int(resp.headers["Retry-After"]) <= 600
        with db.tx() as s:
            s.execute(update(Upload).values(created_at=utcnow() - timedelta(minutes=61)))
        assert declare(client, subject_h, jpeg(), size_bytes=4 * MiB)[0] == 201


def test_the_default_quota_stops_a_burst_but_not_a_grid_workers_busy_day(client, world):
    settings = runtime.settings()
    assert (settings.upload_quota_pending, settings.upload_quota_bytes_per_hour) == (200, 3 * 1024**3)
    grid = auth_header(client, "gridA")
    # a busy hour: 150 field photos of 12 MB, all declared before any is sent (an offline phone catching up)
    for i in range(150):
        status, body = declare(client, grid, jpeg(), purpose="field", size_bytes=12 * 1000 * 1000)
        assert status == 201, (i, body)
    # the burst: 200 declarations of 30 MB within seconds from one subject stop at 3 GiB
    subject = auth_header(client, "subjectA")
    accepted, refused = 0, None
    for _ in range(200):
        resp = client.post(
            "/api/v1/uploads",
            json={"purpose": "checkin", "content_type": "image/jpeg", "size_bytes": 30 * MiB, "sha256": sha(b"x")},
            headers=subject,
        )
        if resp.status_code != 201:
            refused = resp
            break
        accepted += 1
    assert accepted == 102 and refused.status_code == 429  # 102 × 30 MiB = 3060 MiB ≤ 3 GiB < 103 × 30 MiB
    assert 3500 < int(refused.headers["Retry-After"]) <= 3600


def test_concurrent_declarations_cannot_slip_past_the_quota_together(client, subject_h, app):
    from concurrent.futures import ThreadPoolExecutor

    data = jpeg()
    body = {"purpose": "checkin", "content_type": "image/jpeg", "size_bytes": len(data), "sha256": sha(data)}

    def one(_):
        try:
            with app.test_client() as c:
                return c.post("/api/v1/uploads", json=body, headers=subject_h).status_code
        finally:
            db.remove()

    with quota(upload_quota_pending=3), ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(one, range(16)))
    assert statuses == [201] * 3 + [429] * 13
    with db.tx() as s:
        assert len(s.scalars(select(Upload.id)).all()) == 3
