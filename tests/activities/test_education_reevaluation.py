"""A late confirmation of an offline / 集中教育 session re-evaluates its month through the ledger (issue 19, part 3).

What the job would have written had the session been confirmed in time is checked against a twin subject
whose session was confirmed in time: the same active events, the same points, the same score.
"""

from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy import select

from backend.db import db
from backend.models import Notification, Subject
from backend.models.education import EducationSession
from backend.models.scoring import ScoreEvent
from backend.services.activities import education, monthly
from backend.services.core.actors import Actor
from backend.services.scoring import score
from tests.activities.test_education import _session, offline
from tests.factories import auth_header
from tests.support.activities import YEAR, events, headers_for, new_subject, sh

MARCH = f"{YEAR}-03"
VERIFY = "/api/v1/staff/education-sessions/{}/verification"


def _online(subject: Subject, world, spans: list[tuple[datetime, datetime]]) -> None:
    _session(subject.id, world.units["office_A"], spans)


def _log_offline(client, h, clock, begin: datetime, end: datetime) -> int:
    resp = offline(client, h, clock, begin, end)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["status"] == "pending"
    return resp.get_json()["id"]


def _confirm(client, clock, session_id: int, at: datetime) -> dict:
    clock.set(at)
    resp = client.post(VERIFY.format(session_id), json={"decision": "confirm"}, headers=auth_header(client, "officerA"))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["status"] == "verified"
    return resp.get_json()


def _score_month(clock) -> dict:
    clock.set(sh(4, 1, 1, 30))
    return monthly.scheduled_monthly(sh(4, 1, 1, 30))


def _active(subject_id: int) -> list[tuple]:
    """The subject's counting events, without what names the subject or the session: comparable to a twin's."""
    return sorted(
        (e.rule_code, e.points, e.requested_points, e.month, e.occurred_at)
        for e in events(subject_id)
        if e.status == "active"
    )


def _total(subject_id: int) -> int:
    return score.read(db.session, subject_id).total


def _extra_points(subject_id: int) -> tuple[int, int]:
    extra = [e for e in events(subject_id, "EDU_EXTRA_HOUR") if e.status == "active"]
    return sum(e.quantity for e in extra), sum(e.points for e in extra)


