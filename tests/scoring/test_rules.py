"""Rule sets as versioned data: validation, publication by an admin, the background recompute, versions kept."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from backend.db import db
from backend.errors import DomainError
from backend.models import AuditLog, OutboxMessage, utcnow
from backend.models.scoring import RuleSet, ScoreChange
from backend.services.scoring import emit_event, recompute
from backend.services.scoring.defaults import DEFAULT_V1
from backend.services.scoring.rules import Rules, validate
from tests.conftest import wait_for
from tests.factories import auth_header
from tests.support.scoring import events_of, new_subject, sql_differences, stored

URL = "/api/v1/admin/rule-sets"


def _errors(data) -> dict:
    with pytest.raises(DomainError) as exc:
        validate(data)
    assert exc.value.code == "RULE_SET_INVALID"
    return exc.value.errors


def _v1() -> dict:
    return copy.deepcopy(DEFAULT_V1)


def test_the_default_rule_set_is_valid():
    assert validate(_v1())["rules"]["CHECKIN_ONTIME"]["monthly_cap"] == 5


@pytest.mark.parametrize(
    "change, path",
    [
        (lambda d: d["grades"][1].update(min=760), "grades"),  # a gap 759 → 760
        (lambda d: d["grades"][2].update(max=760), "grades"),  # an overlap
        (lambda d: d["grades"][-1].update(min=1), "grades"),  # does not start at 0
        (lambda d: d["dimensions"]["risk"].update(max=90), "dimensions"),  # maxima sum to 590
        (lambda d: d["dimensions"]["risk"].update(initial=120), "dimensions.risk.initial"),
        (lambda d: d["rules"]["GRID_POSITIVE"].update(dimension="mood"), "rules.GRID_POSITIVE.dimension"),
        (lambda d: d["rules"]["CHECKIN_LATE"].update(monthly_cap=3), "rules.CHECKIN_LATE.monthly_cap"),
        (lambda d: d["rules"].pop("CHECKIN_MISSED"), "rules"),
        (lambda d: d["grades"][0]["benefits"].append("free_lunch"), "grades[0].benefits"),
        (lambda d: d["public_base"].update(max=500), "public_base.max"),
        (lambda d: d["risk_initial"].pop("high"), "risk_initial"),
        (lambda d: d["city_conversions"]["hangzhou"]["percent"].update(green=180), "city_conversions.hangzhou.percent"),
    ],
)
def test_invalid_rule_sets_name_the_problem(change, path):
    data = _v1()
    change(data)
    assert path in _errors(data)


def test_publication_is_audited_versioned_and_recomputes_in_the_background(client, world, worker_process):
    p = new_subject(world, provincial=700)
    old_event = emit_event(p, "CHECKIN_MISSED", "period", "v1", utcnow()).event
    before = stored(p.id)
    admin = auth_header(client, "admin")
    versions = client.get(URL, headers=admin).get_json()
    assert [v["version"] for v in versions] == [1]
    data = _v1()
    data["dimensions"]["risk"].update(max=150, initial=127)
    data["dimensions"]["education"].update(max=50, initial=42)
    data["risk_initial"] = {"low": 150, "medium": 105, "high": 60}
    data["rules"]["CHECKIN_MISSED"]["points"] = -8
    bad = client.post(URL, json={"rules": {**data, "grades": []}}, headers=admin)
    assert bad.status_code == 422 and bad.get_json()["code"] == "RULE_SET_INVALID"
    assert client.post(URL, json={"rules": data}, headers=auth_header(client, "officerA")).status_code == 403
    resp = client.post(URL, json={"rules": data, "note": "风险评估权重上调"}, headers=admin)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["version"] == 2

    def finished():
        got = client.get(f"{URL}/2", headers=admin).get_json()
        return got if got["recompute_status"] == "done" else None

    done = wait_for(finished, timeout=60)
    assert done["recompute_done"] == done["recompute_total"] >= 3
    after = stored(p.id)
    # risk 70 → 105 (medium), education 85 → 42: management +35 −43
    assert after["total"] == before["total"] + 35 - 43 and after["rule_version"] == 2
    assert sql_differences() == []
    new_event = emit_event(p, "CHECKIN_MISSED", "period", "v2", utcnow()).event
    assert (old_event.rule_version, old_event.points) == (1, -5)
    assert (events_of(p.id)[-1].rule_version, new_event.points) == (2, -8)
    causes = db.session.scalars(select(ScoreChange).where(ScoreChange.subject_id == p.id)).all()
    assert any(c.cause == "rule_version" and c.ref == "rule_set:2" for c in causes)
    history = client.get(f"/api/v1/staff/subjects/{p.id}/score/history", headers=auth_header(client, "officerA"))
    assert [v["version"] for v in history.get_json()["rule_versions"]] == [2]
    audit = db.session.scalars(
        select(AuditLog).where(AuditLog.action == "rule_set.publish").order_by(AuditLog.id)
    ).all()
    assert audit and audit[-1].target_id == "2" and audit[-1].details["previous"] == 1


def test_a_newer_version_supersedes_a_pending_recompute(world):
    from backend.models import User
    from backend.services.identity.auth import actor_for

    p = new_subject(world)
    with db.tx() as s:
        admin = actor_for(s, s.scalar(select(User).where(User.username == "admin")))
    v2 = recompute.publish(admin, _v1(), "a").version
    data = _v1()
    data["grades"][0]["min"], data["grades"][1]["max"] = 790, 789
    v3 = recompute.publish(admin, data, "b").version
    assert recompute.run(v2)["status"] == "superseded"
    assert recompute.run(v3)["status"] == "done"
    assert recompute.run(v3)["status"] == "done"  # a rerun does nothing
    statuses = dict(db.session.execute(select(RuleSet.version, RuleSet.recompute_status)).all())
    assert statuses == {1: "done", v2: "superseded", v3: "done"}
    assert stored(p.id)["rule_version"] == v3
    jobs = db.session.scalars(select(OutboxMessage).where(OutboxMessage.job == "score_recompute")).all()
    assert sorted(j.payload["version"] for j in jobs) == [v2, v3]


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2000, 2000) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


ALL_PATHS = [p for p in _paths(DEFAULT_V1) if p]


@settings(max_examples=200, deadline=None)
@given(mutations=st.lists(st.tuples(st.sampled_from(ALL_PATHS), _json), min_size=1, max_size=3))
def test_any_mutated_rule_set_is_either_valid_and_usable_or_refused_with_a_code(mutations):
    data = _v1()
    for path, value in mutations:
        node = data
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    try:
        valid = validate(data)
    except DomainError as exc:
        assert exc.code == "RULE_SET_INVALID" and exc.errors
        return
    rules = Rules(99, valid)
    for total in range(0, 1001, 7):
        assert rules.band(total).min <= total <= rules.band(total).max
    assert sum(rules.maxima.values()) == 600
