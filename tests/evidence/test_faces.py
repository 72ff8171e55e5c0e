"""Face verification over HTTP: enrolment, the check-in face check, review, deletion and release (issue 7).

Real photos (tests/faces, see its README) through the real pipeline: upload → intrinsic checks → check-in
(attachment) → the ``check_face`` outbox job with dlib's model → verdict, review and warnings.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import func, select

from backend import runtime
from backend.db import db
from backend.models import AuditLog, Upload, Warning
from backend.models.faces import FaceCheck, FaceReference
from backend.services.evidence import faces
from backend.storage import get_storage
from media import faces as face_model
from tests.factories import auth_header
from tests.media.test_faces import LANDSCAPE, small_face
from tests.support.uploads import jpeg, run_outbox, upload

FACES = Path(__file__).resolve().parents[1] / "faces"
SH = ZoneInfo("Asia/Shanghai")
HOME = (30.05, 119.96)  # inside district A's area
NOTICE = "2026-01-05T09:00:00+08:00"


@pytest.fixture
def hs(client, world) -> dict:
    return {u: auth_header(client, u) for u in ("officerA", "officerB", "bureauA", "subjectA")}


@pytest.fixture
def sid(world) -> int:
    return world.subjects["A"].id


def refs_url(subject_id: int) -> str:
    return f"/api/v1/staff/subjects/{subject_id}/face-references"


def enrolment_upload(client, headers: dict, data: bytes) -> int:
    up = upload(client, headers, data, purpose="enrolment")
    assert up["status"] in ("accepted", "suspect"), up  # the official portraits say Photoshop: suspect is fine
    return up["id"]


def enrol(client, headers: dict, subject_id: int, data: bytes, **extra):
    uid = enrolment_upload(client, headers, data)
    return client.post(
        refs_url(subject_id), json={"upload_id": uid, "notice_given_at": NOTICE, **extra}, headers=headers
    )


def photo(name: str) -> bytes:
    return (FACES / name).read_bytes()


def selfie(data: bytes) -> bytes:
    """The photo as a phone sends a selfie now: camera EXIF, capture time, GPS at home."""
    taken = datetime.now(SH).replace(tzinfo=None, microsecond=0)
    return jpeg(Image.open(io.BytesIO(data)).convert("RGB"), taken=taken, gps=HOME)


def check_in(client, app, headers: dict, data: bytes) -> dict:
    """Upload a selfie and check in with it over HTTP (POST /me/checkins); run the jobs, the face check last."""
    uid = upload(client, headers, selfie(data))["id"]
    body = {
        "client_id": str(uuid.uuid4()),
        "upload_id": uid,
        "latitude": HOME[0],
        "longitude": HOME[1],
        "accuracy_m": 10.0,
        "captured_at": datetime.now(SH).isoformat(),
    }
    resp = client.post("/api/v1/me/checkins", json=body, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    assert "done" in run_outbox()  # the attachment checks, which queue the face check
    assert "done" in run_outbox()  # the face check
    got = client.get(f"/api/v1/uploads/{uid}", headers=headers).get_json()
    got["checkin"] = resp.get_json()
    (got["face"],) = rows(FaceCheck, FaceCheck.upload_id == uid)
    return got


def codes(got: dict) -> list[str]:
    return [r["code"] for r in got["reasons"]]


_AUDIT_FLOOR = {"id": 0}


@pytest.fixture(autouse=True)
def _audit_floor(clean):
    """The audit log is never cleaned between tests (it is a chain): count only this test's rows."""
    _AUDIT_FLOOR["id"] = db.session.scalar(select(func.max(AuditLog.id))) or 0
    db.remove()


def rows(model, *where):
    if model is AuditLog:
        where = (*where, AuditLog.id > _AUDIT_FLOOR["id"])
    db.remove()  # a fresh session: nothing cached from before the jobs ran
    with db.tx() as s:
        return list(s.scalars(select(model).where(*where).order_by(*model.__table__.primary_key.columns)))