def test_a_late_confirmed_offline_session_turns_a_missed_month_into_a_met_one_and_the_history_shows_why(
    client, world, clock
):
    """The journey: the month was scored missed on the 1st; the officer confirms on the 3rd; it is met."""
    late, twin = new_subject(world), new_subject(world)  # 普管: 8 h = 480 minutes in March
    for subject in (late, twin):
        _online(subject, world, [(sh(3, 5, 9), sh(3, 5, 13)), (sh(3, 6, 9), sh(3, 6, 11))])  # 6 h online
    h_late, h_twin = headers_for(client, late), headers_for(client, twin)
    # 3 h at a community lecture on 30 March, logged the same day: 6 h + 3 h = 540 minutes, 60 beyond 480
    sid = _log_offline(client, h_late, clock, sh(3, 30, 9), sh(3, 30, 12))
    twin_sid = _log_offline(client, h_twin, clock, sh(3, 30, 9), sh(3, 30, 12))
    _confirm(client, clock, twin_sid, sh(3, 31, 10))  # the twin's officer was in time
    assert events(twin.id) == []  # a month not yet scored is left to the job

    result = _score_month(clock)
    assert result["month"] == MARCH
    [missed] = events(late.id)
    assert (missed.rule_code, missed.points, missed.status) == ("EDU_MONTH_MISSED", -5, "active")
    assert "360 分钟" in missed.reason
    before = _total(late.id)

    _confirm(client, clock, sid, sh(4, 3, 10))
    got = {e.rule_code: e for e in events(late.id)}
    assert set(got) == {"EDU_MONTH_MISSED", "EDU_MONTH_MET", "EDU_EXTRA_HOUR"}
    assert got["EDU_MONTH_MISSED"].status == "revoked"
    assert got["EDU_MONTH_MISSED"].status_ref == f"education_session:{sid}"
    met = got["EDU_MONTH_MET"]
    assert (met.source_kind, met.source_id, met.points, met.month) == (
        "education_month",
        f"{late.id}:{MARCH}",
        3,
        MARCH,
    )
    assert f"#{sid}" in met.reason and MARCH in met.reason and "540 分钟" in met.reason
    assert (got["EDU_EXTRA_HOUR"].quantity, got["EDU_EXTRA_HOUR"].points) == (60, 1)
    assert got["EDU_EXTRA_HOUR"].source_id == f"{late.id}:{MARCH}"
    # exactly what the job writes for a session confirmed in time: the same counting events and score
    assert _active(late.id) == _active(twin.id)
    assert _total(late.id) == _total(twin.id) == before + 5 + 3 + 1

    # the score history says why: the revocation and the new event, each naming the session and the month
    changes = client.get("/api/v1/me/score/history", headers=h_late).get_json()["changes"]
    revocation = [c for c in changes if c["cause"] == "revocation"]
    assert len(revocation) == 1 and revocation[0]["ref"] == f"education_session:{sid}"
    assert revocation[0]["details"]["rule_code"] == "EDU_MONTH_MISSED"
    assert f"#{sid}" in revocation[0]["details"]["reason"] and MARCH in revocation[0]["details"]["reason"]
    assert revocation[0]["total_after"] == revocation[0]["total_before"] + 5
    made = [c for c in changes if c["cause"] == "event" and c["details"]["rule_code"] == "EDU_MONTH_MET"]
    assert len(made) == 1 and made[0]["ref"] == f"event:{met.id}"
    assert f"#{sid}" in made[0]["details"]["reason"] and MARCH in made[0]["details"]["reason"]
    listed = client.get("/api/v1/me/score/events?status=revoked", headers=h_late).get_json()
    assert [e["rule_code"] for e in listed] == ["EDU_MONTH_MISSED"]

    # the subject is told, naming the month
    with db.tx() as s:
        notice = s.scalars(
            select(Notification)
            .where(Notification.user_id == late.user_id, Notification.kind == "education_verified")
            .order_by(Notification.id.desc())
        ).first()
    assert f"{YEAR}年3月" in notice.body and "重新评定为达标" in notice.body
    assert notice.data["rescored_months"] == [MARCH]

    # idempotent: confirming again, re-running the job, re-evaluating again write nothing new
    ids = [e.id for e in events(late.id)]
    _confirm(client, clock, sid, sh(4, 4, 10))
    _score_month(clock)
    with db.tx() as s:
        again = education.rescore_month(s, s.get(Subject, late.id), MARCH, ref="test", why="again")
    assert again is not None and again["changed"] is False and again["met"] is True
    assert [e.id for e in events(late.id)] == ids
    assert _total(late.id) == _total(twin.id)


def test_late_extra_hours_are_topped_up_under_the_same_monthly_cap(client, world, clock):
    late, twin = new_subject(world, level="lenient"), new_subject(world, level="lenient")  # 6 h = 360 minutes
    for subject in (late, twin):
        _online(subject, world, [(sh(3, 5, 9), sh(3, 5, 13)), (sh(3, 6, 9), sh(3, 6, 9, 40))])  # 280 minutes
    h_late, h_twin = headers_for(client, late), headers_for(client, twin)
    # 4 h on the 28th and the 29th each, logged then: 280 + 480 = 760 minutes, 400 beyond 360
    sessions = {}
    for who, h in ((late, h_late), (twin, h_twin)):
        sessions[who.id] = [
            _log_offline(client, h, clock, sh(3, 28, 8), sh(3, 28, 12)),
            _log_offline(client, h, clock, sh(3, 29, 8), sh(3, 29, 12)),
        ]
    # the late subject's first session is confirmed in time: met with 160 extra minutes (+2) on the 1st
    _confirm(client, clock, sessions[late.id][0], sh(3, 30, 10))
    for sid in sessions[twin.id]:
        _confirm(client, clock, sid, sh(3, 30, 10))
    _score_month(clock)
    assert [e.rule_code for e in events(late.id)] == ["EDU_MONTH_MET", "EDU_EXTRA_HOUR"]
    assert _extra_points(late.id) == (160, 2)
    assert _extra_points(twin.id) == (400, 5)  # 6 whole hours asked, +5 a month at most

    _confirm(client, clock, sessions[late.id][1], sh(4, 2, 10))
    extra = events(late.id, "EDU_EXTRA_HOUR")
    assert [(e.quantity, e.requested_points, e.points) for e in extra] == [(160, 2, 2), (240, 4, 3)]
    assert extra[1].source_id == f"{late.id}:{MARCH}:education_session:{sessions[late.id][1]}"
    assert _extra_points(late.id) == _extra_points(twin.id) == (400, 5)
    assert len(events(late.id, "EDU_MONTH_MET")) == 1  # met once
    assert _total(late.id) == _total(twin.id)
    # nothing more on a rerun of the job
    count = len(events(late.id))
    _score_month(clock)
    assert len(events(late.id)) == count


