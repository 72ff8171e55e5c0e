"""The dashboard's check-in compliance (docs/warnings-and-suggestions.md#dashboard): a hand-counted set of
period events over the API for officer and bureau, and the real path (check-ins placed over HTTP, the
nightly missed job) counted by the service."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import update

from backend.db import db
from backend.models import Subject, User, utcnow
from backend.services.activities import missed as checkin_jobs
from backend.services.identity.auth import actor_for
from backend.services.oversight import dashboard
from backend.services.scoring import emit_event
from backend.services.scoring.ledger import revoke_event
from backend.services.subjects.orgs import create_unit
from tests.factories import auth_header, make_subject
from tests.support.activities import YEAR, check_in, headers_for, sh
from tests.support.field import SH

NOTHING = {"due": 0, "on_time": 0, "late": 0, "missed": 0, "rate_pct": None, "subjects_missed": 0}
OFFICE_A = {"due": 6, "on_time": 3, "late": 1, "missed": 2, "rate_pct": 66.7, "subjects_missed": 2}
OFFICE_A2 = {"due": 2, "on_time": 0, "late": 1, "missed": 1, "rate_pct": 50.0, "subjects_missed": 1}


def _at(days_ago: int, hour: int = 12) -> datetime:
    today = utcnow().astimezone(SH).date()
    return datetime.combine(today - timedelta(days=days_ago), time(hour), SH)


def _emit(subject_id: int, rule: str, days_ago: int, hour: int = 12) -> int:
    key = f"{subject_id}:{rule}:{days_ago}:{hour}"
    return emit_event(subject_id, rule, "test_source", key, _at(days_ago, hour)).event.id


def _office(world, code: str) -> tuple[int, int]:
    with db.tx() as s:
        office = create_unit(s, level="office", name="所A2", code=code, parent_id=world.units["district_A"]).id
        grid = create_unit(s, level="grid", name="网格A2", code="G" + code, parent_id=office).id
    return office, grid


def _subject(world, side: str, username: str) -> int:
    units, officer = world.units, world.users[f"officer_{side}"].id
    return make_subject(
        office_id=units[f"office_{side}"], grid_id=units[f"grid_{side}"], officer_id=officer, username=username
    ).id


@pytest.fixture
def events(world):
    """Office A: a1 on time ×2 (2 and 10 days ago), late (5), missed (3), and outside the window on time
    (30 days ago, the day before the first) and missed (40); a2 missed (1), missed (20, revoked), on time
    at 00:00 of the window's first day (29 days ago); a3 nothing; a4 on time but released.
    Office A2 (district A): c1 late (4), missed (6). District B: b1 on time, missed (never district A's)."""
    office2, grid2 = _office(world, "OA2")
    a1, a2, a3, a4 = (_subject(world, "A", f"cmp{i}") for i in range(1, 5))
    c1 = make_subject(office_id=office2, grid_id=grid2, officer_id=None, username="cmpA2").id
    b1 = _subject(world, "B", "cmpB1")
    for rule, days, hour in (
        ("CHECKIN_ONTIME", 2, 9),
        ("CHECKIN_ONTIME", 10, 9),
        ("CHECKIN_LATE", 5, 8),
        ("CHECKIN_MISSED", 3, 22),
        ("CHECKIN_ONTIME", 30, 23),
        ("CHECKIN_MISSED", 40, 22),
    ):
        _emit(a1, rule, days, hour)
    _emit(a2, "CHECKIN_MISSED", 1, 22)
    revoked = _emit(a2, "CHECKIN_MISSED", 20, 22)
    _emit(a2, "CHECKIN_ONTIME", 29, 0)
    _emit(a4, "CHECKIN_ONTIME", 2, 9)
    _emit(c1, "CHECKIN_LATE", 4, 8)
    _emit(c1, "CHECKIN_MISSED", 6, 22)
    _emit(b1, "CHECKIN_ONTIME", 2, 9)
    _emit(b1, "CHECKIN_MISSED", 3, 22)
    _emit(a3, "GEOFENCE_BREACH", 2, 9)  # not a period event
    with db.tx() as s:
        revoke_event(s, revoked, "appeal:1", "申诉成立")
        s.execute(update(Subject).where(Subject.id == a4).values(status="released"))
    return {"office2": office2}


def _board(client, user: str, query: str = "") -> dict:
    resp = client.get(f"/api/v1/staff/dashboard{query}", headers=auth_header(client, user))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _window() -> dict:
    today = utcnow().astimezone(SH).date()
    return {"from": (today - timedelta(days=29)).isoformat(), "days": 30}


def test_officer_sees_the_compliance_of_their_office_only(client, world, events):
    b = _board(client, "officerA")
    assert b["checkins"] == {**_window(), **OFFICE_A}
    assert [(o["office_id"], o["checkins"]) for o in b["offices"]] == [(world.units["office_A"], OFFICE_A)]
    # an office outside the officer's jurisdiction counts nothing, though it has events
    foreign = _board(client, "officerA", f"?office_id={events['office2']}")
    assert foreign["checkins"] == {**_window(), **NOTHING} and foreign["offices"] == []
    # the other district's officer sees only its own subject
    b_side = _board(client, "officerB")["checkins"]
    assert b_side == {**_window(), **OFFICE_A2, "on_time": 1, "late": 0}


def test_bureau_sees_the_district_per_office_and_one_office(client, world, events):
    b = _board(client, "bureauA")
    assert b["checkins"] == {
        **_window(),
        "due": 8,
        "on_time": 3,
        "late": 2,
        "missed": 3,
        "rate_pct": 62.5,
        "subjects_missed": 3,
    }
    rows = {o["office_id"]: o["checkins"] for o in b["offices"]}
    assert rows == {world.units["office_A"]: OFFICE_A, events["office2"]: OFFICE_A2}
    # the totals are the offices' sums
    for key in ("due", "on_time", "late", "missed", "subjects_missed"):
        assert b["checkins"][key] == sum(r[key] for r in rows.values())
    one = _board(client, "bureauA", f"?office_id={events['office2']}")
    assert one["checkins"] == {**_window(), **rows[events["office2"]]}
    assert [o["office_id"] for o in one["offices"]] == [events["office2"]]


def test_an_office_without_period_events_shows_zeros_and_no_rate(client, world):
    b = _board(client, "officerA")
    assert b["checkins"] == {**_window(), **NOTHING}
    assert [o["checkins"] for o in b["offices"]] == [NOTHING]


def test_check_ins_placed_over_http_and_the_nightly_misses_are_counted(client, world, clock):
    """A strict subject (1-day periods) from 1 March: on time on the 1st, late for the 2nd (08:00 on the
    3rd), on time on the 3rd, nothing on the 4th and 5th: the nightly job records those two misses."""
    office2, grid2 = _office(world, "OA3")
    sid = make_subject(
        office_id=office2,
        grid_id=grid2,
        officer_id=None,
        username="cmphttp",
        start_date=date(YEAR, 3, 1),
        end_date=date(YEAR + 1, 12, 31),
        supervision_level="strict",
    ).id
    with db.tx() as s:
        subject = s.get(Subject, sid)
    h = headers_for(client, subject)
    outcomes = [
        check_in(client, h, clock, sh(3, 1, 9))["outcome"],
        check_in(client, h, clock, sh(3, 3, 8))["outcome"],
        check_in(client, h, clock, sh(3, 3, 9))["outcome"],
    ]
    assert outcomes == ["on_time", "late", "on_time"]
    checkin_jobs.run_missed(sh(3, 6, 22, 5))
    with db.tx() as s:
        bureau = actor_for(s, s.get(User, world.users["bureau_A"].id))
        officer = actor_for(s, s.get(User, world.users["officer_A"].id))
    board = dashboard.build(bureau, office2, now=sh(3, 6, 23))
    want = {"due": 5, "on_time": 2, "late": 1, "missed": 2, "rate_pct": 60.0, "subjects_missed": 1}
    assert board["checkins"] == {"from": date(YEAR, 2, 5), "days": 30, **want}
    assert [o["checkins"] for o in board["offices"]] == [want]
    # thirty days on, only the misses of the 4th and 5th are still in the window (decided on the 5th and 6th)
    later = dashboard.build(bureau, office2, now=sh(4, 4, 12))
    assert later["checkins"] == {
        "from": date(YEAR, 3, 6),
        "days": 30,
        "due": 1,
        "on_time": 0,
        "late": 0,
        "missed": 1,
        "rate_pct": 0.0,
        "subjects_missed": 1,
    }
    # the officer of office A does not see office A2's subject
    assert office2 not in {o["office_id"] for o in dashboard.build(officer, None, now=sh(3, 6, 23))["offices"]}
