"""The dashboard (驾驶舱): every number checked against a small hand-counted fixture, for officer and bureau."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import update

from backend.db import db
from backend.models import PublicCreditBase, utcnow
from backend.models.field import Suggestion
from backend.models.scoring import ScoreChange
from backend.services.core.warnings import raise_warning
from backend.services.scoring import emit_event
from backend.services.subjects.orgs import create_unit
from tests.factories import auth_header, make_subject
from tests.support.field import SH, subject
from tests.support.scoring import new_subject, stored


def _noon(days_ago: int) -> datetime:
    today = utcnow().astimezone(SH).date()
    return datetime.combine(today - timedelta(days=days_ago), time(12), SH)


def _move(sid: int, cause: str, days_ago: int) -> None:
    with db.tx() as s:
        s.execute(
            update(ScoreChange)
            .where(ScoreChange.subject_id == sid, ScoreChange.cause == cause)
            .values(at=_noon(days_ago))
        )


@pytest.fixture
def fixture(world):
    """Office A: A (unscored), S1 895 green, S2 775 blue, S3 705 yellow, S4 775 base pending, S6 released.
    Office A2 (district A): S7 655 → 635 red. District B: B and S8 (never counted for district A)."""
    with db.tx() as s:
        office2 = create_unit(s, level="office", name="所A2", code="OA2", parent_id=world.units["district_A"]).id
        grid2 = create_unit(s, level="grid", name="网格A2", code="GA2", parent_id=office2).id
    s1, s2, s3 = (new_subject(world, provincial=p).id for p in (1000, 700, 525))
    s4 = new_subject(world).id
    s6 = new_subject(world, provincial=700, status="released").id
    s7 = make_subject(office_id=office2, grid_id=grid2, officer_id=None, username="s7").id
    with db.tx() as s:
        s.add(PublicCreditBase(subject_id=s7, as_of=date(2026, 1, 1), provincial_score=400))
    s8 = new_subject(world, "B", provincial=1000).id
    for sid in (s1, s2, s3, s4, s6, s7, s8):
        stored(sid)
    emit_event(s7, "GEOFENCE_BREACH", "test_source", "s7", utcnow())
    for sid, days in ((s1, 10), (s2, 10), (s4, 3), (s7, 5), (s6, 4), (s8, 4)):
        _move(sid, "initial", days)
    _move(s7, "event", 2)
    now = utcnow()
    with db.tx() as s:
        raise_warning(
            s, subject(s2), "CHECKIN_MISSED", "medium", "未报到", period_key="d1", due_at=now - timedelta(hours=1)
        )
        w, _ = raise_warning(s, subject(s1), "GEOFENCE", "medium", "越界", period_key="g1")
        w.status, w.handled_at, w.outcome = "handled", now, "resolved"
        raise_warning(
            s, subject(s8), "CHECKIN_MISSED", "medium", "未报到", period_key="d1", due_at=now - timedelta(hours=1)
        )
        for sid, status, extra in (
            (s1, "done", {"outcome": "effective", "closed_at": now}),
            (s2, "dismissed", {"dismiss_reason": "not_applicable", "closed_at": now}),
            (s3, "open", {"category": "education"}),
            (s7, "accepted", {}),
            (s8, "open", {}),
        ):
            subj = subject(sid)
            values = {"category": "supervision", **extra}
            s.add(
                Suggestion(
                    subject_id=sid,
                    kind="k",
                    priority="high",
                    title="t",
                    rationale={},
                    trigger_version=1,
                    officer_id=subj.officer_id,
                    office_id=subj.office_id,
                    status=status,
                    due_at=now + timedelta(days=3),
                    **values,
                )
            )
    return {"office2": office2}


def _board(client, user: str, query: str = "") -> dict:
    resp = client.get(f"/api/v1/staff/dashboard{query}", headers=auth_header(client, user))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _buckets(board: dict) -> dict[int, int]:
    return {b["from"]: b["count"] for b in board["score_distribution"] if b["count"]}


def test_officer_numbers(client, world, fixture):
    b = _board(client, "officerA")
    subj = b["subjects"]
    assert subj["total"] == 5 and subj["base_pending"] == 1 and subj["unscored"] == 1
    assert {g["grade"]: g["count"] for g in subj["by_grade"]} == {
        "excellent": 1,
        "good": 1,
        "fair": 1,
        "poor": 0,
        "severe": 0,
    }
    assert subj["by_colour"] == {"green": 1, "blue": 1, "yellow": 1, "orange": 0, "red": 0}
    assert subj["by_supervision_level"] == {"strict": 0, "normal": 5, "lenient": 0}
    assert _buckets(b) == {850: 1, 750: 2, 700: 1}  # 895; 775 and 775 (pending); 705
    assert b["work"] == {
        "open": 2,
        "overdue": 1,
        "by_kind": [{"kind": "suggestion", "open": 1, "overdue": 0}, {"kind": "warning", "open": 1, "overdue": 1}],
    }
    kinds = {k["kind"]: k for k in b["warnings"]["by_kind"]}
    assert b["warnings"]["unhandled"] == 1
    assert kinds["CHECKIN_MISSED"] == {
        "kind": "CHECKIN_MISSED",
        "open": 1,
        "acknowledged": 0,
        "overdue": 1,
        "high_unhandled": 0,
        "handled_30d": 0,
        "raised_30d": 1,
    }
    assert (kinds["GEOFENCE"]["handled_30d"], kinds["GEOFENCE"]["open"]) == (1, 0)
    sug = b["suggestions"]
    assert sug["by_status"] == {"done": 1, "dismissed": 1, "open": 1} and sug["total"] == 3
    assert sug["by_outcome"] == {"effective": 1} and sug["by_dismiss_reason"] == {"not_applicable": 1}
    assert sug["open_by_category"] == {"education": 1}
    [office] = b["offices"]
    assert office == {
        "office_id": world.units["office_A"],
        "name": "所A",
        "subjects": 5,
        "by_colour": {"green": 1, "blue": 1, "yellow": 1},
        "open_work": 2,
        "overdue_work": 1,
        "unhandled_warnings": 1,
        "open_suggestions": 1,
        "checkins": {"due": 0, "on_time": 0, "late": 0, "missed": 0, "rate_pct": None, "subjects_missed": 0},
    }


def test_bureau_numbers_per_office_and_trend(client, world, fixture):
    b = _board(client, "bureauA")
    assert b["subjects"]["total"] == 6 and b["subjects"]["by_colour"]["red"] == 1
    assert _buckets(b) == {850: 1, 750: 2, 700: 1, 600: 1}
    assert (b["work"]["open"], b["work"]["overdue"]) == (4, 1)
    assert {k["kind"]: k["high_unhandled"] for k in b["warnings"]["by_kind"]}["SCORE_RED"] == 1
    assert b["suggestions"]["open_by_category"] == {"education": 1, "supervision": 1}
    offices = {o["office_id"]: o for o in b["offices"]}
    assert offices[fixture["office2"]] == {
        "office_id": fixture["office2"],
        "name": "所A2",
        "subjects": 1,
        "by_colour": {"red": 1},
        "open_work": 2,
        "overdue_work": 0,
        "unhandled_warnings": 1,
        "open_suggestions": 1,
        "checkins": {"due": 0, "on_time": 0, "late": 0, "missed": 0, "rate_pct": None, "subjects_missed": 0},
    }
    assert offices[world.units["office_A"]]["subjects"] == 5
    trend = {t["date"]: (t["subjects"], t["average"]) for t in b["trend"]}
    day = lambda n: (utcnow().astimezone(SH).date() - timedelta(days=n)).isoformat()  # noqa: E731
    assert len(b["trend"]) == 30 and b["trend"][-1]["date"] == day(0)
    assert trend[day(0)] == (5, 757.0)  # 895 + 775 + 705 + 775 + 635
    assert trend[day(1)] == trend[day(2)] == (4, 770.0)  # before S3 existed
    assert trend[day(3)] == (4, 775.0)  # before S7's −20 (two days ago)
    assert trend[day(4)] == trend[day(5)] == (3, 775.0)  # before S4 existed (three days ago)
    assert trend[day(6)] == trend[day(10)] == (2, 835.0)  # before S7 existed (five days ago)
    assert trend[day(11)] == trend[day(29)] == (0, None)  # before S1 and S2
    one = _board(client, "bureauA", f"?office_id={fixture['office2']}")
    assert one["subjects"]["total"] == 1 and [o["office_id"] for o in one["offices"]] == [fixture["office2"]]
    assert one["work"]["open"] == 2


def test_foreign_office_shows_nothing_and_roles(client, world, fixture):
    foreign = _board(client, "officerA", f"?office_id={world.units['office_B']}")
    assert foreign["subjects"]["total"] == 0 and foreign["offices"] == [] and foreign["work"]["open"] == 0
    assert client.get("/api/v1/staff/dashboard", headers=auth_header(client, "gridA")).status_code == 403
    assert client.get("/api/v1/staff/dashboard", headers=auth_header(client, "admin")).status_code == 403
