"""Precision-correction suggestions (精准矫正建议): the engine, its jobs, and the officer's actions.

Rules: docs/warnings-and-suggestions.md#suggestions.

``evaluate`` runs every enabled trigger of the version in force as one set-based query over all subjects
(or a few, after a high-severity signal) and inserts the suggestions with ON CONFLICT DO NOTHING against
the partial unique index (subject, kind) of live suggestions. On PostgreSQL each trigger is one
INSERT … SELECT, the rationale built in SQL (``CANDIDATES``: no suggestion travels to Python and back);
elsewhere the evaluators' rows are built in Python and inserted in batches. So running it twice, or
twice at the same moment, never makes a duplicate. A closed suggestion keeps its trigger quiet for the
trigger's cooldown. One audit row per run (counts and a digest of the ids), one notification per officer.

Officers accept, dismiss (with a coded reason) or mark done (with a coded outcome); the same action again
returns the suggestion as it is (200), an action the state does not allow is 409.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import JSON, BigInteger, Float, Select, String, case, cast, func, literal, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.selectable import TextualSelect

from backend.db import db, is_pg
from backend.errors import DomainError, NotFound, register
from backend.models import Subject, utcnow
from backend.models.field import Suggestion
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.core.dialect import insert_skipping_duplicates
from backend.services.core.handlers import handler
from backend.services.core.notifications import notify
from backend.services.core.statemachine import StateMachine
from backend.services.identity import access
from backend.services.oversight.warning_handling import day_start
from backend.services.scoring.rules import current as current_rules
from backend.services.suggestions import signals
from backend.services.suggestions import triggers as suggestion_triggers
from backend.services.suggestions.education import candidates as education_candidates
from backend.services.suggestions.education import education_progress
from backend.services.suggestions.signals import Candidate, Eval

register("SUGGESTION_REASON_REQUIRED", 422, "驳回建议须选择理由", "Dismissing needs a reason code")
register("SUGGESTION_OUTCOME_REQUIRED", 422, "完成建议须填写结果", "Marking done needs an outcome code")
register("SUGGESTION_NOTE_REQUIRED", 422, "选择其他理由时须填写说明", "A note is required with the reason 'other'")

SUGGESTION_STATES = StateMachine(
    "suggestion",
    {"open": {"accepted", "dismissed", "done"}, "accepted": {"done", "dismissed"}, "dismissed": set(), "done": set()},
    "open",
)
ACTIONS = {"accept": "accepted", "dismiss": "dismissed", "done": "done"}
DISMISS_REASONS = ("not_applicable", "already_addressed", "insufficient_evidence", "duplicate", "other")
OUTCOMES = ("effective", "partially_effective", "not_effective", "referred")
LIVE = ("open", "accepted")
_BATCH = 500
#: trigger kind → evaluator (the kinds ``suggestion_triggers.PARAMS`` validates)
EVALUATORS = {
    "event_count": signals.event_count,
    "report_category": signals.report_category,
    "score_drop": signals.score_drop,
    "grade_fall": signals.grade_fall,
    "green_stable": signals.green_stable,
    "education_progress": education_progress,
}
#: PostgreSQL: kind → the candidates as one statement (subject_id, officer_id, office_id, evidence and facts
#: as JSON), which ``_write_found`` wraps in one INSERT … SELECT, rationale and all: no suggestion travels
#: to Python and back. Same output as the evaluators (tests/suggestions/test_golden.py compares).
CANDIDATES = {
    "event_count": signals.event_count_candidates,
    "report_category": signals.report_category_candidates,
    "score_drop": signals.score_drop_candidates,
    "grade_fall": signals.grade_fall_candidates,
    "green_stable": signals.green_stable_candidates,
    "education_progress": education_candidates,
}

access.allow("suggestion.read", access.STAFF)
access.allow("suggestion.act", {"officer"})


def _rule_names(session: Session, t: dict) -> str:
    if t["kind"] != "event_count":
        return ""
    rules = current_rules(session)
    return "、".join(rules.rules[code].name if code in rules.rules else code for code in t["params"]["rule_codes"])


def _summary(t: dict, c: Candidate, names: str) -> str:
    f, p = c.facts, t["params"]
    kind = t["kind"]
    if kind == "event_count":
        return f"近{p['window_days']}日{names}{f['count']}次"
    if kind == "report_category":
        return f"近{p['window_days']}日网格员报告{f['count']}次涉及{'、'.join(p['categories'])}"
    if kind == "score_drop":
        return f"近{p['window_days']}日信用矫正分净下降{-f['net_change']}分"
    if kind == "grade_fall":
        return f"信用等级降至{f['grade']}(当前{f['total']}分)"
    if kind == "green_stable":
        return f"连续{p['days']}日保持{'、'.join(p['colours'])}等级(当前{f['total']}分)"
    return f"{f['month']}已学习{f['done_minutes'] / 60:.1f}小时,要求{f['required_minutes'] / 60:.1f}小时"


def _row(t: dict, version: int, subject_id: int, c: Candidate, now: datetime, names: str) -> dict:
    return {
        "subject_id": subject_id,
        "kind": t["code"],
        "category": t["category"],
        "priority": t["priority"],
        "title": t["title"][:200],
        "rationale": {
            "summary": _summary(t, c, names),
            "evidence": c.evidence[-signals.EVIDENCE_MAX :],
            "facts": c.facts,
            "trigger": {"code": t["code"], "kind": t["kind"], "version": version, "params": t["params"]},
        },
        "trigger_version": version,
        "officer_id": c.officer_id,
        "office_id": c.office_id,
        "status": "open",
        "due_at": now + timedelta(days=t["due_days"]),
        "created_at": now,
        "accepted_at": None,
        "closed_at": None,
        "decided_by": None,
        "dismiss_reason": None,
        "outcome": None,
        "note": None,
    }


def evaluate(now: datetime | None = None, subject_ids: tuple[int, ...] | None = None) -> dict:
    """Run every enabled trigger (for everyone, or ``subject_ids``) and write the new suggestions; idempotent."""
    now = now or utcnow()
    per_trigger: dict[str, int | str] = {}
    created: list[tuple[int, int | None]] = []
    with db.tx() as s:
        pg = is_pg(s)
        if pg:  # a few large one-off statements: compiling them (JIT) costs more than it saves; their sorts
            s.execute(text("SET LOCAL jit = off"))  # and hashes (a row per session interval) fit in memory
            s.execute(text("SET LOCAL work_mem = '64MB'"))
        version, triggers = suggestion_triggers.current(s)
        rows: list[dict] = []  # the evaluators' suggestions, written together after the last trigger
        for t in triggers:
            if not t.get("enabled", True):
                per_trigger[t["code"]] = "disabled"
                continue
            ctx = Eval(s, now, t["code"], t["cooldown_days"], subject_ids)
            if pg and t["kind"] in CANDIDATES:
                found = CANDIDATES[t["kind"]](ctx, t["params"])
                made = _write_found(s, t, version, now, _rule_names(s, t), found)
                per_trigger[t["code"]] = len(made)
                created += made
                continue
            found = EVALUATORS[t["kind"]](ctx, t["params"])
            names = _rule_names(s, t)
            rows += [_row(t, version, sid, c, now, names) for sid, c in sorted(found.items())]
            per_trigger[t["code"]] = 0  # counted when written
        # a trigger's eligibility looks only at its own kind (codes are unique), so writing later changes nothing
        for new_id, officer, kind in _write(s, rows):
            created.append((new_id, officer))
            per_trigger[kind] += 1
        _tell_officers(s, [officer for _, officer in created])
        if subject_ids is not None and not created:
            return {"created": 0, "per_trigger": per_trigger, "trigger_version": version}  # a no-op signal run
        audit.record_bulk(
            s,
            "suggestions.evaluate",
            [i for i, _ in created],
            counts={"created": len(created)},
            details={"trigger_version": version, "per_trigger": per_trigger, "scope": _scope(subject_ids)},
        )
    return {"created": len(created), "per_trigger": per_trigger, "trigger_version": version}


#: the columns a new suggestion is written with (status 'open'; the rest are NULL until an officer acts)
_COLUMNS = (
    "subject_id",
    "kind",
    "category",
    "priority",
    "title",
    "rationale",
    "trigger_version",
    "officer_id",
    "office_id",
    "due_at",
    "created_at",
)


def _write(s: Session, rows: list[dict]) -> list:
    """Insert the evaluators' suggestions in batches, skipping any that a live one of the kind already covers;
    (id, officer, kind) of the new ones. (On PostgreSQL every kind has its one statement in ``CANDIDATES``.)
    """
    c, made = Suggestion.__table__.c, []
    for i in range(0, len(rows), _BATCH):
        made += insert_skipping_duplicates(s, Suggestion.__table__, rows[i : i + _BATCH], c.id, c.officer_id, c.kind)
    return made


def _summary_sql(t: dict, facts: ColumnElement, names: str) -> ColumnElement:
    """``_summary`` in SQL, from the facts (to_char of a double formats like Python's ``:.1f``: both round
    the binary value correctly; tests/suggestions/test_summary_sql.py compares)."""
    p, kind = t["params"], t["kind"]

    def fact(key: str) -> ColumnElement:
        return facts[key].as_string()

    if kind == "event_count":
        return literal(f"近{p['window_days']}日{names}") + fact("count") + "次"
    if kind == "report_category":
        return literal(f"近{p['window_days']}日网格员报告") + fact("count") + f"次涉及{'、'.join(p['categories'])}"
    if kind == "score_drop":
        fell = cast(-cast(fact("net_change"), BigInteger), String)
        return literal(f"近{p['window_days']}日信用矫正分净下降") + fell + "分"
    if kind == "grade_fall":
        return "信用等级降至" + fact("grade") + "(当前" + fact("total") + "分)"
    if kind == "green_stable":
        return literal(f"连续{p['days']}日保持{'、'.join(p['colours'])}等级(当前") + fact("total") + "分)"

    def hours(key: str) -> ColumnElement:
        return func.to_char(cast(fact(key), Float) / 60.0, "FM999999999990.0")

    return fact("month") + "已学习" + hours("done_minutes") + "小时,要求" + hours("required_minutes") + "小时"


def _write_found(
    s: Session, t: dict, version: int, now: datetime, names: str, found: Select | TextualSelect | None
) -> list:
    """PostgreSQL: one INSERT … SELECT … ON CONFLICT DO NOTHING of ``found``'s candidates; (id, officer) rows."""
    if found is None:
        return []
    f = found.subquery("found")
    trigger = {"code": t["code"], "kind": t["kind"], "version": version, "params": t["params"]}
    rationale = func.json_build_object(
        "summary",
        _summary_sql(t, f.c.facts, names),
        "evidence",
        f.c.evidence,
        "facts",
        f.c.facts,
        "trigger",
        cast(literal(json.dumps(trigger, ensure_ascii=False)), JSON),
    )
    stamp = Suggestion.__table__.c.created_at.type
    rows = select(
        f.c.subject_id,
        literal(t["code"]),
        literal(t["category"]),
        literal(t["priority"]),
        literal(t["title"][:200]),
        rationale,
        literal(version),
        f.c.officer_id,
        f.c.office_id,
        literal(now + timedelta(days=t["due_days"]), stamp),
        literal(now, stamp),
        literal("open"),
    ).order_by(f.c.subject_id)
    c = Suggestion.__table__.c
    columns = [*_COLUMNS, "status"]
    stmt = pg_insert(Suggestion.__table__).from_select(columns, rows).on_conflict_do_nothing()
    return s.execute(stmt.returning(c.id, c.officer_id)).all()


