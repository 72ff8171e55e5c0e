"""Issue 17: the demo's GEOFENCE warnings name a real check-in, so 确认越界 works on the demo as on real data."""

from __future__ import annotations

from sqlalchemy import select

from backend import runtime
from backend.db import db
from backend.models import Warning
from backend.models.checkin import CheckIn
from backend.models.scoring import ScoreEvent
from backend.services.demo import seed


def _login(client, username: str) -> dict:
    resp = client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": runtime.settings().demo_password, "device_id": "t"},
    )
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": "Bearer " + resp.get_json()["access_token"]}


def test_every_demo_geofence_warning_has_its_checkin_and_confirming_one_emits_the_breach(client, clean):
    seed.seed()
    with db.tx() as s:
        warnings = s.scalars(select(Warning).where(Warning.kind == "GEOFENCE")).all()
        assert warnings
        for w in warnings:
            checkin = s.get(CheckIn, w.details["checkin_id"])
            assert checkin.subject_id == w.subject_id and checkin.inside_area is False
            assert checkin.warning_id == w.id and checkin.distance_m > 0
        target = next(w for w in warnings if w.status == "open")
        target_id, subject_id, checkin_id = target.id, target.subject_id, target.details["checkin_id"]
    assert seed.seed()["created"] == 0  # a second seed adds no check-in

    h = _login(client, "officer1")
    if client.get(f"/api/v1/staff/warnings/{target_id}", headers=h).status_code == 404:
        h = _login(client, "officer2")
    checkins = client.get(f"/api/v1/staff/subjects/{subject_id}/checkins", headers=h).get_json()
    assert checkin_id in [c["id"] for c in checkins]
    resp = client.post(
        f"/api/v1/staff/warnings/{target_id}/handle", json={"outcome": "confirmed", "note": "核实越界"}, headers=h
    )
    assert resp.status_code == 200, resp.get_json()
    with db.tx() as s:
        breach = s.scalars(
            select(ScoreEvent).where(ScoreEvent.subject_id == subject_id, ScoreEvent.rule_code == "GEOFENCE_BREACH")
        ).all()
        assert [e.source_id for e in breach if e.source_kind == "checkin"] == [str(checkin_id)]
