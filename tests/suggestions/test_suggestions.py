"""Suggestions: each default trigger fired by a fixture and not by a near miss; no duplicates.

Rules: docs/warnings-and-suggestions.md#default-triggers.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from backend.db import db
from backend.models import AuditLog, utcnow
from backend.models.education import EducationSession
from backend.models.field import FieldReport, Suggestion
from backend.services.core.actors import Actor
from backend.services.core.warnings import raise_warning
from backend.services.scoring import emit_event, revoke_event
from backend.services.suggestions import engine, triggers
from tests.factories import auth_header
from tests.support.field import SH, subject
from tests.support.scoring import new_subject, stored
from tests.support.uploads import run_outbox

_n = iter(range(1, 10**6))


def penalise(subject_id: int, rule: str, at: datetime) -> int:
    return emit_event(subject_id, rule, "test_source", f"t{next(_n)}", at).event.id


def made(kind: str | None = None) -> list[Suggestion]:
    stmt = select(Suggestion).order_by(Suggestion.id)
    if kind:
        stmt = stmt.where(Suggestion.kind == kind)
    with db.tx() as s:
        return list(s.scalars(stmt.execution_options(populate_existing=True)))


def subjects_of(kind: str) -> set[int]:
    return {x.subject_id for x in made(kind)}


def test_two_missed_checkins_in_30_days(world):
    now = utcnow()
    hit, miss, revoked = (new_subject(world).id for _ in range(3))
    e1, e2 = (
        penalise(hit, "CHECKIN_MISSED", now - timedelta(days=2)),
        penalise(hit, "CHECKIN_MISSED", now - timedelta(days=29)),
    )
    penalise(miss, "CHECKIN_MISSED", now - timedelta(days=3))
    penalise(miss, "CHECKIN_MISSED", now - timedelta(days=31))  # outside the window
    penalise(revoked, "CHECKIN_MISSED", now - timedelta(days=3))
    with db.tx() as s:
        revoke_event(s, penalise(revoked, "CHECKIN_MISSED", now - timedelta(days=4)), "appeal:1")
    result = engine.evaluate(now)
    assert subjects_of("missed_checkins") == {hit}
    [sug] = made("missed_checkins")
    assert (sug.category, sug.priority, sug.status) == ("supervision", "high", "open")
    assert sug.officer_id == world.users["officer_A"].id and sug.office_id == world.units["office_A"]
    assert {e["id"] for e in sug.rationale["evidence"]} == {e1, e2}
    assert sug.rationale["summary"] == "近30日未按时报到2次" and sug.due_at == now + timedelta(days=3)
    assert result["per_trigger"]["missed_checkins"] == 1


def _education(subject_id: int, office_id: int, spans: list[tuple[datetime, datetime]]) -> None:
    with db.tx() as s:
        for a, b in spans:
            s.add(
                EducationSession(
                    subject_id=subject_id,
                    office_id=office_id,
                    mode="online",
                    course="法治课",
                    status="ended",
                    started_at=a,
                    ended_at=b,
                    last_heartbeat_at=b,
                    intervals=[[a.isoformat(), b.isoformat()]],
                )
            )


def test_education_under_half_by_the_20th(world):
    office = world.units["office_A"]
    behind, ahead = new_subject(world).id, new_subject(world).id  # normal level: 8 h a month, half is 240 min
    _education(behind, office, [(datetime(2026, 11, 10, 9, tzinfo=SH), datetime(2026, 11, 10, 12, 59, tzinfo=SH))])
    two_days = [
        (datetime(2026, 11, 10, 9, tzinfo=SH), datetime(2026, 11, 10, 12, tzinfo=SH)),
        (datetime(2026, 11, 12, 9, tzinfo=SH), datetime(2026, 11, 12, 10, tzinfo=SH)),
    ]
    _education(ahead, office, two_days)  # 240 min: exactly half is not under half
    engine.evaluate(datetime(2026, 11, 19, 23, 0, tzinfo=SH))  # before the 20th: nobody yet
    assert made("education_shortfall") == []
    engine.evaluate(datetime(2026, 11, 20, 8, 0, tzinfo=SH))
    idle = {world.subjects["A"].id, world.subjects["B"].id}  # nothing learnt at all
    assert subjects_of("education_shortfall") == {behind} | idle
    [sug] = [x for x in made("education_shortfall") if x.subject_id == behind]
    assert sug.category == "education"
    assert sug.rationale["facts"] == {
        "month": "2026-11",
        "done_minutes": 239,
        "required_minutes": 480,
        "as_of": "2026-11-20",
    }


def _report(world, subject_id: int, categories: list[str], observed: datetime, status: str = "recorded") -> int:
    with db.tx() as s:
        r = FieldReport(
            subject_id=subject_id,
            reporter_id=world.users["grid_A"].id,
            office_id=world.units["office_A"],
            grid_id=world.units["grid_A"],
            text="…",
            observed_at=observed,
            classification={},
            dictionary_version=1,
            polarity="need",
            categories=categories,
            status=status,
        )
        s.add(r)
        s.flush()
        return r.id


def test_unemployment_and_family_conflict_reports(world):
    now = utcnow()
    jobless, quarrel, old, dismissed = (new_subject(world).id for _ in range(4))
    rid = _report(world, jobless, ["unemployment", "illness"], now - timedelta(days=3))
    _report(world, quarrel, ["family_conflict"], now - timedelta(days=10))
    _report(world, old, ["family_conflict", "unemployment"], now - timedelta(days=31))
    _report(world, dismissed, ["unemployment"], now - timedelta(days=1), status="dismissed")
    _report(world, dismissed, ["new_job"], now - timedelta(days=1))
    engine.evaluate(now)
    assert subjects_of("unemployment_reports") == {jobless}
    assert subjects_of("family_conflict_reports") == {quarrel}
    [sug] = made("unemployment_reports")
    assert sug.category == "employment_help" and sug.rationale["evidence"][0]["id"] == rid
    assert made("family_conflict_reports")[0].category == "counselling"


def test_a_drop_of_30_points_in_30_days(world):
    now = utcnow()
    dropped, near = new_subject(world, provincial=700).id, new_subject(world, provincial=700).id
    for rule in ("GEOFENCE_BREACH", "GRID_NEGATIVE", "CHECKIN_MISSED"):  # −20 −5 −5
        penalise(dropped, rule, now)
    for rule in ("GEOFENCE_BREACH", "CHECKIN_MISSED"):  # −25: not enough
        penalise(near, rule, now)
    engine.evaluate(now + timedelta(minutes=1))
    assert subjects_of("score_drop") == {dropped}
    [sug] = made("score_drop")
    assert sug.rationale["facts"]["net_change"] == -30 and len(sug.rationale["evidence"]) == 3
    made_before = len(made())
    engine.evaluate(now + timedelta(days=31))  # the drop is older than the window now
    assert len(made()) == made_before


def test_a_fall_into_orange(world):
    now = utcnow()
    fell = new_subject(world, provincial=525).id  # 210 + 495 = 705: yellow
    near = new_subject(world, provincial=575).id  # 230 + 495 = 725: yellow, and −20 keeps it yellow
    for sid in (fell, near):
        penalise(sid, "GEOFENCE_BREACH", now)
    assert stored(fell)["grade"] == "poor" and stored(near)["grade"] == "fair"
    engine.evaluate(now + timedelta(minutes=1))
    assert subjects_of("grade_fall") == {fell}
    [sug] = made("grade_fall")
    assert sug.rationale["facts"] == {"grade": "poor", "total": 685}
    assert sug.rationale["evidence"][0]["from"] == "fair"


def test_green_and_stable_for_six_months(world):
    now = utcnow()
    stable = new_subject(world, provincial=1000).id  # 400 + 495 = 895: green
    lenient = new_subject(world, provincial=1000, supervision_level="lenient").id
    wavered = new_subject(world, provincial=840).id  # 336 + 495 = 831: green, a −40 dip is blue
    for sid in (stable, lenient, wavered):
        stored(sid)  # the score row and its first change exist from now on
    later = now + timedelta(days=100)
    dip = emit_event(wavered, "GEOFENCE_BREACH", "test_source", "dip1", now).event.id
    emit_event(wavered, "GEOFENCE_BREACH", "test_source", "dip2", now)
    assert stored(wavered)["grade"] == "good"
    with db.tx() as s:
        revoke_event(s, dip, "appeal:1")
    engine.evaluate(later)
    assert made("green_stable") == []
    with db.tx() as s:
        from backend.models.scoring import ScoreChange

        s.execute(
            ScoreChange.__table__.update()
            .where(ScoreChange.subject_id.in_([stable, lenient, wavered]), ScoreChange.cause == "initial")
            .values(at=now - timedelta(days=90))
        )
    engine.evaluate(now + timedelta(days=94))  # the first change is 184 days old, but the dip was 94 days ago
    assert subjects_of("green_stable") == {stable}
    [sug] = made("green_stable")
    assert (sug.category, sug.priority) == ("incentive", "low") and sug.rationale["facts"][
        "supervision_level"
    ] == "normal"


def test_running_twice_or_at_once_makes_no_duplicate(world):
    now = utcnow()
    ids = [new_subject(world).id for _ in range(6)]
    with db.tx() as s:
        audit_before = s.scalar(select(func.coalesce(func.max(AuditLog.id), 0)))
    for sid in ids:
        penalise(sid, "CHECKIN_MISSED", now - timedelta(days=1))
        penalise(sid, "CHECKIN_MISSED", now - timedelta(days=2))
    errors: list[BaseException] = []

    def run():
        try:
            engine.evaluate(now)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            db.remove()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(x.subject_id for x in made("missed_checkins")) == sorted(ids)
    again = engine.evaluate(now)
    everything = made()  # education_shortfall too, when the tests run after the 20th of a month
    assert again["created"] == 0 and len(everything) == len({(x.subject_id, x.kind) for x in everything})
    with db.tx() as s:
        runs = s.scalars(
            select(AuditLog.details).where(AuditLog.action == "suggestions.evaluate", AuditLog.id > audit_before)
        ).all()
    assert len(runs) == 4
    assert sum(r["count"] for r in runs) == len(everything)


def test_a_high_severity_signal_evaluates_the_subject_at_once(world):
    now = utcnow()
    sid = new_subject(world).id
    other = new_subject(world).id
    for x in (sid, other):
        penalise(x, "CHECKIN_MISSED", now - timedelta(days=1))
        penalise(x, "CHECKIN_MISSED", now - timedelta(days=2))
    with db.tx() as s:
        raise_warning(s, subject(sid), "KEYWORD_HIGH", "high", "网格员报告高风险情况:打架", period_key="day:x")
    run_outbox()
    assert subjects_of("missed_checkins") == {sid}, "only the signalled subject, before the nightly run"


def test_officer_accepts_dismisses_and_completes(client, world):
    now = utcnow()
    sids = [new_subject(world).id for _ in range(3)]
    for sid in sids:
        penalise(sid, "CHECKIN_MISSED", now - timedelta(days=1))
        penalise(sid, "CHECKIN_MISSED", now - timedelta(days=2))
    engine.evaluate(now)
    a, b, c = made("missed_checkins")
    officer = auth_header(client, "officerA")
    url = "/api/v1/staff/suggestions/{}".format
    listed = client.get("/api/v1/staff/suggestions?status=open&kind=missed_checkins", headers=officer).get_json()
    assert {x["id"] for x in listed} == {a.id, b.id, c.id} and listed[0]["rationale"]["evidence"]
    assert client.post(url(a.id), json={"action": "accept"}, headers=officer).get_json()["status"] == "accepted"
    assert client.post(url(a.id), json={"action": "accept"}, headers=officer).status_code == 200
    done = client.post(url(a.id), json={"action": "done", "outcome": "effective", "note": "已约谈"}, headers=officer)
    assert done.status_code == 200 and (done.get_json()["status"], done.get_json()["outcome"]) == ("done", "effective")
    late = client.post(url(a.id), json={"action": "accept"}, headers=officer)
    assert late.status_code == 409 and late.get_json()["code"] == "ILLEGAL_TRANSITION"
    no_reason = client.post(url(b.id), json={"action": "dismiss"}, headers=officer)
    assert no_reason.status_code == 422 and no_reason.get_json()["code"] == "SUGGESTION_REASON_REQUIRED"
    other = client.post(url(b.id), json={"action": "dismiss", "reason": "other"}, headers=officer)
    assert other.status_code == 422 and other.get_json()["code"] == "SUGGESTION_NOTE_REQUIRED"
    ok = client.post(url(b.id), json={"action": "dismiss", "reason": "already_addressed"}, headers=officer)
    assert ok.status_code == 200 and ok.get_json()["dismiss_reason"] == "already_addressed"
    no_outcome = client.post(url(c.id), json={"action": "done"}, headers=officer)
    assert no_outcome.status_code == 422 and no_outcome.get_json()["code"] == "SUGGESTION_OUTCOME_REQUIRED"
    assert client.post(url(c.id), json={"action": "accept"}, headers=auth_header(client, "officerB")).status_code == 404
    assert client.post(url(c.id), json={"action": "accept"}, headers=auth_header(client, "bureauA")).status_code == 403
    assert client.get(url(c.id), headers=auth_header(client, "bureauA")).status_code == 200
    # a closed suggestion keeps its trigger quiet for the cooldown; a version without a cooldown lets it speak
    assert engine.evaluate(now)["created"] == 0
    admin = Actor(world.users["admin"].id, "admin", "admin")
    data = {"triggers": [{**t, "cooldown_days": 0} for t in triggers.DEFAULT_V1["triggers"]]}
    triggers.publish(admin, data, "no cooldown")
    assert engine.evaluate(now + timedelta(minutes=5))["created"] == 2
    with db.tx() as s:
        assert s.scalar(select(func.max(Suggestion.trigger_version))) == 2
    csv = client.get("/api/v1/staff/suggestions", headers={**officer, "Accept": "text/csv"}).get_data(as_text=True)
    mine = [x for x in made() if x.office_id == world.units["office_A"]]
    assert csv.count("\n") == 1 + len(mine) and "近30日未按时报到2次" in csv


@pytest.mark.parametrize("field", ["status", "category", "priority"])
def test_bad_filters_are_400(client, world, field):
    resp = client.get(f"/api/v1/staff/suggestions?{field}=nonsense", headers=auth_header(client, "officerA"))
    assert resp.status_code == 400