def test_obama_enrolled_matches_his_photos_and_flags_the_others(app, client, hs, sid):
    resp = enrol(client, hs["officerA"], sid, photo("obama.jpg"))
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["source"] == "enrolment" and resp.get_json()["face_box"]["width"] >= face_model.MIN_FACE_PX
    me = hs["subjectA"]
    for name in ("obama2.jpg", "obama3.jpg"):
        got = check_in(client, app, me, photo(name))
        assert got["status"] == "accepted" and codes(got) == [], (name, got["reasons"])
        assert got["face"].result == "MATCH" and 0.1 < got["face"].distance < 0.5, name
        assert got["face"].references_compared == 1
    biden = check_in(client, app, me, photo("biden.jpg"))
    assert biden["status"] == "suspect" and codes(biden) == ["FACE_MISMATCH"]
    assert biden["reasons"][0]["detail"]["distance"] > 0.6 and biden["reasons"][0]["detail"]["threshold"] == 0.6
    assert biden["face"].distance == biden["reasons"][0]["detail"]["distance"]  # stored with the verdict
    assert biden["review"]["status"] == "open"
    two = check_in(client, app, me, photo("two_people.jpg"))
    assert codes(two) == ["MULTIPLE_FACES"] and two["reasons"][0]["detail"]["faces"] == 2
    nobody = check_in(client, app, me, LANDSCAPE.read_bytes())
    assert codes(nobody) == ["NO_FACE"] and nobody["face"].faces_found == 0
    far = check_in(client, app, me, small_face())
    assert codes(far) == ["FACE_TOO_SMALL"] and far["reasons"][0]["detail"]["min_px"] == face_model.MIN_FACE_PX
    warned = rows(Warning, Warning.kind == "EVIDENCE_SUSPECT", Warning.subject_id == sid)
    assert len(warned) == 4  # one per suspect selfie, for the officer
    assert len(rows(AuditLog, AuditLog.action == "face.check")) == 6


def test_enrolment_needs_exactly_one_face_of_usable_size(client, hs, sid):
    cases = [
        (photo("two_people.jpg"), "FACE_REFERENCE_MULTIPLE_FACES"),
        (LANDSCAPE.read_bytes(), "FACE_REFERENCE_NO_FACE"),
        (small_face(), "FACE_REFERENCE_FACE_TOO_SMALL"),
    ]
    for data, code in cases:
        resp = enrol(client, hs["officerA"], sid, data)
        assert (resp.status_code, resp.get_json()["code"]) == (422, code)
    assert rows(FaceReference) == []
    refused = rows(AuditLog, AuditLog.action == "face.reference.refuse")
    assert sorted(r.details["code"] for r in refused) == sorted(c for _d, c in cases)


