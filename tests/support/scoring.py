"""Helpers for the score tests: subjects with or without a base, time, and the three ways to get a score."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from backend.db import db
from backend.models import PublicCreditBase, Subject
from backend.models.scoring import DIMENSIONS, ScoreEvent
from backend.services.scoring import bulk, score
from backend.services.scoring.derive import VISIBLE
from backend.services.scoring.rules import by_version, current
from tests.factories import World, make_subject

_n = {"i": 0}


def new_subject(world: World, side: str = "A", provincial: int | None = None, **kw) -> Subject:
    _n["i"] += 1
    subject = make_subject(
        office_id=world.units[f"office_{side}"],
        grid_id=world.units[f"grid_{side}"],
        officer_id=world.users[f"officer_{side}"].id,
        username=f"sc{_n['i']}_{side}",
        **kw,
    )
    if provincial is not None:
        with db.tx() as s:
            s.add(PublicCreditBase(subject_id=subject.id, as_of=date(2026, 1, 1), provincial_score=provincial))
    return subject


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def stored(subject_id: int) -> dict:
    with db.tx() as s:
        if score.read(s, subject_id) is None:
            score.lock(s, s.get(Subject, subject_id), current(s))
    with db.tx() as s:
        row = score.read(s, subject_id)
        return {k: getattr(row, k) for k in (*VISIBLE, *[f"sum_{d}" for d in DIMENSIONS], "rule_version")}


def from_ledger(subject_id: int) -> dict:
    """What the score must be under the version it was computed with, in Python from the ledger rows."""
    with db.tx() as s:
        subject = s.get(Subject, subject_id)
        version = score.read(s, subject_id).rule_version
        values = score.expected(s, subject, by_version(s, version))
        return {k: values[k] for k in (*VISIBLE, *[f"sum_{d}" for d in DIMENSIONS], "rule_version")}


def sql_differences() -> list[dict]:
    with db.tx() as s:
        return bulk.differences(s, current(s))


def events_of(subject_id: int) -> list[ScoreEvent]:
    with db.tx() as s:
        stmt = select(ScoreEvent).where(ScoreEvent.subject_id == subject_id).order_by(ScoreEvent.id)
        return list(s.scalars(stmt.execution_options(populate_existing=True)))


def run_pending_recomputes() -> None:
    """What the worker does after a publication: recompute under every version still waiting."""
    from backend.models.scoring import RuleSet
    from backend.services.scoring import recompute

    with db.tx() as s:
        versions = s.scalars(
            select(RuleSet.version)
            .where(RuleSet.recompute_status.in_(("pending", "running")))
            .order_by(RuleSet.version)
        ).all()
    for v in versions:
        recompute.run(v)


# --- object resolvers for tests/identity/test_access_matrix.py: own ("A") and foreign ("B") objects -------------------


def _cached(ctx, key, make):
    cache = ctx.__dict__.setdefault("_scoring", {})
    if key not in cache:
        cache[key] = make()
    return cache[key]


def _penalty(ctx, side: str) -> int:
    from backend.models import utcnow
    from backend.services.scoring import emit_event

    subject = ctx.world.subjects[side]
    return _cached(
        ctx, ("event", side), lambda: emit_event(subject, "CHECKIN_MISSED", "matrix", side, utcnow()).event.id
    )


def appeal_obj(ctx, role: str, side: str) -> dict:
    """A pending appeal of district ``side``'s subject against an automatic penalty."""
    from backend.models.scoring_decisions import Appeal

    def make():
        subject = ctx.world.subjects[side]
        with db.tx() as s:
            a = Appeal(
                subject_id=subject.id,
                office_id=subject.office_id,
                event_id=_penalty(ctx, side),
                reason="m",
                decider_role="officer",
                due_at=subject.created_at,
                status="pending",
            )
            s.add(a)
            s.flush()
            return a.id

    return {"appeal_id": _cached(ctx, ("appeal", side), make)}


def merit_obj(ctx, role: str, side: str) -> dict:
    from backend.models.scoring_decisions import MeritApplication

    def make():
        subject = ctx.world.subjects[side]
        with db.tx() as s:
            m = MeritApplication(
                subject_id=subject.id,
                office_id=subject.office_id,
                rule_code="MERIT_DONATION",
                points=5,
                description="m",
                occurred_on=date(2026, 1, 2),
                decider_role="officer",
                due_at=subject.created_at,
                status="pending",
            )
            s.add(m)
            s.flush()
            return m.id

    return {"application_id": _cached(ctx, ("merit", side), make)}


def adjustment_obj(ctx, role: str, side: str) -> dict:
    from backend.models.scoring_decisions import ScoreAdjustment

    def make():
        subject = ctx.world.subjects[side]
        with db.tx() as s:
            a = ScoreAdjustment(
                subject_id=subject.id,
                office_id=subject.office_id,
                dimension="compliance",
                points=-1,
                reason="m",
                proposed_by=ctx.world.users[f"officer_{side}"].id,
                status="pending",
            )
            s.add(a)
            s.flush()
            return a.id

    return {"adjustment_id": _cached(ctx, ("adjustment", side), make)}


def fresh_subject_obj(ctx, role: str, side: str) -> dict:
    """A new subject of district ``side`` for each call (release changes its subject for good)."""
    subject = new_subject(ctx.world, side)
    return {"subject_id": subject.id}


def rule_set_obj(ctx, role: str, side: str) -> dict:
    with db.tx() as s:
        current(s)
    return {"version": 1}


def credit_import_obj(ctx, role: str, side: str) -> dict:
    from backend.services.scoring import imports

    def make():
        subject = ctx.world.subjects["A"]
        row = {"id_number": subject.__dict__["_plain_id_number"], "as_of": "2026-01-01", "provincial_score": 700}
        return imports.import_bases([row], "json").id

    return {"import_id": _cached(ctx, "import", make)}
