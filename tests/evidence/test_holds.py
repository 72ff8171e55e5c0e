"""Evidence held (docs/photos.md#originals-and-retention): appeals hold their originals, fraud is kept longer,
and the purge job skips what is held and says how many."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from backend.db import db
from backend.models import AuditLog, Upload, User, utcnow
from backend.services.evidence import retention
from backend.services.scoring import emit_event
from backend.storage import get_storage
from tests.factories import auth_header
from tests.scoring.test_evidence import _bare_jpeg
from tests.support.scoring import events_of, new_subject
from tests.support.uploads import jpeg, scene, upload

TAKEN = datetime(2026, 11, 25, 9, 30)


def _h(client, subject) -> dict:
    return auth_header(client, db.session.get(User, subject.user_id).username)


def _row(upload_id: int) -> Upload:
    with db.tx() as s:
        return s.scalar(select(Upload).where(Upload.id == upload_id).execution_options(populate_existing=True))


def _appeal(client, subject, event_id: int, upload_ids: list[int]) -> dict:
    body = {"event_id": event_id, "reason": "有证明", "upload_ids": upload_ids}
    resp = client.post("/api/v1/me/appeals", json=body, headers=_h(client, subject))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _decide(client, appeal_id: int, who: str = "officerA"):
    body = {"decision": "dismiss", "note": "证据不足"}
    resp = client.post(f"/api/v1/staff/appeals/{appeal_id}/decision", json=body, headers=auth_header(client, who))
    assert resp.status_code == 200, resp.get_json()


def _days(n: float):
    return utcnow() + timedelta(days=n)


def test_an_appeals_evidence_survives_the_purge_job_until_the_appeal_is_decided(client, world, settings):
    p = new_subject(world)
    event = emit_event(p, "CHECKIN_MISSED", "period", "held-1", world.subjects["A"].created_at).event
    photo = upload(client, _h(client, p), jpeg(scene(seed=71), taken=TAKEN, gps=(30.05, 119.96)), purpose="appeal")
    appeal = _appeal(client, p, event.id, [photo["id"]])
    row = _row(photo["id"])
    assert (row.status, row.review_status, row.retention_hold, row.case_closed_at) == ("accepted", None, True, None)

    far = _days(settings.original_retention_days * 3)
    assert retention.purge_originals(far) == {"deleted": 0, "skipped": 1}
    row = _row(photo["id"])
    assert row.original_deleted_at is None and get_storage().head(row.storage_key) is not None
    last = db.session.scalar(
        select(AuditLog).where(AuditLog.action == "upload.purge_original").order_by(AuditLog.id.desc()).limit(1)
    )
    assert (last.details["count"], last.details["skipped"]) == (0, 1)

    _decide(client, appeal["id"])
    row = _row(photo["id"])
    assert row.retention_hold is False and row.case_closed_at is not None  # the clock starts at the decision
    assert retention.purge_originals(_days(settings.original_retention_days - 1)) == {"deleted": 0, "skipped": 0}
    assert retention.purge_originals(_days(settings.original_retention_days + 1)) == {"deleted": 1, "skipped": 0}
    assert get_storage().head(row.storage_key) is None


def test_confirmed_fraud_is_kept_for_the_fraud_period_and_an_appeal_against_it_holds_it(client, world, settings):
    p = new_subject(world)
    photo = upload(client, _h(client, p), _bare_jpeg(), purpose="merit")
    body = {"merit_type": "MERIT_DONATION", "description": "捐款", "occurred_on": "2026-02-01"}
    resp = client.post(
        "/api/v1/me/merit-applications", json={**body, "upload_ids": [photo["id"]]}, headers=_h(client, p)
    )
    assert resp.status_code == 201, resp.get_json()
    past_normal = _days(settings.original_retention_days + 1)
    assert retention.purge_originals(past_normal) == {"deleted": 0, "skipped": 1}  # suspect, under review

    officer = auth_header(client, "officerA")
    review = {"decision": "confirm", "note": "照片系网络图片"}
    assert client.post(f"/api/v1/staff/uploads/{photo['id']}/review", json=review, headers=officer).status_code == 200
    assert _row(photo["id"]).case_closed_at is not None
    assert retention.purge_originals(past_normal) == {"deleted": 0, "skipped": 1}  # fraud: kept longer

    (fraud,) = [e for e in events_of(p.id) if e.rule_code == "EVIDENCE_FRAUD"]
    appeal = _appeal(client, p, fraud.id, [])
    assert _row(photo["id"]).retention_hold is True  # the appeal relies on the photo its event came from
    past_fraud = _days(settings.fraud_retention_days + 1)
    assert retention.purge_originals(past_fraud) == {"deleted": 0, "skipped": 1}

    _decide(client, appeal["id"], who="bureauA")
    assert _row(photo["id"]).retention_hold is False
    assert retention.purge_originals(past_normal) == {"deleted": 0, "skipped": 1}
    assert retention.purge_originals(_days(settings.fraud_retention_days - 1)) == {"deleted": 0, "skipped": 1}
    assert retention.purge_originals(past_fraud) == {"deleted": 1, "skipped": 0}


def test_a_hold_stays_while_another_open_appeal_relies_on_the_photo(client, world, settings):
    p = new_subject(world)
    photo = upload(client, _h(client, p), jpeg(scene(seed=72), taken=TAKEN, gps=(30.05, 119.96)), purpose="appeal")
    with db.tx() as s:  # the photo of a field report that two penalties came from
        s.execute(update(Upload).where(Upload.id == photo["id"]).values(record_type="field_report", record_id="77"))
    first = emit_event(p, "GRID_NEGATIVE", "field_report", "77", world.subjects["A"].created_at).event
    second = emit_event(p, "CHECKIN_MISSED", "field_report", "77", world.subjects["A"].created_at).event
    a1, a2 = _appeal(client, p, first.id, []), _appeal(client, p, second.id, [])
    assert _row(photo["id"]).retention_hold is True
    _decide(client, a1["id"])
    assert _row(photo["id"]).retention_hold is True
    assert retention.purge_originals(_days(settings.original_retention_days * 3))["skipped"] == 1
    _decide(client, a2["id"])
    row = _row(photo["id"])
    assert row.retention_hold is False and row.case_closed_at is not None