def _scope(subject_ids: tuple[int, ...] | None) -> str:
    return "all" if subject_ids is None else f"subjects:{','.join(map(str, subject_ids))}"[:200]


def _tell_officers(s: Session, officers: list[int | None]) -> None:
    for officer_id, n in sorted(Counter(o for o in officers if o is not None).items()):
        notify(s, officer_id, "suggestions", f"新增{n}条精准矫正建议", data={"count": n})


def scheduled(_period_start: datetime) -> dict:
    """The nightly run over every subject (workers.schedules)."""
    return evaluate()


@handler("evaluate_suggestions")
def evaluate_for_subject(session: Session, payload: dict) -> None:
    """Evaluate one subject at once after a high-severity signal (an outbox job; idempotent like the nightly run)."""
    if session.get(Subject, payload["subject_id"]) is None:
        return
    evaluate(subject_ids=(int(payload["subject_id"]),))


def _load(s: Session, actor: Actor, suggestion_id: int, lock: bool = False) -> Suggestion:
    stmt = (
        select(Suggestion)
        .join(Subject, Subject.id == Suggestion.subject_id)
        .where(Suggestion.id == suggestion_id, access.subject_scope(actor))
        .execution_options(populate_existing=True)
    )
    if lock:
        stmt = stmt.with_for_update(of=Suggestion)
    found = s.scalar(stmt)
    if found is None:
        raise NotFound("suggestion")
    return found


