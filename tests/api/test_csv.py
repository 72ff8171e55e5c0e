"""CSV export of the staff score lists (issue 6 §8): streamed rows, the caller's jurisdiction only, audited."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from backend.db import db
from backend.models import AuditLog, User, utcnow
from backend.services.scoring import emit_event
from tests.factories import auth_header
from tests.support.scoring import new_subject

CSV = {"Accept": "text/csv"}


def _rows(resp) -> list[dict]:
    assert resp.status_code == 200 and resp.mimetype == "text/csv", resp.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


def _floor() -> int:
    """The newest audit row before this test: the log is a chain kept across tests."""
    with db.tx() as s:
        return s.scalar(select(func.max(AuditLog.id))) or 0


def _exports(action: str, after: int) -> list[AuditLog]:
    with db.tx() as s:
        return list(
            s.scalars(select(AuditLog).where(AuditLog.action == action, AuditLog.id > after).order_by(AuditLog.id))
        )


def test_a_subjects_score_events_as_csv(client, world):
    floor = _floor()
    p, other = new_subject(world), new_subject(world, "B")
    emit_event(p, "CHECKIN_ONTIME", "checkin", 1, utcnow())
    emit_event(p, "CHECKIN_MISSED", "period", 2, utcnow())
    emit_event(other, "CHECKIN_MISSED", "period", 3, utcnow())
    officer = auth_header(client, "officerA")
    url = f"/api/v1/staff/subjects/{p.id}/score/events"
    rows = _rows(client.get(url, headers={**officer, **CSV}))
    assert sorted((r["rule_code"], r["points"], r["source_id"]) for r in rows) == [
        ("CHECKIN_MISSED", "-5", "2"),
        ("CHECKIN_ONTIME", "1", "1"),
    ]
    assert all(r["rule_name"] for r in rows)
    assert [
        r["rule_code"] for r in _rows(client.get(url + "?rule_code=CHECKIN_MISSED", headers={**officer, **CSV}))
    ] == ["CHECKIN_MISSED"]
    first, second = _exports("score_events.export", floor)
    assert first.details["filters"] == {"subject_id": str(p.id)}
    assert second.details["filters"] == {"subject_id": str(p.id), "rule_code": "CHECKIN_MISSED"}
    foreign = client.get(f"/api/v1/staff/subjects/{other.id}/score/events", headers={**officer, **CSV})
    assert foreign.status_code == 404


def test_appeals_and_merit_applications_as_csv(client, world):
    floor = _floor()
    p = new_subject(world)
    subject_h = auth_header(client, db.session.get(User, p.user_id).username)
    missed = emit_event(p, "CHECKIN_MISSED", "period", 1, utcnow()).event
    appeal = client.post("/api/v1/me/appeals", json={"event_id": missed.id, "reason": "手机没电"}, headers=subject_h)
    body = {"merit_type": "MERIT_DONATION", "description": "向灾区捐款", "occurred_on": utcnow().date().isoformat()}
    merit = client.post("/api/v1/me/merit-applications", json=body, headers=subject_h)
    assert appeal.status_code == 201 and merit.status_code == 201, (appeal.get_json(), merit.get_json())
    officer = {**auth_header(client, "officerA"), **CSV}
    assert [r["id"] for r in _rows(client.get("/api/v1/staff/appeals", headers=officer))] == [
        str(appeal.get_json()["id"])
    ]
    assert [r["id"] for r in _rows(client.get("/api/v1/staff/merit-applications", headers=officer))] == [
        str(merit.get_json()["id"])
    ]
    assert _rows(client.get("/api/v1/staff/appeals", headers={**auth_header(client, "officerB"), **CSV})) == []
    assert len(_exports("appeals.export", floor)) == 2 and len(_exports("merit_applications.export", floor)) == 1