def test_who_may_enrol_which_photos(client, hs, sid, world):
    officer = hs["officerA"]
    uid = enrolment_upload(client, officer, photo("obama.jpg"))
    body = {"upload_id": uid, "notice_given_at": NOTICE}
    assert client.post(refs_url(sid), json=body, headers=hs["subjectA"]).status_code == 403  # never their own
    assert client.post(refs_url(sid), json=body, headers=hs["officerB"]).status_code == 404  # not their subject
    assert client.post(refs_url(world.subjects["B"].id), json=body, headers=officer).status_code == 404
    bureau_upload = enrolment_upload(client, hs["bureauA"], photo("obama2.jpg"))
    resp = client.post(refs_url(sid), json={**body, "upload_id": bureau_upload}, headers=officer)
    assert resp.get_json()["code"] == "FACE_REFERENCE_UPLOAD_INVALID"  # someone else's upload
    selfie_id = upload(client, hs["subjectA"], selfie(photo("obama2.jpg")))["id"]
    resp = client.post(refs_url(sid), json={**body, "upload_id": selfie_id}, headers=officer)
    assert resp.get_json()["code"] == "FACE_REFERENCE_UPLOAD_INVALID"  # a selfie nobody cleared
    future = (datetime.now(SH) + timedelta(days=1)).isoformat()
    resp = client.post(refs_url(sid), json={**body, "notice_given_at": future}, headers=officer)
    assert (resp.status_code, resp.get_json()["code"]) == (400, "VALIDATION_FAILED")
    resp = client.post(refs_url(sid), json={"upload_id": uid}, headers=officer)
    assert resp.status_code == 400 and "notice_given_at" in resp.get_json()["errors"]
    first = client.post(refs_url(sid), json={**body, "legal_basis": "consent"}, headers=officer)
    assert first.status_code == 201 and first.get_json()["legal_basis"] == "consent"
    assert "单独同意" in first.get_json()["legal_basis_text"] and first.get_json()["notice_version"]
    again = client.post(refs_url(sid), json=body, headers=officer)
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    keyed = {**officer, "Idempotency-Key": "face-ref-1"}
    second = enrolment_upload(client, officer, photo("obama3.jpg"))
    made = client.post(refs_url(sid), json={**body, "upload_id": second}, headers=keyed)
    replay = client.post(refs_url(sid), json={**body, "upload_id": second}, headers=keyed)
    assert (made.status_code, replay.status_code) == (201, 200) and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == made.get_json()
    pending = client.post(
        "/api/v1/uploads",
        json={"purpose": "enrolment", "content_type": "image/jpeg", "size_bytes": 10, "sha256": "0" * 64},
        headers=officer,
    ).get_json()["id"]
    with db.tx() as s:
        s.get(Upload, pending).status = "processing"  # completed, its checks not run yet
    resp = client.post(refs_url(sid), json={**body, "upload_id": pending}, headers=officer)
    assert (resp.status_code, resp.get_json()["code"]) == (409, "FACE_REFERENCE_NOT_READY")
    with db.tx() as s:
        up = s.get(Upload, uid)
        assert (up.record_type, up.record_id, up.subject_id) == ("face_reference", str(first.get_json()["id"]), sid)


def test_at_most_five_references_and_replace_swaps_them(client, hs, sid):
    officer = hs["officerA"]
    portrait = Image.open(FACES / "obama.jpg").convert("RGB")
    photos = [photo(n) for n in ("obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face.jpg")]
    photos.append(jpeg(portrait.resize((700, 875)), exif=b""))
    for data in photos:
        assert enrol(client, officer, sid, data).status_code == 201
    resp = enrol(client, officer, sid, photo("biden.jpg"))
    assert (resp.status_code, resp.get_json()["code"]) == (422, "FACE_REFERENCES_FULL")
    resp = enrol(client, officer, sid, photo("biden.jpg"), replace=True)
    assert resp.status_code == 201
    listed = client.get(refs_url(sid), headers=officer).get_json()
    assert [r["id"] for r in listed] == [resp.get_json()["id"]]
    old = rows(FaceReference, FaceReference.id != resp.get_json()["id"])
    assert len(old) == 5 and all(r.descriptor_enc is None and r.delete_reason == "replaced" for r in old)


def test_no_reference_tells_the_officer_once_and_does_not_make_the_checkin_suspect(app, client, hs, sid):
    for name in ("obama2.jpg", "obama3.jpg"):
        got = check_in(client, app, hs["subjectA"], photo(name))
        assert got["status"] == "accepted" and codes(got) == [] and got["review"] is None
        assert got["face"].result == "NO_REFERENCE" and got["face"].distance is None
    (w,) = rows(Warning, Warning.kind == faces.MISSING_WARNING)
    assert (w.status, w.severity, w.subject_id) == ("open", "low", sid)
    assert enrol(client, hs["officerA"], sid, photo("obama.jpg")).status_code == 201
    (w,) = rows(Warning, Warning.kind == faces.MISSING_WARNING)
    assert (w.status, w.outcome) == ("handled", "enrolled")
    assert rows(Warning, Warning.kind == "EVIDENCE_SUSPECT") == []