def get(actor: Actor, suggestion_id: int) -> Suggestion:
    access.require(actor, "suggestion.read")
    return _load(db.session, actor, suggestion_id)


def act(
    actor: Actor,
    suggestion_id: int,
    action: str,
    *,
    reason: str | None = None,
    outcome: str | None = None,
    note: str | None = None,
) -> Suggestion:
    """Accept, dismiss (coded reason) or mark done (coded outcome) a suggestion of the officer's jurisdiction."""
    access.require(actor, "suggestion.act")
    target = ACTIONS.get(action)
    if target is None:
        raise DomainError("VALIDATION_FAILED", {"action": ["one of: " + ", ".join(sorted(ACTIONS))]})
    note = (note or "").strip() or None
    if target == "dismissed":
        if reason not in DISMISS_REASONS:
            raise DomainError("SUGGESTION_REASON_REQUIRED", {"reason": ["one of: " + ", ".join(DISMISS_REASONS)]})
        if reason == "other" and not note:
            raise DomainError("SUGGESTION_NOTE_REQUIRED", {"note": ["required"]})
    if target == "done" and outcome not in OUTCOMES:
        raise DomainError("SUGGESTION_OUTCOME_REQUIRED", {"outcome": ["one of: " + ", ".join(OUTCOMES)]})
    with db.tx() as s:
        sug = _load(s, actor, suggestion_id, lock=True)
        if sug.status == target:
            return sug
        SUGGESTION_STATES.apply(sug, target)
        now = utcnow()
        sug.decided_by = actor.user_id
        if target == "accepted":
            sug.accepted_at = now
        else:
            sug.closed_at = now
            sug.dismiss_reason = reason if target == "dismissed" else None
            sug.outcome = outcome if target == "done" else None
        if note:
            sug.note = note
        audit.record(
            s,
            f"suggestion.{action}",
            actor=actor,
            target_type="suggestion",
            target_id=sug.id,
            details={"subject_id": sug.subject_id, "kind": sug.kind, "reason": reason, "outcome": outcome},
        )
    return sug


