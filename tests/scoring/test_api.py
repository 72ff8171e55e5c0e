"""我要查分 / 我要权益 over HTTP: the score explained, benefits and conversions, events, history; staff reads."""

from __future__ import annotations

from datetime import timedelta

from backend.db import db
from backend.models import User, utcnow
from backend.services.scoring import emit_event
from backend.services.scoring.sql import TZ
from tests.factories import auth_header
from tests.support.scoring import from_ledger, new_subject, sql_differences, stored


def _me(client, subject) -> dict:
    return auth_header(client, db.session.get(User, subject.user_id).username)


def test_my_score_is_explained_with_benefits_and_city_conversion(client, world):
    p = new_subject(world, provincial=1000, risk_level="low")  # 400 + 100 + 5 × 85 = 925: green
    emit_event(p, "CHECKIN_MISSED", "period", "x", utcnow() - timedelta(days=1))
    body = client.get("/api/v1/me/score", headers=_me(client, p)).get_json()
    assert (body["total"], body["public_base"], body["management"]) == (920, 400, 520)
    assert body["dimensions"] == {
        "risk": 100,
        "employment": 85,
        "behaviour": 85,
        "compliance": 80,
        "public_welfare": 85,
        "education": 85,
    }
    compliance = next(d for d in body["dimension_details"] if d["dimension"] == "compliance")
    assert compliance == {
        "dimension": "compliance",
        "name": "矫正管理",
        "points": 80,
        "max": 100,
        "initial": 85,
        "initial_source": "default",
        "events_sum": -5,
        "clamped": False,
    }
    risk = next(d for d in body["dimension_details"] if d["dimension"] == "risk")
    assert risk["initial_source"] == "risk_level:low"
    assert (body["grade"], body["colour"], body["base_pending"], body["effective_grade"]) == (
        "excellent",
        "green",
        False,
        "excellent",
    )
    assert {b["code"] for b in body["benefits"]} == {"leave_green_channel", "flexible_supervision", "loan_repair"}
    assert body["city_conversions"] == [
        {"city": "hangzhou", "name": "杭州钱江分·遵纪守法", "percent": 80, "points": 48, "max_points": 60}
    ]
    assert body["to_next_grade"] == {"up": None, "down": {"grade": "good", "grade_name": "信用良好", "points": 121}}


def test_pending_base_grants_no_benefits(client, world):
    p = new_subject(world)  # 280 + 495 = 775: blue, but pending
    body = client.get("/api/v1/me/score", headers=_me(client, p)).get_json()
    assert (body["total"], body["grade"], body["base_pending"], body["effective_grade"]) == (775, "good", True, None)
    assert body["benefits"] == []
    assert body["city_conversions"][0]["points"] == 0
    assert body["to_next_grade"]["up"] == {"grade": "excellent", "grade_name": "信用优秀", "points": 25}
    assert body["to_next_grade"]["down"]["points"] == 26


def test_events_list_is_paginated_and_filterable(client, world):
    p = new_subject(world)
    for i in range(3):
        emit_event(p, "CHECKIN_ONTIME", "checkin", i, utcnow() - timedelta(days=i))
    emit_event(p, "CHECKIN_LATE", "period", "late", utcnow() - timedelta(days=100))
    headers = _me(client, p)
    resp = client.get("/api/v1/me/score/events?page_size=2", headers=headers)
    assert resp.status_code == 200 and len(resp.get_json()) == 2
    assert '"total": 4' in resp.headers["X-Pagination"]
    first = resp.get_json()[0]
    assert (first["rule_code"], first["rule_name"], first["points"], first["source_kind"]) == (
        "CHECKIN_ONTIME",
        "按时报到",
        1,
        "checkin",
    )
    expired = client.get("/api/v1/me/score/events?status=expired", headers=headers).get_json()
    assert [e["source_id"] for e in expired] == ["late"] and expired[0]["expires_at"]
    assert client.get("/api/v1/me/score/events?status=gone", headers=headers).status_code == 400


def test_history_has_daily_totals_and_causes(client, world):
    p = new_subject(world)
    headers = _me(client, p)
    start = client.get("/api/v1/me/score", headers=headers).get_json()["total"]
    emit_event(p, "GRID_NEGATIVE", "report", 1, utcnow())
    body = client.get("/api/v1/me/score/history", headers=headers).get_json()
    today = utcnow().astimezone(TZ).date().isoformat()
    assert body["days"][-1] == {"date": today, "total": start - 5}
    assert [c["cause"] for c in body["changes"]] == ["initial", "event"]
    assert body["changes"][-1]["total_before"] == start and body["changes"][-1]["ref"].startswith("event:")
    bad = client.get("/api/v1/me/score/history?date_from=2026-05-01&date_to=2026-01-01", headers=headers)
    assert bad.status_code == 400


def test_a_risk_reassessment_updates_the_score_and_is_dated_in_the_history(client, world):
    p = new_subject(world)  # medium risk: the risk dimension starts at 70
    officer = auth_header(client, "officerA")
    before = client.get(f"/api/v1/staff/subjects/{p.id}/score", headers=officer).get_json()
    assert before["dimensions"]["risk"] == 70
    resp = client.patch(
        f"/api/v1/staff/subjects/{p.id}", json={"risk_level": "high", "reason": "季度评估"}, headers=officer
    )
    assert resp.status_code == 200, resp.get_json()
    after = client.get("/api/v1/me/score", headers=_me(client, p)).get_json()
    assert (after["dimensions"]["risk"], after["total"]) == (40, before["total"] - 30)
    change = client.get("/api/v1/me/score/history", headers=_me(client, p)).get_json()["changes"][-1]
    assert (change["cause"], change["total_before"], change["total_after"]) == (
        "risk_assessment",
        before["total"],
        before["total"] - 30,
    )
    assert change["details"] == {"from": "medium", "to": "high"} and change["at"]
    assert stored(p.id) == from_ledger(p.id) and sql_differences() == []


def test_staff_read_scores_in_their_jurisdiction_only(client, world):
    a, b = world.subjects["A"], world.subjects["B"]
    officer = auth_header(client, "officerA")
    assert client.get(f"/api/v1/staff/subjects/{a.id}/score", headers=officer).get_json()["subject_id"] == a.id
    assert client.get(f"/api/v1/staff/subjects/{b.id}/score", headers=officer).status_code == 404
    assert client.get(f"/api/v1/staff/subjects/{a.id}/score/events", headers=officer).status_code == 200
    assert client.get(f"/api/v1/staff/subjects/{a.id}/score/history", headers=officer).status_code == 200
    assert client.get("/api/v1/me/score", headers=officer).status_code == 403
    assert client.get(f"/api/v1/staff/subjects/{a.id}/score", headers=auth_header(client, "gridA")).status_code == 403
