"""The evaluators behind the suggestion triggers: one set-based query per trigger over every subject.

Each evaluator takes the trigger's parameters and an ``Eval`` context (the time, the eligibility clause:
in correction, no live suggestion of this kind, no closed one within the cooldown, optionally a few
subject ids) and returns the candidates: subject → officer, office, evidence (linked rows) and facts.
No query runs per subject. (Education progress, counted by the education feature's own rules, is in
``suggestions.education``.)

Each has a PostgreSQL twin, ``…_candidates``: the same query with the evidence (the latest
``EVIDENCE_MAX`` rows, in time order) and the facts aggregated per subject as JSON, for the engine to
write in one INSERT … SELECT. The two share their filters (``_events``, ``_reports``, ``_drops``,
``_falls``, ``_green``); tests/suggestions/test_candidates_sql.py compares their answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Select, and_, case, cast, exists, func, literal, null, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Subquery

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


#: the evidence a rationale keeps: the latest rows (the count in the facts is of them all)
EVIDENCE_MAX = 50


def _object(*pairs) -> ColumnElement:
    return func.json_build_object(*pairs, type_=JSON)


def _json(value: object) -> ColumnElement:
    return cast(literal(json.dumps(value, ensure_ascii=False)), JSON)


def _iso(at: ColumnElement) -> ColumnElement:
    """PostgreSQL: ``at.isoformat()`` of a UTC timestamp as Python writes it (microseconds only if any)."""
    utc = func.timezone("UTC", at)
    micro = case((func.date_trunc("second", at) == at, ""), else_=func.to_char(utc, ".US"))
    return func.concat(func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS'), micro, "+00:00")


def _items(rows: Select, item: ColumnElement, at: ColumnElement, row_id: ColumnElement) -> Subquery:
    """``rows`` (subject_id, officer_id, office_id, …) with each one's evidence ``item``, its time, its id and
    its place counted from the subject's latest (1 = the latest)."""
    back = func.row_number().over(partition_by=rows.selected_columns.subject_id, order_by=(at.desc(), row_id.desc()))
    return rows.add_columns(item.label("item"), at.label("at"), row_id.label("id"), back.label("back")).subquery()


def _per_subject(q: Subquery, facts: ColumnElement) -> Select:
    """One candidate per subject of ``_items``: its evidence in time order (the latest ``EVIDENCE_MAX``)."""
    evidence = func.json_agg(aggregate_order_by(q.c.item, q.c.at, q.c.id), type_=JSON).filter(q.c.back <= EVIDENCE_MAX)
    return select(
        q.c.subject_id, q.c.officer_id, q.c.office_id, evidence.label("evidence"), facts.label("facts")
    ).group_by(q.c.subject_id, q.c.officer_id, q.c.office_id)


def _events(ctx: Eval, p: dict) -> Select:
    """The events of ``event_count``: of subjects with at least ``min_count`` of them in the window."""
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
    return (
        select(ScoreEvent.subject_id, Subject.officer_id, Subject.office_id)
        .join(Subject, Subject.id == ScoreEvent.subject_id)
        .where(*where, ScoreEvent.subject_id.in_(enough))
    )


def event_count(ctx: Eval, p: dict) -> Found:
    """At least ``min_count`` events of ``rule_codes`` (not revoked) in the last ``window_days``."""
    rows = ctx.session.execute(
        _events(ctx, p)
        .add_columns(ScoreEvent.id, ScoreEvent.rule_code, ScoreEvent.occurred_at)
        .order_by(ScoreEvent.subject_id, ScoreEvent.occurred_at, ScoreEvent.id)
    )
    found = _collect(
        rows, lambda r: {"kind": "score_event", "id": r.id, "rule_code": r.rule_code, "at": r.occurred_at.isoformat()}
    )
    for c in found.values():
        c.facts = {"count": len(c.evidence), "window_days": p["window_days"]}
    return found


def event_count_candidates(ctx: Eval, p: dict) -> Select:
    """PostgreSQL: ``event_count``'s candidates as one statement."""
    at = ScoreEvent.occurred_at
    item = _object("kind", "score_event", "id", ScoreEvent.id, "rule_code", ScoreEvent.rule_code, "at", _iso(at))
    q = _items(_events(ctx, p), item, at, ScoreEvent.id)
    return _per_subject(q, _object("count", func.count(), "window_days", p["window_days"]))


def _reports(ctx: Eval, p: dict) -> Select:
    """The field reports of ``report_category`` (not dismissed, in the categories, within the window)."""
    since = ctx.now - timedelta(days=p["window_days"])
    return (
        select(FieldReport.subject_id, Subject.officer_id, Subject.office_id)
        .join(Subject, Subject.id == FieldReport.subject_id)
        .where(
            FieldReport.observed_at >= since,
            FieldReport.status != "dismissed",
            json_list_has_any(ctx.session, FieldReport.categories, p["categories"]),
            ctx.eligible(),
        )
    )


