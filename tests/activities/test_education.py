"""Education over HTTP (heartbeats, offline sessions, verification, summary) and its monthly schedules."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from backend.db import db
from backend.models import Notification
from backend.models.education import EducationSession
from backend.services.activities import monthly
from tests.factories import auth_header
from tests.support.activities import (
    YEAR,
    events,
    headers_for,
    new_subject,
    sh,
    uploaded,
)


def start(client, h, **over):
    resp = client.post("/api/v1/me/education-sessions", json={"mode": "online", "course": "法治课", **over}, headers=h)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def beat(client, h, clock, session_id: int, at: datetime, **body):
    clock.set(at)
    return client.post(f"/api/v1/me/education-sessions/{session_id}/heartbeat", json=body, headers=h)


def offline(client, h, clock, begin: datetime, end: datetime, **over):
    clock.set(end + timedelta(minutes=5))
    uid = uploaded(client, h, begin + (end - begin) / 2, purpose="education")
    body = {"mode": "offline", "course": "社区讲座", "started_at": begin.isoformat(), "ended_at": end.isoformat()}
    return client.post("/api/v1/me/education-sessions", json={**body, "upload_id": uid, **over}, headers=h)


def summary(client, h, month: str | None = None) -> dict:
    resp = client.get("/api/v1/me/education/summary" + (f"?month={month}" if month else ""), headers=h)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_heartbeats_count_gaps_up_to_120_s_and_never_more_than_wall_time(client, world, clock):
    h = headers_for(client, new_subject(world))
    t0 = sh(3, 2, 20, 0)
    clock.set(t0)
    e = start(client, h)
    assert e["status"] == "active" and e["credited_minutes"] == 0
    for s in (60, 120, 180):
        assert beat(client, h, clock, e["id"], t0 + timedelta(seconds=s)).status_code == 200
    # the phone slept: a 300 s gap stops the clock; it starts again at the next heartbeat
    beat(client, h, clock, e["id"], t0 + timedelta(seconds=480))
    got = beat(client, h, clock, e["id"], t0 + timedelta(seconds=570), ended=True, quiz_score=90).get_json()
    assert (got["status"], got["credited_minutes"], got["quiz_score"]) == ("ended", 4, 90)  # 180 s + 90 s
    with db.tx() as s:
        assert s.get(EducationSession, e["id"]).credited_seconds == 270
    late = beat(client, h, clock, e["id"], t0 + timedelta(seconds=600))
    assert (late.status_code, late.get_json()["code"]) == (409, "EDU_SESSION_ENDED")
    # a retried heartbeat (the same moment again) adds nothing
    e2 = start(client, h)
    beat(client, h, clock, e2["id"], t0 + timedelta(seconds=660))
    assert beat(client, h, clock, e2["id"], t0 + timedelta(seconds=660)).get_json()["credited_minutes"] == 1
    assert summary(client, h, f"{YEAR}-03")["counted_minutes"] == 5


def test_overlapping_sessions_count_once(client, world, clock):
    h = headers_for(client, new_subject(world))
    t0 = sh(3, 2, 9, 0)
    clock.set(t0)
    a, b = start(client, h), start(client, h)  # two devices at once
    for s in range(60, 601, 60):
        beat(client, h, clock, a["id"], t0 + timedelta(seconds=s))
        beat(client, h, clock, b["id"], t0 + timedelta(seconds=s))
    got = summary(client, h, f"{YEAR}-03")
    assert got["counted_minutes"] == 10 and got["days"] == [{"date": f"{YEAR}-03-02", "minutes": 10}]


def test_offline_sessions_need_a_photo_and_an_officers_confirmation_and_a_day_counts_4_hours(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    three = offline(client, h, clock, sh(3, 2, 8), sh(3, 2, 11)).get_json()
    two = offline(client, h, clock, sh(3, 2, 13), sh(3, 2, 15), mode="centralised").get_json()
    assert three["status"] == "pending" and two["status"] == "pending"
    got = summary(client, h, f"{YEAR}-03")
    assert (got["counted_minutes"], got["pending_minutes"]) == (0, 300)
    officer = auth_header(client, "officerA")
    url = "/api/v1/staff/education-sessions/{}/verification"
    resp = client.post(url.format(three["id"]), json={"decision": "reject"}, headers=officer)
    assert resp.get_json()["code"] == "DECISION_NOTE_REQUIRED"
    for e in (three, two):
        resp = client.post(url.format(e["id"]), json={"decision": "confirm"}, headers=officer)
        assert resp.status_code == 200 and resp.get_json()["status"] == "verified"
    assert client.post(url.format(two["id"]), json={"decision": "confirm"}, headers=officer).status_code == 200
    got = summary(client, h, f"{YEAR}-03")
    assert got["counted_minutes"] == 240 and got["days"][0]["minutes"] == 240  # 5 h that day, 4 h count
    # confirmed by the officer: not the bureau's, which decides only overdue items (escalation)
    bureau = client.post(url.format(two["id"]), json={"decision": "confirm"}, headers=auth_header(client, "bureauA"))
    assert bureau.status_code == 422 and bureau.get_json()["code"] == "NOT_THE_DECIDER"
    assert (
        client.post(
            url.format(two["id"]), json={"decision": "confirm"}, headers=auth_header(client, "officerB")
        ).status_code
        == 404
    )
    online = start(client, h)
    assert (
        client.post(url.format(online["id"]), json={"decision": "confirm"}, headers=officer).get_json()["code"]
        == "EDU_NOT_OFFLINE"
    )
    hb = client.post(f"/api/v1/me/education-sessions/{two['id']}/heartbeat", json={}, headers=h)
    assert hb.get_json()["code"] == "EDU_NOT_ONLINE"


def test_offline_refusals(client, world, clock):
    h = headers_for(client, new_subject(world))
    clock.set(sh(3, 2, 12))
    base = {
        "mode": "offline",
        "course": "讲座",
        "started_at": sh(3, 2, 8).isoformat(),
        "ended_at": sh(3, 2, 9).isoformat(),
    }

    def code(**over):
        resp = client.post("/api/v1/me/education-sessions", json={**base, **over}, headers=h)
        return resp.status_code, resp.get_json()["code"]

    assert code() == (422, "EDU_PHOTO_REQUIRED")
    assert code(minutes=61) == (422, "EDU_MINUTES_EXCEED_SPAN")
    assert code(ended_at=sh(3, 2, 7).isoformat()) == (422, "EDU_SPAN_INVALID")
    assert code(ended_at=sh(3, 2, 13).isoformat()) == (422, "EDU_SPAN_INVALID")  # ends in the future
    assert code(mode="tv") == (400, "VALIDATION_FAILED")


def _session(subject_id: int, office_id: int, spans: list[tuple[datetime, datetime]], status: str = "ended") -> None:
    """A stored online session with the given counted stretches (the monthly job's input)."""
    with db.tx() as s:
        s.add(
            EducationSession(
                subject_id=subject_id,
                office_id=office_id,
                mode="online",
                course="课程",
                status=status,
                started_at=spans[0][0],
                ended_at=spans[-1][1],
                last_heartbeat_at=spans[-1][1],
                intervals=[[a.isoformat(), b.isoformat()] for a, b in spans],
                credited_seconds=int(sum((b - a).total_seconds() for a, b in spans)),
            )
        )


def test_the_monthly_job_prorates_splits_at_month_end_and_runs_once(client, world, clock):
    office = world.units["office_A"]
    # started on the 16th of a 31-day month: 8 h × 16 / 31 = 248 minutes required in March
    partial = new_subject(world, start_date=date(YEAR, 3, 16))
    full = new_subject(world, level="strict")  # 10 h
    _session(partial.id, office, [(sh(3, 20, 9), sh(3, 20, 12)), (sh(3, 21, 9), sh(3, 21, 10))])  # 4 h
    # 23:30 on 31 March to 00:30 on 1 April: half counts in March, half in April
    _session(partial.id, office, [(sh(3, 31, 23, 30), sh(4, 1, 0, 30))])
    _session(full.id, office, [(sh(3, 5, 9), sh(3, 5, 13)), (sh(3, 6, 9), sh(3, 6, 12))])  # 7 h
    result = monthly.run_monthly(f"{YEAR}-03")
    assert result["met"] >= 1 and result["missed"] >= 1
    met = {e.rule_code: e for e in events(partial.id)}
    assert set(met) == {"EDU_MONTH_MET", "EDU_EXTRA_HOUR"}
    assert met["EDU_EXTRA_HOUR"].quantity == 270 - 248 and met["EDU_EXTRA_HOUR"].points == 0  # 22 min: no whole hour
    assert met["EDU_MONTH_MET"].source_id == f"{partial.id}:{YEAR}-03" and met["EDU_MONTH_MET"].month == f"{YEAR}-03"
    assert [e.rule_code for e in events(full.id)] == ["EDU_MONTH_MISSED"]
    assert events(full.id)[0].points == -5
    again = monthly.run_monthly(f"{YEAR}-03")
    assert again["subjects"] == result["subjects"]
    assert len(events(partial.id)) == 2 and len(events(full.id)) == 1
    # April for the partial subject: 30 minutes carried over the month end
    clock.set(sh(4, 2, 9))
    april = summary(client, headers_for(client, partial), f"{YEAR}-04")
    assert april["counted_minutes"] == 30 and april["required_minutes"] == 480


def test_extra_hours_earn_whole_points_under_the_cap(world):
    subject = new_subject(world, level="lenient")  # 6 h
    spans = [(sh(5, d, 8), sh(5, d, 12)) for d in range(1, 6)]  # 20 h, 4 h a day
    _session(subject.id, world.units["office_A"], spans)
    monthly.run_monthly(f"{YEAR}-05")
    extra = events(subject.id, "EDU_EXTRA_HOUR")[0]
    assert extra.quantity == 14 * 60 and extra.requested_points == 14 and extra.points == 5  # capped at +5


def test_the_20th_reminds_those_under_half(world):
    behind, ahead = new_subject(world), new_subject(world)
    _session(ahead.id, world.units["office_A"], [(sh(12, 1, 9), sh(12, 1, 13)), (sh(12, 2, 9), sh(12, 2, 10))])  # 5 h
    _session(behind.id, world.units["office_A"], [(sh(12, 1, 9), sh(12, 1, 12))])  # 3 h of 8
    result = monthly.scheduled_reminders(sh(12, 20, 9))
    assert result["month"] == f"{YEAR}-12"
    with db.tx() as s:
        told = {n.user_id for n in s.scalars(select(Notification).where(Notification.kind == "education_reminder"))}
    assert behind.user_id in told and ahead.user_id not in told


def test_year_end_month_is_evaluated_on_the_first_of_january(world):
    subject = new_subject(world)
    _session(subject.id, world.units["office_A"], [(sh(12, 31, 20), sh(1, 1, 4, year=YEAR + 1))])
    result = monthly.scheduled_monthly(sh(1, 1, 1, 30, year=YEAR + 1))
    assert result["month"] == f"{YEAR}-12"
    ev = [e for e in events(subject.id) if e.source_id == f"{subject.id}:{YEAR}-12"]
    # 4 h on 31 December (20:00–24:00) of 8 h: missed; the 4 h after midnight belong to January
    assert [e.rule_code for e in ev] == ["EDU_MONTH_MISSED"] and "240 分钟" in ev[0].reason
