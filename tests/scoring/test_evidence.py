"""Evidence photos of appeals and merit applications (uploads of the Photo evidence feature), and
EVIDENCE_FRAUD when an officer confirms a suspect photo."""

from __future__ import annotations

from PIL import Image
from sqlalchemy import select

from backend.db import db
from backend.models import Upload, User
from backend.services.scoring import emit_event
from tests.factories import auth_header
from tests.support.scoring import events_of, new_subject, stored
from tests.support.uploads import jpeg, scene, upload


def _h(client, subject) -> dict:
    return auth_header(client, db.session.get(User, subject.user_id).username)


def _bare_jpeg() -> bytes:
    """A photo without any EXIF: suspect once attached (no capture facts)."""
    import io

    out = io.BytesIO()
    Image.new("RGB", (320, 240), (120, 140, 160)).save(out, "JPEG")
    return out.getvalue()


def test_appeal_evidence_attaches_once_and_only_the_owners(client, world):
    p, other = new_subject(world), new_subject(world)
    event = emit_event(p, "CHECKIN_MISSED", "period", "e", world.subjects["A"].created_at).event
    photo = upload(client, _h(client, p), jpeg(scene(seed=5)), purpose="appeal")
    foreign = upload(client, _h(client, other), jpeg(scene(seed=6)), purpose="appeal")
    body = {"event_id": event.id, "reason": "有证明", "upload_ids": [foreign["id"]]}
    resp = client.post("/api/v1/me/appeals", json=body, headers=_h(client, p))
    assert resp.status_code == 422 and resp.get_json()["code"] == "UPLOAD_UNKNOWN"
    resp = client.post("/api/v1/me/appeals", json={**body, "upload_ids": [photo["id"]]}, headers=_h(client, p))
    assert resp.status_code == 201, resp.get_json()
    appeal = resp.get_json()
    assert appeal["evidence"] == [photo["id"]]
    attached = db.session.get(Upload, photo["id"])
    assert (attached.record_type, attached.record_id) == ("appeal", str(appeal["id"]))
    second = emit_event(p, "GRID_NEGATIVE", "report", "r", world.subjects["A"].created_at).event
    resp = client.post(
        "/api/v1/me/appeals",
        json={"event_id": second.id, "reason": "x", "upload_ids": [photo["id"]]},
        headers=_h(client, p),
    )
    assert resp.status_code == 422 and resp.get_json()["code"] == "UPLOAD_ALREADY_ATTACHED"
    body = {"event_id": second.id, "reason": "x", "upload_ids": list(range(1, 12))}
    assert client.post("/api/v1/me/appeals", json=body, headers=_h(client, p)).status_code == 400


def test_confirmed_fraud_emits_evidence_fraud_once(client, world):
    p = new_subject(world)
    photo = upload(client, _h(client, p), _bare_jpeg(), purpose="merit")
    body = {
        "merit_type": "MERIT_DONATION",
        "description": "捐款",
        "occurred_on": "2026-02-01",
        "upload_ids": [photo["id"]],
    }
    resp = client.post("/api/v1/me/merit-applications", json=body, headers=_h(client, p))
    assert resp.status_code == 201, resp.get_json()
    got = client.get(f"/api/v1/uploads/{photo['id']}", headers=_h(client, p)).get_json()
    assert got["status"] == "suspect", got
    officer = auth_header(client, "officerA")
    review = {"decision": "confirm", "note": "照片系网络图片"}
    assert client.post(f"/api/v1/staff/uploads/{photo['id']}/review", json=review, headers=officer).status_code == 200
    assert client.post(f"/api/v1/staff/uploads/{photo['id']}/review", json=review, headers=officer).status_code == 200
    fraud = [e for e in events_of(p.id) if e.rule_code == "EVIDENCE_FRAUD"]
    assert len(fraud) == 1
    assert (fraud[0].points, fraud[0].source_kind, fraud[0].source_id) == (-10, "upload", str(photo["id"]))
    assert fraud[0].confirmed_by == world.users["officer_A"].id
    assert stored(p.id)["behaviour"] == 75
    # the officer who confirmed it may not decide the appeal against it (the only officer: the bureau decides)
    resp = client.post(
        "/api/v1/me/appeals", json={"event_id": fraud[0].id, "reason": "是本人拍摄"}, headers=_h(client, p)
    )
    assert resp.get_json()["decider_role"] == "bureau"
    assert db.session.scalar(select(Upload.record_type).where(Upload.id == photo["id"])) == "merit_application"
