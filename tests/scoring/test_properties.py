"""Property tests: any sequence of emits, expiries, revocations, imports, assessments and rule publications
leaves every stored score equal to a full recompute (in Python from the ledger, and set-based in SQL);
monthly caps and dimension bounds always hold."""

from __future__ import annotations

import copy
from collections import defaultdict
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.db import db
from backend.errors import DomainError
from backend.models import User, utcnow
from backend.models.scoring import DIMENSIONS
from backend.services.identity import auth
from backend.services.scoring import emit_event, expiry, imports, ledger, recompute
from backend.services.scoring.defaults import DEFAULT_V1
from backend.services.scoring.rules import by_version, current
from backend.services.subjects import profiles
from tests.support.scoring import events_of, from_ledger, new_subject, run_pending_recomputes, sql_differences, stored

CODES = [
    "CHECKIN_ONTIME",
    "CHECKIN_LATE",
    "CHECKIN_MISSED",
    "EVIDENCE_FRAUD",
    "LEAVE_RETURN_ONTIME",
    "GEOFENCE_BREACH",
    "EDU_MONTH_MET",
    "EDU_EXTRA_HOUR",
    "SERVICE_HOUR",
    "EMPLOYMENT_VERIFIED",
    "GRID_POSITIVE",
    "GRID_NEGATIVE",
    "MERIT_BRAVERY",
]
MAXIMA = [[100] * 6, [120, 80, 100, 100, 100, 100], [150, 50, 130, 70, 100, 100]]


