"""Community service over HTTP: the subject's and the grid worker's reports, verification, hours and caps."""

from __future__ import annotations

from datetime import datetime

from tests.factories import auth_header
from tests.support.activities import (
    YEAR,
    events,
    headers_for,
    new_subject,
    sh,
    uploaded,
)


def report(client, h, clock, begin: datetime, end: datetime, hours: float, *, url="/api/v1/me/service-reports", **over):
    clock.set(end)
    uid = uploaded(client, h, begin, purpose="service")
    body = {
        "activity_type": "社区清扫",
        "started_at": begin.isoformat(),
        "ended_at": end.isoformat(),
        "place": "幸福社区",
        "organisation": "幸福社区居委会",
        "hours": hours,
        "upload_ids": [uid],
        **over,
    }
    return client.post(url, json=body, headers=h)


def verify(client, report_id: int, decision: str = "verify", note: str | None = None, who: str = "officerA"):
    body = {"decision": decision, **({"note": note} if note else {})}
    return client.post(
        f"/api/v1/staff/service-reports/{report_id}/verification", json=body, headers=auth_header(client, who)
    )


def test_verified_service_earns_a_point_per_whole_hour_with_minutes_carried_in_the_month(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    a = report(client, h, clock, sh(3, 2, 9), sh(3, 2, 12), 2.5).get_json()
    assert (a["status"], a["minutes"], a["source"]) == ("pending", 150, "subject")
    assert events(subject.id) == []  # nothing before the officer's verification
    ok = verify(client, a["id"])
    assert ok.status_code == 200 and ok.get_json()["status"] == "verified"
    assert verify(client, a["id"]).status_code == 200  # the same decision again: nothing new
    b = report(client, h, clock, sh(3, 9, 9), sh(3, 9, 10), 0.5).get_json()
    verify(client, b["id"])
    got = events(subject.id, "SERVICE_HOUR")
    assert [(e.quantity, e.points) for e in got] == [(150, 2), (30, 1)]  # 2 h 30 min, then the carry makes 3 h
    rejected = report(client, h, clock, sh(3, 10, 9), sh(3, 10, 10), 1).get_json()
    assert verify(client, rejected["id"], "reject").get_json()["code"] == "DECISION_NOTE_REQUIRED"
    assert verify(client, rejected["id"], "reject", "照片与活动不符").get_json()["status"] == "rejected"
    assert verify(client, rejected["id"], "verify").status_code == 409
    assert len(events(subject.id)) == 2
    assert verify(client, a["id"], who="officerB").status_code == 404
    # the bureau decides only overdue items (escalation, docs/warnings-and-suggestions.md#escalation)
    assert verify(client, a["id"], who="bureauA").get_json()["code"] == "NOT_THE_DECIDER"


def test_the_monthly_cap_applies(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    r = report(client, h, clock, sh(4, 1, 6), sh(4, 1, 19), 12).get_json()
    verify(client, r["id"])
    (e,) = events(subject.id, "SERVICE_HOUR")
    assert (e.requested_points, e.points, e.month) == (12, 10, f"{YEAR}-04")


def test_a_grid_workers_observed_report_counts_as_witnessed_and_still_needs_the_officer(client, world, clock):
    subject = new_subject(world)
    grid = auth_header(client, "gridA")
    url = "/api/v1/grid/service-reports"
    resp = report(client, grid, clock, sh(3, 2, 9), sh(3, 2, 11), 2, url=url, organisation=None, subject_id=subject.id)
    assert resp.status_code == 201, resp.get_json()
    r = resp.get_json()
    assert (r["source"], r["status"], r["subject_id"]) == ("grid_worker", "pending", subject.id)
    verify(client, r["id"])
    assert [e.points for e in events(subject.id, "SERVICE_HOUR")] == [2]
    foreign = new_subject(world, side="B")
    resp = report(client, grid, clock, sh(3, 3, 9), sh(3, 3, 10), 1, url=url, subject_id=foreign.id)
    assert resp.status_code == 404
    assert report(client, headers_for(client, subject), clock, sh(3, 3, 9), sh(3, 3, 10), 1, url=url).status_code == 403


def test_service_refusals(client, world, clock):
    h = headers_for(client, new_subject(world))

    def code(begin, end, hours, **over):
        resp = report(client, h, clock, begin, end, hours, **over)
        return resp.status_code, resp.get_json().get("code")

    assert code(sh(3, 2, 9), sh(3, 2, 10), 1.5) == (422, "SERVICE_HOURS_EXCEED_SPAN")
    assert code(sh(3, 2, 10), sh(3, 2, 9), 0.5) == (422, "SERVICE_SPAN_INVALID")
    assert code(sh(3, 2, 9), sh(3, 2, 10), 1, upload_ids=[]) == (422, "SERVICE_PHOTO_REQUIRED")
    assert code(sh(3, 2, 9), sh(3, 2, 10), 1, organisation=None) == (422, "SERVICE_WITNESS_REQUIRED")
    assert code(sh(3, 2, 9), sh(3, 2, 10), 1, organisation=None, witness_name="李四")[0] == 201
    assert code(sh(3, 2, 9), sh(3, 2, 10), 0) == (400, "VALIDATION_FAILED")
