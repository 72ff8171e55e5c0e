"""Helpers for the score tests: subjects with or without a base, time, and the three ways to get a score."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from backend.db import db
from backend.models import PublicCreditBase, Subject
from backend.models.scoring import DIMENSIONS, ScoreEvent
from backend.services.scoring import bulk, score
from backend.services.scoring.derive import VISIBLE
from backend.services.scoring.rules import current
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
        return {k: getattr(row, k) for k in (*VISIBLE, *[f"sum_{d}" for d in DIMENSIONS])}


def from_ledger(subject_id: int) -> dict:
    """What the score must be, computed in Python from the ledger rows (independent of the increments)."""
    with db.tx() as s:
        subject = s.get(Subject, subject_id)
        values = score.expected(s, subject, current(s))
        return {k: values[k] for k in (*VISIBLE, *[f"sum_{d}" for d in DIMENSIONS])}


def sql_differences() -> list[dict]:
    with db.tx() as s:
        return bulk.differences(s, current(s))


def events_of(subject_id: int) -> list[ScoreEvent]:
    with db.tx() as s:
        return list(s.scalars(select(ScoreEvent).where(ScoreEvent.subject_id == subject_id).order_by(ScoreEvent.id)))
