"""The education trigger counts as the monthly job does: the level in force on each day, the published policy.

Rules: docs/warnings-and-suggestions.md#default-triggers, docs/education-and-service.md#monthly-requirement.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from backend.db import db, is_pg
from backend.models import Subject
from backend.services.activities import education, policy
from backend.services.subjects import levels
from backend.services.suggestions import education as trigger
from backend.services.suggestions import engine
from backend.services.suggestions.signals import Eval
from tests.suggestions import golden_data
from tests.suggestions.test_suggestions import _education, made
from tests.support.field import SH
from tests.support.scoring import new_subject

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=SH)


def _change_level(subject_id: int, old: str, new: str, on: date) -> None:
    with db.tx() as s:
        subject = s.get(Subject, subject_id)
        levels.record_change(s, subject, old, new, by=None, on=on)
        subject.supervision_level = new


def test_a_mid_month_level_change_prorates_the_requirement(world):
    office = world.units["office_A"]
    # 严管 (10 h) until 15 November, 普管 (8 h) from the 16th: round(60 × (15 × 10 + 15 × 8) ÷ 30) = 540 min
    changed, steady = new_subject(world).id, new_subject(world).id
    _change_level(changed, "strict", "normal", date(2026, 11, 16))
    # 250 min: under half of 540, but not under half of today's level alone (480 → 240)
    spans = [
        (datetime(2026, 11, 3, 9, tzinfo=SH), datetime(2026, 11, 3, 13, tzinfo=SH)),
        (datetime(2026, 11, 4, 9, tzinfo=SH), datetime(2026, 11, 4, 9, 10, tzinfo=SH)),
    ]
    _education(changed, office, spans)
    _education(steady, office, spans)
    engine.evaluate(NOW)
    mine = {x.subject_id: x for x in made("education_shortfall")}
    assert changed in mine and steady not in mine
    assert mine[changed].rationale["facts"] == {
        "month": "2026-11",
        "done_minutes": 250,
        "required_minutes": 540,
        "as_of": "2026-11-21",
    }
    assert mine[changed].rationale["summary"] == "2026-11已学习4.2小时,要求9.0小时"
    with db.tx() as s:  # the monthly job's requirement for the same month
        subject = s.get(Subject, changed)
        history = levels.history_of(s, subject)
        required = education.required_minutes(subject, "2026-11", policy.policy(s).education_hours, history.on)
    assert required == 540


def test_a_change_back_and_forth_uses_each_days_level(world):
    office = world.units["office_A"]
    sid = new_subject(world, supervision_level="lenient").id  # 宽管 6 h
    _change_level(sid, "lenient", "strict", date(2026, 11, 11))  # 严管 from the 11th
    _change_level(sid, "strict", "lenient", date(2026, 11, 21))  # 宽管 again from the 21st
    # 10 days × 6 + 10 days × 10 + 10 days × 6 = 220 hour-days → 440 min; 200 min is under half
    _education(sid, office, [(datetime(2026, 11, 5, 9, tzinfo=SH), datetime(2026, 11, 5, 12, 20, tzinfo=SH))])
    engine.evaluate(NOW)
    [sug] = [x for x in made("education_shortfall") if x.subject_id == sid]
    assert sug.rationale["facts"]["required_minutes"] == 440
    assert sug.rationale["facts"]["done_minutes"] == 200


def test_the_set_based_count_equals_the_education_rules(clean):
    """PostgreSQL counts in one statement; the answer must be the education feature's own, subject by subject."""
    with db.tx() as s:
        if not is_pg(s):
            pytest.skip("the set-based count is PostgreSQL's; SQLite uses the education rules themselves")
        golden_data.build(s)
    ids = list(range(3, golden_data.SUBJECTS, 7))
    with db.tx() as s:
        subjects = s.scalars(select(Subject).where(Subject.id.in_(ids))).all()
    for n, subject in enumerate(subjects):  # level changes in and around the month
        on = date(2026, 11, 1 + n % 25) if n % 3 else date(2026, 10, 20)
        new = {"strict": "lenient", "normal": "strict", "lenient": "normal"}[subject.supervision_level]
        _change_level(subject.id, subject.supervision_level, new, on)
    p = {"max_ratio": 1.0, "from_day": 1}  # every subject short of the whole requirement is a candidate
    with db.tx() as s:
        ctx = Eval(s, golden_data.NOW, "education_shortfall", 30)
        today = golden_data.NOW.astimezone(SH).date()
        rules = policy.policy(s)
        fast = trigger._on_postgres(ctx, p, today, rules)
        slow = trigger._portable(ctx, p, today, rules)

    def seen(found):
        return {k: (c.officer_id, c.office_id, c.facts, c.evidence) for k, c in found.items()}

    assert len(slow) > 100 and any(slow[i].facts["done_minutes"] > 0 for i in slow)
    assert seen(fast) == seen(slow)
