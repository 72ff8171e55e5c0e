"""The full recompute (``zhijiao scores recompute``) rewrites only the scores that differ from the ledger."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, update

from backend.db import db
from backend.models import Subject
from backend.models.scoring import ScoreChange, SubjectScore
from backend.services.scoring import emit_event, recompute
from backend.services.scoring.derive import VISIBLE
from backend.services.scoring.rules import current
from tests.support.scoring import from_ledger, new_subject, sql_differences, stored

MARK = datetime(2001, 1, 1, tzinfo=UTC)


def _updated_at(subject_id: int) -> datetime:
    with db.tx() as s:
        return s.scalar(select(SubjectScore.updated_at).where(SubjectScore.subject_id == subject_id))


def test_a_recompute_rewrites_only_the_scores_that_differ(world):
    same, off, fresh = new_subject(world, provincial=700), new_subject(world), new_subject(world, provincial=650)
    emit_event(same, "CHECKIN_ONTIME", "period", "rc-same", datetime.now(UTC))
    emit_event(off, "CHECKIN_MISSED", "period", "rc-off", datetime.now(UTC))
    stored(same.id), stored(off.id)
    with db.tx() as s:
        s.execute(update(SubjectScore).where(SubjectScore.subject_id.in_((same.id, off.id))).values(updated_at=MARK))
        # a stored sum that drifted from the ledger (what ``zhijiao scores verify`` would list)
        s.execute(
            update(SubjectScore)
            .where(SubjectScore.subject_id == off.id)
            .values(sum_compliance=SubjectScore.sum_compliance + 40, compliance=SubjectScore.compliance + 40)
        )
    assert {d["subject_id"] for d in sql_differences()} >= {off.id}

    result = recompute.recompute_all()

    with db.tx() as s:
        scored = s.scalar(
            select(func.count())
            .select_from(Subject)
            .join(SubjectScore, SubjectScore.subject_id == Subject.id)
            .where(SubjectScore.frozen.is_(False))
        )
        fresh_history = s.scalars(select(ScoreChange.cause).where(ScoreChange.subject_id == fresh.id)).all()
    assert result["subjects"] == scored  # every subject was recomputed, ``fresh`` got its first score row
    assert result["changed"] >= 1 and set(result) == {"subjects", "changed"}
    assert _updated_at(same.id) == MARK  # unchanged: not written
    assert _updated_at(off.id) != MARK
    assert stored(off.id) == from_ledger(off.id) and stored(same.id) == from_ledger(same.id)
    assert stored(fresh.id) == from_ledger(fresh.id) and fresh_history == ["initial"]
    assert sql_differences() == []
    with db.tx() as s:
        assert current(s).version == stored(off.id)["rule_version"]


def test_a_second_recompute_of_an_unchanged_ledger_writes_nothing(world):
    subject = new_subject(world, provincial=800)
    emit_event(subject, "GRID_POSITIVE", "report", "rc-twice", datetime.now(UTC))
    recompute.recompute_all()
    with db.tx() as s:
        s.execute(update(SubjectScore).values(updated_at=MARK))
        before = s.scalar(select(func.count()).select_from(ScoreChange))
    again = recompute.recompute_all()
    with db.tx() as s:
        written = s.scalar(select(func.count()).select_from(SubjectScore).where(SubjectScore.updated_at != MARK))
        after = s.scalar(select(func.count()).select_from(ScoreChange))
    assert (again["changed"], written, after) == (0, 0, before)
    assert again["subjects"] >= 1
    assert {k: stored(subject.id)[k] for k in VISIBLE} == {k: from_ledger(subject.id)[k] for k in VISIBLE}
