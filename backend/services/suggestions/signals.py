"""The evaluators behind the suggestion triggers: one set-based query per trigger over every subject.

Each evaluator takes the trigger's parameters and an ``Eval`` context (the time, the eligibility clause:
in correction, no live suggestion of this kind, no closed one within the cooldown, optionally a few
subject ids) and returns the candidates: subject → officer, office, evidence (linked rows) and facts.
No query runs per subject. (Education progress, counted by the education feature's own rules, is in
``suggestions.education``.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from backend.models import Subject
from backend.models.field import FieldReport, Suggestion
from backend.models.scoring import ScoreChange, ScoreEvent, SubjectScore
from backend.services.core.dialect import json_list_has_any
from backend.services.scoring.rules import current as current_rules

TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class Candidate:
    officer_id: int | None
    office_id: int
    evidence: list[dict] = field(default_factory=list)
    facts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Eval:
    session: Session
    now: datetime
    code: str
    cooldown_days: int
    subject_ids: tuple[int, ...] | None = None

    def eligible(self) -> ColumnElement[bool]:
        """In correction, nothing live of this kind, nothing closed within the cooldown (and the given ids).

        The suggestions to skip are one uncorrelated NOT IN subquery, which PostgreSQL hashes once per
        query, so the plan does not depend on how fresh the table's statistics are after a large run.
        """
        quiet = select(Suggestion.subject_id).where(
            Suggestion.kind == self.code,
            or_(
                Suggestion.status.in_(("open", "accepted")),
                Suggestion.closed_at >= self.now - timedelta(days=self.cooldown_days),
            ),
        )
        clause = and_(Subject.status == "in_correction", Subject.id.not_in(quiet))
        if self.subject_ids is not None:
            clause = and_(clause, Subject.id.in_(self.subject_ids))
        return clause


Found = dict[int, Candidate]


def _collect(rows, make_evidence: Callable, facts: Callable | None = None) -> Found:
    out: Found = {}
    for r in rows:
        c = out.setdefault(r.subject_id, Candidate(r.officer_id, r.office_id))
        c.evidence.append(make_evidence(r))
        if facts is not None:
            c.facts.update(facts(r))
    return out


def event_count(ctx: Eval, p: dict) -> Found:
    """At least ``min_count`` events of ``rule_codes`` (not revoked) in the last ``window_days``."""
    since = ctx.now - timedelta(days=p["window_days"])
    where = (
        ScoreEvent.rule_code.in_(p["rule_codes"]),
        ScoreEvent.occurred_at >= since,
        ScoreEvent.occurred_at <= ctx.now,
        ScoreEvent.status != "revoked",
        ctx.eligible(),
    )
    enough = (
        select(ScoreEvent.subject_id)
        .join(Subject, Subject.id == ScoreEvent.subject_id)
        .where(*where)
        .group_by(ScoreEvent.subject_id)
        .having(func.count() >= p["min_count"])
    )
    rows = ctx.session.execute(
        select(
            ScoreEvent.subject_id,
            ScoreEvent.id,
            ScoreEvent.rule_code,
            ScoreEvent.occurred_at,
            Subject.officer_id,
            Subject.office_id,
        )
        .join(Subject, Subject.id == ScoreEvent.subject_id)
        .where(*where, ScoreEvent.subject_id.in_(enough))
        .order_by(ScoreEvent.subject_id, ScoreEvent.occurred_at)
    )
    found = _collect(
        rows, lambda r: {"kind": "score_event", "id": r.id, "rule_code": r.rule_code, "at": r.occurred_at.isoformat()}
    )
    for c in found.values():
        c.facts = {"count": len(c.evidence), "window_days": p["window_days"]}
    return found


def report_category(ctx: Eval, p: dict) -> Found:
    """At least ``min_count`` field reports (not dismissed) in the categories within ``window_days``."""
    since = ctx.now - timedelta(days=p["window_days"])
    rows = ctx.session.execute(
        select(
            FieldReport.subject_id,
            FieldReport.id,
            FieldReport.observed_at,
            FieldReport.categories,
            Subject.officer_id,
            Subject.office_id,
        )
        .join(Subject, Subject.id == FieldReport.subject_id)
        .where(
            FieldReport.observed_at >= since,
            FieldReport.status != "dismissed",
            json_list_has_any(ctx.session, FieldReport.categories, p["categories"]),
            ctx.eligible(),
        )
        .order_by(FieldReport.subject_id, FieldReport.observed_at)
    )
    found = _collect(
        rows,
        lambda r: {
            "kind": "field_report",
            "id": r.id,
            "at": r.observed_at.isoformat(),
            "categories": sorted(set(r.categories) & set(p["categories"])),
        },
    )
    found = {sid: c for sid, c in found.items() if len(c.evidence) >= p["min_count"]}
    for c in found.values():
        c.facts = {"count": len(c.evidence), "categories": p["categories"], "window_days": p["window_days"]}
    return found


def _delta():
    return ScoreChange.total_after - func.coalesce(ScoreChange.total_before, ScoreChange.total_after)


def score_drop(ctx: Eval, p: dict) -> Found:
    """The total fell by at least ``points`` over ``window_days`` (net of the subject's own changes)."""
    since = ctx.now - timedelta(days=p["window_days"])
    own = (ScoreChange.at >= since, ScoreChange.at <= ctx.now, ScoreChange.cause.not_in(p["exclude_causes"]))
    net = (
        select(ScoreChange.subject_id, func.sum(_delta()).label("net"))
        .join(Subject, Subject.id == ScoreChange.subject_id)
        .where(*own, ctx.eligible())
        .group_by(ScoreChange.subject_id)
        .having(func.sum(_delta()) <= -p["points"])
        .subquery()
    )
    rows = ctx.session.execute(
        select(
            ScoreChange.subject_id,
            ScoreChange.id,
            ScoreChange.ref,
            ScoreChange.at,
            _delta().label("delta"),
            net.c.net,
            Subject.officer_id,
            Subject.office_id,
        )
        .join(net, net.c.subject_id == ScoreChange.subject_id)
        .join(Subject, Subject.id == ScoreChange.subject_id)
        .where(*own, _delta() < 0)
        .order_by(ScoreChange.subject_id, ScoreChange.at, ScoreChange.id)
    )
    return _collect(
        rows,
        lambda r: {"kind": "score_change", "id": r.id, "ref": r.ref, "delta": r.delta, "at": r.at.isoformat()},
        lambda r: {"net_change": int(r.net), "window_days": p["window_days"]},
    )


def _codes(session: Session, colours: list[str]) -> tuple[list[str], list]:
    bands = current_rules(session).bands  # sorted by score, lowest first
    return [b.code for b in bands if b.colour in colours], bands


def grade_fall(ctx: Eval, p: dict) -> Found:
    """A change into a grade of ``colours`` from a higher grade within ``window_days``, and still there."""
    targets, bands = _codes(ctx.session, p["colours"])
    rank = {b.code: i for i, b in enumerate(bands)}
    pairs = [(b.code, a) for a in targets for b in bands if rank[b.code] > rank[a]]
    if not pairs:
        return {}
    since = ctx.now - timedelta(days=p["window_days"])
    rows = ctx.session.execute(
        select(
            ScoreChange.subject_id,
            ScoreChange.id,
            ScoreChange.grade_before,
            ScoreChange.grade_after,
            ScoreChange.at,
            SubjectScore.total,
            Subject.officer_id,
            Subject.office_id,
        )
        .join(SubjectScore, SubjectScore.subject_id == ScoreChange.subject_id)
        .join(Subject, Subject.id == ScoreChange.subject_id)
        .where(
            ScoreChange.at >= since,
            ScoreChange.at <= ctx.now,
            ScoreChange.cause.not_in(p["exclude_causes"]),
            ScoreChange.base_pending.is_(False),
            or_(*(and_(ScoreChange.grade_before == b, ScoreChange.grade_after == a) for b, a in pairs)),
            SubjectScore.grade.in_(targets),
            SubjectScore.base_pending.is_(False),
            ctx.eligible(),
        )
        .order_by(ScoreChange.subject_id, ScoreChange.at, ScoreChange.id)
    )
    return _collect(
        rows,
        lambda r: {
            "kind": "score_change",
            "id": r.id,
            "from": r.grade_before,
            "to": r.grade_after,
            "at": r.at.isoformat(),
        },
        lambda r: {"grade": r.grade_after, "total": r.total},
    )


def green_stable(ctx: Eval, p: dict) -> Found:
    """In a grade of ``colours`` now, at the start of the last ``days`` days and at every change since."""
    green, _ = _codes(ctx.session, p["colours"])
    since = ctx.now - timedelta(days=p["days"])
    was = (
        select(ScoreChange.grade_after)
        .where(ScoreChange.subject_id == Subject.id, ScoreChange.at <= since)
        .order_by(ScoreChange.at.desc(), ScoreChange.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    wavered = exists().where(
        ScoreChange.subject_id == Subject.id,
        ScoreChange.at > since,
        or_(
            ScoreChange.grade_after.not_in(green),
            ScoreChange.grade_before.is_(None),
            ScoreChange.grade_before.not_in(green),
            ScoreChange.base_pending.is_(True),
        ),
    )
    rows = ctx.session.execute(
        select(
            Subject.id.label("subject_id"),
            Subject.officer_id,
            Subject.office_id,
            Subject.supervision_level,
            SubjectScore.total,
            SubjectScore.grade,
        )
        .join(SubjectScore, SubjectScore.subject_id == Subject.id)
        .where(
            SubjectScore.grade.in_(green),
            SubjectScore.base_pending.is_(False),
            Subject.supervision_level != "lenient",
            was.in_(green),
            ~wavered,
            ctx.eligible(),
        )
    )
    return _collect(
        rows,
        lambda r: {"kind": "subject_score", "id": r.subject_id, "grade": r.grade, "total": r.total},
        lambda r: {"days": p["days"], "supervision_level": r.supervision_level, "total": r.total},
    )