def test_a_month_still_short_or_a_rejection_changes_nothing(client, world, clock):
    subject = new_subject(world, level="strict")  # 10 h = 600 minutes
    _online(subject, world, [(sh(3, 5, 9), sh(3, 5, 11))])  # 2 h
    h = headers_for(client, subject)
    short = _log_offline(client, h, clock, sh(3, 30, 9), sh(3, 30, 11))  # + 2 h: 240 of 600
    refused = _log_offline(client, h, clock, sh(3, 31, 8), sh(3, 31, 12))
    _score_month(clock)
    [missed] = events(subject.id)
    clock.set(sh(4, 2, 9))
    officer = auth_header(client, "officerA")
    resp = client.post(VERIFY.format(refused), json={"decision": "reject", "note": "照片与讲座不符"}, headers=officer)
    assert resp.status_code == 200 and resp.get_json()["status"] == "rejected"
    _confirm(client, clock, short, sh(4, 2, 10))
    assert [(e.id, e.status) for e in events(subject.id)] == [(missed.id, "active")]  # still short: it stands
    with db.tx() as s:
        result = education.rescore_month(s, s.get(Subject, subject.id), MARCH, ref="test", why="check")
    assert (result["minutes"], result["required"], result["met"], result["changed"]) == (240, 600, False, False)
    # April has not been scored: nothing to re-evaluate there
    with db.tx() as s:
        assert education.rescore_month(s, s.get(Subject, subject.id), f"{YEAR}-04", ref="t", why="t") is None
    with db.tx() as s:
        audited = s.scalar(
            select(ScoreEvent.id).where(ScoreEvent.subject_id == subject.id, ScoreEvent.status == "revoked")
        )
    assert audited is None


def test_a_confirmation_while_the_job_judges_the_month_waits_and_then_re_evaluates(world, clock, monkeypatch):
    """The job holds the subject's row while it judges the month; a confirmation meanwhile waits for it.

    Without that lock the confirmation would commit unseen (the month not yet scored: nothing to
    re-evaluate) and the job would then score the month missed from sessions it read before.
    """
    subject = new_subject(world)
    _online(subject, world, [(sh(3, 5, 9), sh(3, 5, 13)), (sh(3, 6, 9), sh(3, 6, 11))])  # 360 of 480
    with db.tx() as s:
        pending = EducationSession(
            subject_id=subject.id,
            office_id=subject.office_id,
            mode="offline",
            course="讲座",
            status="pending",
            started_at=sh(3, 30, 9),
            ended_at=sh(3, 30, 12),
            claimed_minutes=180,
            intervals=[[sh(3, 30, 9).isoformat(), sh(3, 30, 12).isoformat()]],
            credited_seconds=180 * 60,
        )
        s.add(pending)
        s.flush()
        pending_id = pending.id
    judging, go_on = threading.Event(), threading.Event()
    judge = education.judge_month

    def slow_judge(*args, **kw):
        if threading.current_thread().name == "monthly":
            judging.set()
            assert go_on.wait(30)
        return judge(*args, **kw)

    monkeypatch.setattr(education, "judge_month", slow_judge)
    officer = Actor(user_id=world.users["officer_A"].id, role="officer", unit_ids=(world.units["office_A"],))
    clock.set(sh(4, 1, 1, 30))
    failures: list[BaseException] = []

    def run(fn):
        try:
            fn()
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            db.remove()

    job = threading.Thread(target=run, args=(lambda: monthly.run_monthly(MARCH),), name="monthly")
    confirm = threading.Thread(
        target=run, args=(lambda: education.verify(officer, pending_id, "confirm", None),), name="confirm"
    )
    job.start()
    assert judging.wait(30), "the job reached the month's judgement"
    confirm.start()
    confirm.join(1.0)
    assert confirm.is_alive(), "the confirmation waits for the job's lock on the subject"
    go_on.set()
    job.join(30)
    confirm.join(30)
    assert not job.is_alive() and not confirm.is_alive() and failures == []
    got = {e.rule_code: e.status for e in events(subject.id)}
    assert got == {"EDU_MONTH_MISSED": "revoked", "EDU_MONTH_MET": "active", "EDU_EXTRA_HOUR": "active"}
