"""The dashboard's per-office figures kept for DASHBOARD_CACHE_SECONDS (backend/services/oversight/dashboard.py):
the same numbers as counting afresh, ``as_of`` when they were counted, shared between callers without widening
anyone's jurisdiction, counted again past half their life (in the background) and past their life (at once)."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend import runtime
from backend.db import db
from backend.models import User, utcnow
from backend.services.core.actors import Actor
from backend.services.core.warnings import raise_warning
from backend.services.identity.auth import actor_for
from backend.services.oversight import dashboard
from tests.factories import auth_header
from tests.oversight.test_dashboard import fixture  # noqa: F401 - the hand-counted dashboard fixture
from tests.support.field import subject

TTL = 60


@pytest.fixture
def cache(monkeypatch):
    """The cache switched on (tests count afresh by default), emptied before and after, and a movable clock."""
    monkeypatch.setattr(runtime, "_settings", dataclasses.replace(runtime.settings(), dashboard_cache_s=TTL))
    dashboard._CACHE.clear()
    clock = {"offset": timedelta(0)}
    monkeypatch.setattr(dashboard, "utcnow", lambda: utcnow() + clock["offset"])
    yield clock
    _settle()
    dashboard._CACHE.clear()


def _settle() -> None:
    for t in threading.enumerate():
        if t.name == "dashboard-refresh":
            t.join(timeout=30)


def _actor(world, username: str) -> Actor:
    with db.tx() as s:
        return actor_for(s, s.scalars(select(User).where(User.username == username)).one())


def _without_time(board: dict) -> dict:
    return {k: v for k, v in board.items() if k != "as_of"}


def test_cached_figures_equal_counting_afresh_for_officer_and_bureau(world, fixture, cache):  # noqa: F811
    for name in ("bureauA", "officerA", "bureauA"):  # the bureau's count fills the officer's office too
        actor = _actor(world, name)
        held = dashboard.cached(actor)
        assert _without_time(held) == _without_time(dashboard.build(actor, now=held["as_of"]))
    officer = _actor(world, "officerA")
    board = dashboard.cached(officer)
    assert [o["office_id"] for o in board["offices"]] == [world.units["office_A"]]  # never the bureau's other office
    assert board["subjects"]["total"] == 5
    assert dashboard.cached(officer, world.units["office_B"])["offices"] == []
    one = dashboard.cached(_actor(world, "bureauA"), fixture["office2"])
    assert one["subjects"]["total"] == 1 and [o["office_id"] for o in one["offices"]] == [fixture["office2"]]


def test_held_until_half_life_then_refreshed_in_the_background_then_counted_at_once(world, fixture, cache):  # noqa: F811
    officer = _actor(world, "officerA")
    first = dashboard.cached(officer)
    with db.tx() as s:
        raise_warning(s, subject(world.subjects["A"].id), "GRID_NEGATIVE", "high", "走访异常", period_key="c1")

    cache["offset"] = timedelta(seconds=TTL / 4)
    young = dashboard.cached(officer)
    assert young == first  # held: the same figures and the same as_of

    cache["offset"] = timedelta(seconds=TTL * 3 / 4)
    ageing = dashboard.cached(officer)
    assert ageing == first  # still held, while a thread counts again
    _settle()
    refreshed = dashboard.cached(officer)
    assert refreshed["as_of"] > first["as_of"]
    assert refreshed["warnings"]["unhandled"] == first["warnings"]["unhandled"] + 1

    with db.tx() as s:
        raise_warning(s, subject(world.subjects["A"].id), "GRID_NEGATIVE", "high", "走访异常", period_key="c2")
    cache["offset"] += timedelta(seconds=TTL + 1)
    expired = dashboard.cached(officer)  # past its life: counted before the answer
    assert expired["as_of"] > refreshed["as_of"]
    assert expired["warnings"]["unhandled"] == first["warnings"]["unhandled"] + 2
    _settle()


def test_the_api_answers_the_held_figures_with_their_time(client, world, fixture, cache):  # noqa: F811
    headers = auth_header(client, "officerA")
    first = client.get("/api/v1/staff/dashboard", headers=headers).get_json()
    with db.tx() as s:
        raise_warning(s, subject(world.subjects["A"].id), "GRID_NEGATIVE", "high", "走访异常", period_key="c3")
    again = client.get("/api/v1/staff/dashboard", headers=headers).get_json()
    assert again == first and first["as_of"]
    assert client.get("/api/v1/staff/dashboard", headers=auth_header(client, "gridA")).status_code == 403
