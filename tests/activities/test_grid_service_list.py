"""GET /grid/service-reports: the service a grid worker observed, paged (docs/education-and-service.md
#a-grid-workers-observed-service)."""

from __future__ import annotations

import json

from backend.db import db
from backend.models import Subject
from backend.services.identity.users import create_user
from tests.activities.test_service import report, verify
from tests.factories import PASSWORD, auth_header
from tests.support.activities import headers_for, new_subject, sh

URL = "/api/v1/grid/service-reports"


def _list(client, headers, query: str = "") -> tuple[list[dict], dict]:
    resp = client.get(URL + query, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json(), json.loads(resp.headers["X-Pagination"])


def test_a_grid_worker_lists_what_they_observed_and_witnessed_in_their_grids(client, world, clock):
    first, second, third = new_subject(world), new_subject(world), new_subject(world)
    grid = auth_header(client, "gridA")
    observed = report(
        client, grid, clock, sh(3, 2, 9), sh(3, 2, 11), 2, url=URL, organisation=None, subject_id=first.id
    ).get_json()
    # the subject's own report that this worker then witnessed (same activity, overlapping)
    own = report(client, headers_for(client, second), clock, sh(3, 3, 9), sh(3, 3, 12), 3).get_json()
    witnessed = report(client, grid, clock, sh(3, 3, 10), sh(3, 3, 11), 1, url=URL, subject_id=second.id)
    assert witnessed.status_code == 201 and witnessed.get_json()["id"] == own["id"]
    # neither a report the worker never saw, nor another worker's observation of the same grid
    report(client, headers_for(client, third), clock, sh(3, 4, 9), sh(3, 4, 10), 1)
    with db.tx() as s:
        create_user(s, username="gridA2", password=PASSWORD, role="grid_worker", unit_ids=[world.units["grid_A"]])
    other = auth_header(client, "gridA2")
    elsewhere = report(client, other, clock, sh(3, 5, 9), sh(3, 5, 10), 1, url=URL, subject_id=third.id).get_json()

    items, meta = _list(client, grid)
    assert [i["id"] for i in items] == [own["id"], observed["id"]]  # newest first
    assert meta["total"] == 2
    by_id = {i["id"]: i for i in items}
    assert by_id[observed["id"]]["subject_name"] == first.name and by_id[observed["id"]]["source"] == "grid_worker"
    assert by_id[own["id"]]["subject_name"] == second.name and by_id[own["id"]]["source"] == "subject"
    assert by_id[own["id"]]["witnessed_by"] == world.users["grid_A"].id
    assert by_id[observed["id"]]["minutes"] == 120 and by_id[observed["id"]]["status"] == "pending"
    assert [i["id"] for i in _list(client, other)[0]] == [elsewhere["id"]]
    assert _list(client, auth_header(client, "gridB"))[0] == []

    # paged like the other lists
    page1, meta1 = _list(client, grid, "?page_size=1")
    page2, meta2 = _list(client, grid, "?page_size=1&page=2")
    assert [i["id"] for i in page1 + page2] == [own["id"], observed["id"]]
    assert meta1["next_page"] == 2 and "next_page" not in meta2 and meta2["previous_page"] == 1

    # the officer's verification shows; the filters
    assert verify(client, observed["id"]).status_code == 200
    assert [i["id"] for i in _list(client, grid, "?status=verified")[0]] == [observed["id"]]
    assert [i["status"] for i in _list(client, grid, "?status=verified")[0]] == ["verified"]
    assert [i["id"] for i in _list(client, grid, f"?subject_id={second.id}")[0]] == [own["id"]]
    assert _list(client, grid, "?status=pending&subject_id=" + str(first.id))[0] == []


def test_a_subject_who_left_the_grid_drops_out_of_the_list(client, world, clock):
    subject = new_subject(world)
    grid = auth_header(client, "gridA")
    made = report(client, grid, clock, sh(3, 2, 9), sh(3, 2, 10), 1, url=URL, subject_id=subject.id).get_json()
    assert [i["id"] for i in _list(client, grid)[0]] == [made["id"]]
    with db.tx() as s:
        s.get(Subject, subject.id).grid_id = world.units["grid_B"]
    assert _list(client, grid)[0] == []


def test_refusals(client, world):
    grid = auth_header(client, "gridA")
    for query in ("?status=approved", "?subject_id=0", "?subject_id=x", "?page=0", "?page_size=1000"):
        resp = client.get(URL + query, headers=grid)
        assert resp.status_code in (400, 422), (query, resp.get_json())
        body = resp.get_json()
        assert body["code"] and body["message"] and body["message_en"], body
    assert client.get(URL, headers=headers_for(client, world.subjects["A"])).status_code == 403
    assert client.get(URL, headers=auth_header(client, "officerA")).status_code == 403
    assert client.get(URL).status_code == 401