def list_query(actor: Actor, f: dict, now: datetime | None = None) -> Select:
    """Suggestions of subjects in the actor's jurisdiction: live first, high priority first, by due time."""
    access.require(actor, "suggestion.read")
    now = now or utcnow()
    stmt = (
        select(Suggestion, Subject.name)
        .join(Subject, Subject.id == Suggestion.subject_id)
        .where(access.subject_scope(actor))
    )
    for key in ("status", "category", "kind", "priority", "subject_id", "office_id", "officer_id"):
        if f.get(key) is not None:
            stmt = stmt.where(getattr(Suggestion, key) == f[key])
    if f.get("date_from"):
        stmt = stmt.where(Suggestion.created_at >= day_start(f["date_from"]))
    if f.get("date_to"):
        stmt = stmt.where(Suggestion.created_at < day_start(f["date_to"], next_day=True))
    if f.get("overdue") is not None:
        late = Suggestion.status.in_(LIVE) & (Suggestion.due_at < now)
        stmt = stmt.where(late if f["overdue"] else ~late)
    live = case((Suggestion.status.in_(LIVE), 0), else_=1)
    rank = case({"high": 0, "medium": 1, "low": 2}, value=Suggestion.priority, else_=3)
    return stmt.order_by(live, rank, Suggestion.due_at, Suggestion.id)
