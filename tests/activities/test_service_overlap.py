"""Overlapping community service (docs/education-and-service.md#overlapping-reports): refused, or a witness."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.db import db
from backend.models.service import ServiceReport
from tests.activities.test_service import report, verify
from tests.factories import auth_header, fire_together
from tests.support.activities import events, headers_for, new_subject, sh, uploaded

GRID_URL = "/api/v1/grid/service-reports"


def _count(subject_id: int) -> int:
    return db.session.scalar(select(func.count()).where(ServiceReport.subject_id == subject_id))


def test_a_subjects_own_overlapping_report_is_refused_naming_the_other(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    first = report(client, h, clock, sh(3, 2, 9), sh(3, 2, 11), 2).get_json()
    resp = report(client, h, clock, sh(3, 2, 10), sh(3, 2, 12), 1, activity_type="助老服务")
    assert resp.status_code == 422, resp.get_json()
    body = resp.get_json()
    assert body["code"] == "SERVICE_OVERLAP" and body["detail"]["report_id"] == first["id"]
    assert str(first["id"]) in body["errors"]["started_at"][0]
    inside = report(client, h, clock, sh(3, 2, 9, 30), sh(3, 2, 10), 0.5)
    assert inside.get_json()["code"] == "SERVICE_OVERLAP"
    # touching ends do not overlap
    assert report(client, h, clock, sh(3, 2, 11), sh(3, 2, 12), 1).status_code == 201
    assert report(client, h, clock, sh(3, 2, 8), sh(3, 2, 9), 1).status_code == 201
    assert _count(subject.id) == 3


def test_a_rejected_report_no_longer_blocks_its_span(client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    first = report(client, h, clock, sh(3, 2, 9), sh(3, 2, 11), 2).get_json()
    assert verify(client, first["id"], "reject", "照片与活动不符").status_code == 200
    again = report(client, h, clock, sh(3, 2, 9), sh(3, 2, 11), 2)
    assert again.status_code == 201, again.get_json()
    verify(client, again.get_json()["id"])
    assert [e.points for e in events(subject.id, "SERVICE_HOUR")] == [2]


def test_a_grid_workers_overlapping_report_of_the_same_activity_witnesses_it_and_counts_once(client, world, clock):
    subject = new_subject(world)
    own = report(client, headers_for(client, subject), clock, sh(3, 2, 9), sh(3, 2, 12), 3).get_json()
    grid = auth_header(client, "gridA")
    resp = report(
        client, grid, clock, sh(3, 2, 10), sh(3, 2, 11), 1, url=GRID_URL, organisation=None, subject_id=subject.id
    )
    assert resp.status_code == 201, resp.get_json()
    witnessed = resp.get_json()
    assert (witnessed["id"], witnessed["source"], witnessed["minutes"]) == (own["id"], "subject", 180)
    assert witnessed["witnessed_by"] == world.users["grid_A"].id
    assert len(witnessed["upload_ids"]) == 2 and witnessed["upload_ids"][0] == own["upload_ids"][0]
    assert _count(subject.id) == 1
    assert verify(client, own["id"]).status_code == 200
    assert [(e.quantity, e.points) for e in events(subject.id, "SERVICE_HOUR")] == [(180, 3)]


def test_a_grid_workers_overlapping_report_of_another_activity_is_refused(client, world, clock):
    subject = new_subject(world)
    own = report(client, headers_for(client, subject), clock, sh(3, 2, 9), sh(3, 2, 12), 3).get_json()
    grid = auth_header(client, "gridA")
    resp = report(
        client,
        grid,
        clock,
        sh(3, 2, 10),
        sh(3, 2, 11),
        1,
        url=GRID_URL,
        subject_id=subject.id,
        activity_type="交通劝导",
    )
    assert resp.status_code == 422 and resp.get_json()["detail"]["report_id"] == own["id"]
    assert _count(subject.id) == 1


def test_a_subjects_report_overlapping_an_observed_one_is_refused(client, world, clock):
    subject = new_subject(world)
    grid = auth_header(client, "gridA")
    observed = report(client, grid, clock, sh(3, 2, 9), sh(3, 2, 11), 2, url=GRID_URL, subject_id=subject.id)
    assert observed.status_code == 201
    resp = report(client, headers_for(client, subject), clock, sh(3, 2, 10), sh(3, 2, 12), 2)
    assert resp.status_code == 422 and resp.get_json()["detail"]["report_id"] == observed.get_json()["id"]
    # a second grid worker's observation of it is refused too: only a subject's report takes a witness
    again = report(client, grid, clock, sh(3, 2, 9), sh(3, 2, 10), 1, url=GRID_URL, subject_id=subject.id)
    assert again.get_json()["code"] == "SERVICE_OVERLAP"
    assert _count(subject.id) == 1


def test_another_subjects_reports_do_not_overlap(client, world, clock):
    one, two = new_subject(world), new_subject(world)
    assert report(client, headers_for(client, one), clock, sh(3, 2, 9), sh(3, 2, 11), 2).status_code == 201
    assert report(client, headers_for(client, two), clock, sh(3, 2, 9), sh(3, 2, 11), 2).status_code == 201


def test_two_overlapping_reports_sent_at_once_store_one(app, client, world, clock):
    subject = new_subject(world)
    h = headers_for(client, subject)
    clock.set(sh(3, 2, 12))
    bodies = [
        {
            "activity_type": "社区清扫",
            "started_at": sh(3, 2, 9 + i).isoformat(),
            "ended_at": sh(3, 2, 11 + i).isoformat(),
            "place": "幸福社区",
            "organisation": "幸福社区居委会",
            "hours": 1,
            "upload_ids": [uploaded(client, h, sh(3, 2, 10), purpose="service")],
        }
        for i in range(2)
    ]
    sent = iter(bodies)
    results = fire_together(app, 2, lambda c: c.post("/api/v1/me/service-reports", json=next(sent), headers=h))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201, 422], [r.get_json() for r in results]
    refused = next(r for r in results if r.status_code == 422).get_json()
    stored = next(r for r in results if r.status_code == 201).get_json()
    assert (refused["code"], refused["detail"]["report_id"]) == ("SERVICE_OVERLAP", stored["id"])
    assert _count(subject.id) == 1