def test_the_threshold_and_uncertain_band_come_from_the_settings(app, client, hs, sid):
    assert enrol(client, hs["officerA"], sid, photo("obama.jpg")).status_code == 201
    before = runtime.settings()
    runtime.configure(dataclasses.replace(before, face_match_threshold=0.4, face_uncertain_band=0.1))
    try:
        got = check_in(client, app, hs["subjectA"], photo("obama2.jpg"))  # about 0.37 from obama.jpg
    finally:
        runtime.configure(before)
    assert got["status"] == "suspect" and codes(got) == ["FACE_UNCERTAIN"]
    assert got["reasons"][0]["detail"]["threshold"] == 0.4 and got["face"].threshold == 0.4


def test_whole_flow_mismatch_warning_review_and_a_cleared_selfie_as_reference(app, client, hs, sid):
    officer = hs["officerA"]
    assert enrol(client, officer, sid, photo("obama.jpg")).status_code == 201
    got = check_in(client, app, hs["subjectA"], photo("biden.jpg"))
    assert codes(got) == ["FACE_MISMATCH"]
    assert got["checkin"]["id"] and got["record"]["type"] == "checkin"
    listed = client.get("/api/v1/staff/warnings?kind=EVIDENCE_SUSPECT", headers=officer)
    assert listed.status_code == 200, listed.get_json()
    (w,) = listed.get_json()
    assert w["status"] == "open" and w["details"]["reasons"] == ["FACE_MISMATCH"] and w["subject_id"] == sid
    assert {"kind": "upload", "id": got["id"]} in w["evidence"]
    staff_view = client.get(f"/api/v1/uploads/{got['id']}", headers=officer).get_json()
    assert staff_view["reasons"][0]["detail"]["distance"] > 0.6  # the distance, for the officer's review
    resp = client.post(
        f"/api/v1/staff/uploads/{got['id']}/review",
        json={"decision": "clear", "note": "本人已到所核实"},
        headers=officer,
    )
    assert resp.status_code == 200 and resp.get_json()["review"]["status"] == "cleared"
    w = client.get(f"/api/v1/staff/warnings/{w['id']}", headers=officer).get_json()
    assert (w["status"], w["outcome"]) == ("handled", "cleared")
    resp = client.post(refs_url(sid), json={"upload_id": got["id"], "notice_given_at": NOTICE}, headers=officer)
    assert resp.status_code == 201 and resp.get_json()["source"] == "cleared_checkin"
    again = check_in(client, app, hs["subjectA"], photo("biden.jpg"))
    assert again["face"].result == "MATCH" and again["face"].references_compared == 2
    fraud = check_in(client, app, hs["subjectA"], photo("two_people.jpg"))
    resp = client.post(
        f"/api/v1/staff/uploads/{fraud['id']}/review",
        json={"decision": "confirm", "note": "他人代打卡"},
        headers=officer,
    )
    assert resp.status_code == 200 and resp.get_json()["review"]["status"] == "confirmed"


def test_deleting_references_wipes_their_descriptors(app, client, hs, sid):
    officer = hs["officerA"]
    a = enrol(client, officer, sid, photo("obama.jpg")).get_json()["id"]
    b = enrol(client, officer, sid, photo("obama2.jpg")).get_json()["id"]
    assert client.delete(refs_url(sid), headers=hs["subjectA"]).status_code == 403
    assert client.delete(refs_url(sid), headers=hs["officerB"]).status_code == 404
    assert client.delete(refs_url(sid) + "?reference_id=987654", headers=officer).status_code == 404
    resp = client.delete(refs_url(sid) + f"?reference_id={a}", headers=officer)
    assert resp.status_code == 200 and [r["id"] for r in resp.get_json()] == [b]
    with db.tx() as s:
        gone = s.get(FaceReference, a)
        assert gone.descriptor_enc is None and gone.deleted_at is not None and gone.delete_reason == "staff"
    assert client.delete(refs_url(sid) + f"?reference_id={a}", headers=officer).status_code == 200  # again: nothing
    assert client.delete(refs_url(sid), headers=officer).get_json() == []
    assert client.get(refs_url(sid), headers=officer).get_json() == []
    assert check_in(client, app, hs["subjectA"], photo("obama3.jpg"))["face"].result == "NO_REFERENCE"
    deleted = rows(AuditLog, AuditLog.action == "face.reference.delete")
    assert [r.details["reference_ids"] for r in deleted] == [[a], [b]]


