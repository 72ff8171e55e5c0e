"""PostgreSQL's one-statement candidates (``engine.CANDIDATES``) are the evaluators' (``engine.EVALUATORS``).

Rules: docs/warnings-and-suggestions.md#suggestions.

On the golden data set, plus a subject with more missed check-ins than a rationale keeps as evidence
(and at times with microseconds): every trigger finds the same subjects with the same officer, office,
facts and evidence (the latest ``signals.EVIDENCE_MAX`` rows, the count of them all) either way.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from backend.db import db, is_pg
from backend.models import Subject
from backend.models.field import Suggestion
from backend.models.scoring import ScoreEvent
from backend.services.suggestions import engine, signals
from backend.services.suggestions import triggers as suggestion_triggers
from backend.services.suggestions.signals import Eval
from tests.suggestions import golden_data

MANY = signals.EVIDENCE_MAX + 7


def _normal(x):
    return json.loads(json.dumps(x, ensure_ascii=False))


def _many_missed(s) -> int:
    """A subject in correction without any suggestion gets ``MANY`` missed check-ins in the last week."""
    busy = select(Suggestion.subject_id)
    sid = s.scalar(select(func.min(Subject.id)).where(Subject.status == "in_correction", Subject.id.not_in(busy)))
    first = s.scalar(select(func.max(ScoreEvent.id))) + 1
    events = []
    for n in range(MANY):
        at = golden_data.NOW - timedelta(hours=2 * n + 1, microseconds=n * 1013)
        events.append(
            {
                "id": first + n,
                "subject_id": sid,
                "dimension": "compliance",
                "points": -5,
                "requested_points": -5,
                "rule_code": "CHECKIN_MISSED",
                "rule_version": 1,
                "source_kind": "golden",
                "source_id": f"many{n}",
                "quantity": 1,
                "occurred_at": at,
                "month": at.astimezone(golden_data.SH).strftime("%Y-%m"),
                "status": "active",
            }
        )
    s.execute(insert(ScoreEvent), events)
    return sid


def test_the_one_statement_candidates_are_the_evaluators(clean):
    with db.tx() as s:
        if not is_pg(s):
            pytest.skip("the one-statement candidates are PostgreSQL's")
        golden_data.build(s)
        busy = _many_missed(s)
    seen = 0
    with db.tx() as s:
        _version, triggers = suggestion_triggers.current(s)
        for t in triggers:
            ctx = Eval(s, golden_data.NOW, t["code"], t["cooldown_days"])
            slow = engine.EVALUATORS[t["kind"]](ctx, t["params"])
            query = engine.CANDIDATES[t["kind"]](ctx, t["params"])
            fast = {r.subject_id: r for r in s.execute(query)} if query is not None else {}
            assert slow, t["code"]
            assert sorted(fast) == sorted(slow), t["code"]
            for sid, c in slow.items():
                r = fast[sid]
                want = (c.officer_id, c.office_id, _normal(c.facts), _normal(c.evidence[-signals.EVIDENCE_MAX :]))
                assert (r.officer_id, r.office_id, r.facts, r.evidence) == want, (t["code"], sid)
            if t["kind"] == "event_count":
                assert slow[busy].facts["count"] == MANY and len(fast[busy].evidence) == signals.EVIDENCE_MAX
            seen += len(slow)
    assert seen > 100