def report_category(ctx: Eval, p: dict) -> Found:
    """At least ``min_count`` field reports (not dismissed) in the categories within ``window_days``."""
    rows = ctx.session.execute(
        _reports(ctx, p)
        .add_columns(FieldReport.id, FieldReport.observed_at, FieldReport.categories)
        .order_by(FieldReport.subject_id, FieldReport.observed_at, FieldReport.id)
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


def report_category_candidates(ctx: Eval, p: dict) -> Select:
    """PostgreSQL: ``report_category``'s candidates as one statement (the report's categories among the
    trigger's, in Python's order: each of the trigger's, sorted, that the report names)."""
    named = cast(FieldReport.categories, postgresql.JSONB)
    among = [case((named.has_key(c), c)) for c in sorted(set(p["categories"]))]
    categories = func.array_to_json(func.array_remove(postgresql.array(among), null()))
    at = FieldReport.observed_at
    item = _object("kind", "field_report", "id", FieldReport.id, "at", _iso(at), "categories", categories)
    q = _items(_reports(ctx, p), item, at, FieldReport.id)
    facts = _object("count", func.count(), "categories", _json(p["categories"]), "window_days", p["window_days"])
    return _per_subject(q, facts).having(func.count() >= p["min_count"])


def _delta():
    return ScoreChange.total_after - func.coalesce(ScoreChange.total_before, ScoreChange.total_after)


def _drops(ctx: Eval, p: dict) -> Select:
    """The falls of ``score_drop``: of subjects whose total fell by ``points`` net within the window."""
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
    return (
        select(ScoreChange.subject_id, Subject.officer_id, Subject.office_id, net.c.net)
        .join(net, net.c.subject_id == ScoreChange.subject_id)
        .join(Subject, Subject.id == ScoreChange.subject_id)
        .where(*own, _delta() < 0)
    )


def score_drop(ctx: Eval, p: dict) -> Found:
    """The total fell by at least ``points`` over ``window_days`` (net of the subject's own changes)."""
    rows = ctx.session.execute(
        _drops(ctx, p)
        .add_columns(ScoreChange.id, ScoreChange.ref, ScoreChange.at, _delta().label("delta"))
        .order_by(ScoreChange.subject_id, ScoreChange.at, ScoreChange.id)
    )
    return _collect(
        rows,
        lambda r: {"kind": "score_change", "id": r.id, "ref": r.ref, "delta": r.delta, "at": r.at.isoformat()},
        lambda r: {"net_change": int(r.net), "window_days": p["window_days"]},
    )


def score_drop_candidates(ctx: Eval, p: dict) -> Select:
    """PostgreSQL: ``score_drop``'s candidates as one statement."""
    change = ("kind", "score_change", "id", ScoreChange.id, "ref", ScoreChange.ref, "delta", _delta())
    item = _object(*change, "at", _iso(ScoreChange.at))
    q = _items(_drops(ctx, p), item, ScoreChange.at, ScoreChange.id)
    facts = _object("net_change", func.max(q.c.net), "window_days", p["window_days"])
    return _per_subject(q, facts)


def _codes(session: Session, colours: list[str]) -> tuple[list[str], list]:
    bands = current_rules(session).bands  # sorted by score, lowest first
    return [b.code for b in bands if b.colour in colours], bands


def _falls(ctx: Eval, p: dict) -> Select | None:
    """The changes of ``grade_fall``: into a grade of ``colours`` from a higher one, and still there."""
    targets, bands = _codes(ctx.session, p["colours"])
    rank = {b.code: i for i, b in enumerate(bands)}
    pairs = [(b.code, a) for a in targets for b in bands if rank[b.code] > rank[a]]
    if not pairs:
        return None
    since = ctx.now - timedelta(days=p["window_days"])
    return (
        select(ScoreChange.subject_id, Subject.officer_id, Subject.office_id, SubjectScore.total)
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
    )


def grade_fall(ctx: Eval, p: dict) -> Found:
    """A change into a grade of ``colours`` from a higher grade within ``window_days``, and still there."""
    falls = _falls(ctx, p)
    if falls is None:
        return {}
    rows = ctx.session.execute(
        falls.add_columns(ScoreChange.id, ScoreChange.grade_before, ScoreChange.grade_after, ScoreChange.at).order_by(
            ScoreChange.subject_id, ScoreChange.at, ScoreChange.id
        )
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


def grade_fall_candidates(ctx: Eval, p: dict) -> Select | None:
    """PostgreSQL: ``grade_fall``'s candidates as one statement (the facts: the last change's grade)."""
    falls = _falls(ctx, p)
    if falls is None:
        return None
    change = ("kind", "score_change", "id", ScoreChange.id, "from", ScoreChange.grade_before)
    item = _object(*change, "to", ScoreChange.grade_after, "at", _iso(ScoreChange.at))
    q = _items(falls.add_columns(ScoreChange.grade_after), item, ScoreChange.at, ScoreChange.id)
    last = func.array_agg(aggregate_order_by(q.c.grade_after, q.c.at.desc(), q.c.id.desc()))[1]
    return _per_subject(q, _object("grade", last, "total", func.max(q.c.total)))


def _green(ctx: Eval, p: dict) -> Select:
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
    return (
        select(Subject.id.label("subject_id"), Subject.officer_id, Subject.office_id)
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


def green_stable(ctx: Eval, p: dict) -> Found:
    """In a grade of ``colours`` now, at the start of the last ``days`` days and at every change since."""
    rows = ctx.session.execute(
        _green(ctx, p).add_columns(Subject.supervision_level, SubjectScore.total, SubjectScore.grade)
    )
    return _collect(
        rows,
        lambda r: {"kind": "subject_score", "id": r.subject_id, "grade": r.grade, "total": r.total},
        lambda r: {"days": p["days"], "supervision_level": r.supervision_level, "total": r.total},
    )


def green_stable_candidates(ctx: Eval, p: dict) -> Select:
    """PostgreSQL: ``green_stable``'s candidates as one statement, evidence and facts built as JSON."""
    evidence = func.json_build_object(
        "kind", "subject_score", "id", Subject.id, "grade", SubjectScore.grade, "total", SubjectScore.total
    )
    facts = func.json_build_object(
        "days", p["days"], "supervision_level", Subject.supervision_level, "total", SubjectScore.total, type_=JSON
    )
    return _green(ctx, p).add_columns(
        func.json_build_array(evidence, type_=JSON).label("evidence"), facts.label("facts")
    )