def test_release_deletes_all_face_data(client, hs, sid):
    officer = hs["officerA"]
    ref = enrol(client, officer, sid, photo("obama.jpg")).get_json()
    resp = client.post(f"/api/v1/staff/subjects/{sid}/release", json={"note": "期满解矫"}, headers=officer)
    assert resp.status_code == 200, resp.get_json()
    (row,) = rows(FaceReference)
    assert row.descriptor_enc is None and row.delete_reason == "release"
    (audit_row,) = rows(AuditLog, AuditLog.action == "face.data.delete")
    assert audit_row.details["reference_ids"] == [ref["id"]]
    run_outbox()  # purge_face_photos: the enrolment photo's original and derivatives
    with db.tx() as s:
        up = s.get(Upload, ref["upload_id"])
        keys = [up.storage_key, *(f"derived/{up.storage_key.removeprefix('originals/')}/{n}.jpg" for n in ("display",))]
        assert up.original_deleted_at is not None and up.derivatives == {}
    assert all(get_storage().head(k) is None for k in keys)
    assert client.get(refs_url(sid), headers=officer).get_json() == []
    again = enrol(client, officer, sid, photo("obama2.jpg"))
    assert (again.status_code, again.get_json()["code"]) == (409, "SUBJECT_RELEASED")


def test_descriptors_never_leave_the_server(app, client, hs, sid, caplog):
    caplog.set_level(logging.DEBUG)
    officer = hs["officerA"]
    resp = enrol(client, officer, sid, photo("obama.jpg"))
    listed = client.get(refs_url(sid), headers=officer)
    got = check_in(client, app, hs["subjectA"], photo("biden.jpg"))
    staff_view = client.get(f"/api/v1/uploads/{got['id']}", headers=officer)
    (row,) = rows(FaceReference)
    stored = faces.decrypt_descriptor(row.descriptor_enc)  # encrypted at rest with DATA_KEY
    assert face_model.distances(stored, [face_model.analyse_bytes(photo("obama.jpg")).descriptor])[0] < 0.15
    assert face_model.to_bytes(stored) not in row.descriptor_enc.encode()
    (selfie_upload,) = rows(Upload, Upload.id == got["id"])
    compared = face_model.analyse_bytes(*faces.photo_bytes(selfie_upload)).descriptor  # what the check computed
    needles = [f"{v:.6f}"[:8] for v in (*stored[:4], *compared[:4])]
    texts = [resp.get_data(as_text=True), listed.get_data(as_text=True), staff_view.get_data(as_text=True), caplog.text]
    texts += [str(r.details) for r in rows(AuditLog)]
    assert not [n for n in needles for t in texts if n in t]
    assert not any("descriptor" in key for key in resp.get_json())
    assert len(rows(FaceReference)) == 1  # the selfie's own descriptor is compared, never stored


@pytest.mark.slow
def test_the_face_check_runs_in_a_real_worker(client, hs, sid, worker_process):
    from tests.conftest import wait_for

    assert enrol(client, hs["officerA"], sid, photo("obama.jpg")).status_code == 201
    uid = upload(client, hs["subjectA"], selfie(photo("obama2.jpg")))["id"]
    body = {"client_id": str(uuid.uuid4()), "upload_id": uid, "latitude": HOME[0], "longitude": HOME[1]}
    body.update(accuracy_m=10.0, captured_at=datetime.now(SH).isoformat())
    assert client.post("/api/v1/me/checkins", json=body, headers=hs["subjectA"]).status_code == 201

    def checked():
        found = rows(FaceCheck, FaceCheck.upload_id == uid, FaceCheck.status == "done")
        return found[0] if found else None

    assert wait_for(checked, timeout=60).result == "MATCH"