def variant(maxima: list[int], pct: int, shift: int, cap: int, risk: tuple[int, int, int]) -> dict:
    data = copy.deepcopy(DEFAULT_V1)
    for d, m in zip(DIMENSIONS, maxima, strict=True):
        data["dimensions"][d].update(max=m, initial=m * pct // 100)
    data["risk_initial"] = dict(zip(("low", "medium", "high"), (min(r, maxima[0]) for r in risk), strict=True))
    bands = data["grades"]
    for b in bands[:-1]:
        b["min"] -= shift
    for upper, lower in zip(bands, bands[1:], strict=False):
        lower["max"] = upper["min"] - 1
    data["rules"]["CHECKIN_ONTIME"]["monthly_cap"] = cap
    data["rules"]["SERVICE_HOUR"]["monthly_cap"] = cap * 2
    return data


emit_op = st.tuples(
    st.just("emit"),
    st.sampled_from(CODES),
    st.integers(0, 1),
    st.integers(0, 420),
    st.integers(1, 150),
    st.integers(0, 6),
)
manual_op = st.tuples(
    st.just("manual"),
    st.integers(0, 1),
    st.sampled_from(DIMENSIONS),
    st.integers(-60, 60).filter(bool),
    st.one_of(st.none(), st.integers(1, 400)),
    st.integers(0, 420),
)
ops = st.lists(
    st.one_of(
        emit_op,
        emit_op,
        emit_op,
        manual_op,
        st.tuples(st.just("expire"), st.integers(0, 800)),
        st.tuples(st.just("revoke"), st.integers(0, 50)),
        st.tuples(st.just("base"), st.integers(0, 1), st.integers(0, 1000), st.integers(0, 20)),
        st.tuples(st.just("risk"), st.integers(0, 1), st.sampled_from(["low", "medium", "high"])),
        st.tuples(
            st.just("publish"),
            st.sampled_from(MAXIMA),
            st.sampled_from([85, 50, 100]),
            st.sampled_from([0, 50, 120]),
            st.integers(1, 6),
            st.sampled_from([(100, 70, 40), (90, 45, 10)]),
        ),
        st.tuples(st.just("job")),
    ),
    min_size=1,
    max_size=14,
)


def _actor(username: str):
    with db.tx() as s:
        return auth.actor_for(s, s.query(User).filter_by(username=username).one())


def _run(op, people, origin, pending, officer, admin) -> None:
    kind = op[0]
    if kind == "emit":
        _, code, who, day, qty, src = op
        with db.tx() as s:
            rule = current(s).rule(code)
        quantity = qty if rule.per_hour else 1
        emit_event(people[who], code, "prop", f"{people[who].id}-{src}", origin + timedelta(days=day), quantity)
    elif kind == "manual":
        _, who, dim, pts, days, day = op
        emit_event(
            people[who],
            "MANUAL_ADJUSTMENT",
            "prop_manual",
            f"{people[who].id}-{day}-{pts}",
            origin + timedelta(days=day),
            points=pts,
            dimension=dim,
            expires_in_days=days,
        )
    elif kind == "expire":
        expiry.run_expiry(origin + timedelta(days=op[1]))
    elif kind == "revoke":
        events = events_of(people[0].id) + events_of(people[1].id)
        if events:
            try:
                with db.tx() as s:
                    ledger.revoke_event(s, events[op[1] % len(events)].id, "appeal:test")
            except DomainError as exc:
                assert exc.code == "ILLEGAL_TRANSITION"
    elif kind == "base":
        _, who, provincial, day = op
        row = {
            "id_number": people[who].__dict__["_plain_id_number"],
            "as_of": str(date(2025, 1, 1) + timedelta(days=day)),
            "provincial_score": provincial,
        }
        try:
            imports.import_bases([row], "json")
        except DomainError as exc:
            assert exc.code == "CREDIT_BASE_IMPORT_REJECTED" and exc.context["report"]["conflict"] == 1
    elif kind == "risk":
        profiles.update(officer, people[op[1]].id, {"risk_level": op[2]}, "reassessment")
    elif kind == "publish":
        pending.append(recompute.publish(admin, variant(*op[1:]), "property test").version)
    elif kind == "job":
        run_pending_recomputes()


def _check_invariants(people) -> None:
    for p in people:
        got, want = stored(p.id), from_ledger(p.id)
        assert got == want, (p.id, got, want)
        with db.tx() as s:
            rules = by_version(s, got["rule_version"])
        for d in DIMENSIONS:
            assert 0 <= got[d] <= rules.maxima[d]
        caps = defaultdict(int)
        minutes = defaultdict(int)
        for e in events_of(p.id):
            if e.status == "revoked":
                continue
            caps[(e.rule_code, e.month)] += e.points
            minutes[(e.rule_code, e.month)] += e.quantity
        for (code, _month), total in caps.items():
            versions = {e.rule_version for e in events_of(p.id) if e.rule_code == code}
            rs = [by_version(db.session, v).rules[code] for v in versions]
            if any(r.monthly_cap for r in rs):
                assert total <= max(r.monthly_cap or 0 for r in rs), (code, total)
            if any(r.per_hour for r in rs):
                assert total <= minutes[(code, _month)] // 60 * max(r.points for r in rs)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=ops)
def test_incremental_equals_recompute(world, sequence):
    people = [new_subject(world, provincial=720), new_subject(world)]
    origin = utcnow() - timedelta(days=400)
    officer, admin = _actor("officerA"), _actor("admin")
    pending: list[int] = []
    run_pending_recomputes()  # a previous example may have stopped half-way
    for op in sequence:
        _run(op, people, origin, pending, officer, admin)
    _check_invariants(people)
    _run(("job",), people, origin, pending, officer, admin)
    _check_invariants(people)
    assert sql_differences() == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(minutes=st.lists(st.integers(1, 200), min_size=1, max_size=12), day=st.integers(0, 27))
def test_per_hour_rules_carry_minutes_within_the_month_and_respect_the_cap(world, minutes, day):
    person = new_subject(world)
    start = utcnow().replace(day=1, hour=4) - timedelta(days=40)
    start = start.replace(day=1)
    for i, m in enumerate(minutes):
        emit_event(person, "SERVICE_HOUR", "svc", f"{person.id}-{i}", start + timedelta(days=day, minutes=i), m)
    granted = sum(e.points for e in events_of(person.id))
    assert granted == min(10, sum(minutes) // 60)
    assert stored(person.id) == from_ledger(person.id)
