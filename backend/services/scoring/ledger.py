"""The ledger: ``emit_event``, used by every feature and job, and the revocation of an event.

Guarantees of ``emit_event``:
- idempotent: one event per (rule code, source kind, source id), enforced by a unique constraint; a
  second emit, also from another worker at the same moment, returns the first event (created=False);
- the monthly cap (calendar months in Asia/Shanghai) and the minute carry of per-hour rules are computed
  under the subject's score row lock, so concurrent emits never grant more than the cap;
- runs in the caller's transaction when there is one (``db.tx`` joins it), else in its own;
- writes no audit row: the decision that caused the event audits itself, and jobs audit once per run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from backend.db import db
from backend.errors import DomainError, register
from backend.models import Subject, utcnow
from backend.models.scoring import DIMENSIONS, ScoreEvent
from backend.services.core.statemachine import StateMachine
from backend.services.scoring import score
from backend.services.scoring.rules import Rule
from backend.services.scoring.sql import insert_ignore, month_of

register("SCORE_EVENT_INVALID", 422, "计分事件参数不正确", "The scoring event is not valid")

EVENT_STATES = StateMachine(
    "score_event", {"active": {"expired", "revoked"}, "expired": {"revoked"}, "revoked": set()}, "active"
)
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
E = ScoreEvent.__table__


@dataclass
class Emitted:
    event: ScoreEvent
    created: bool


def find(session: Session, rule_code: str, source_kind: str, source_id: str) -> ScoreEvent | None:
    return session.scalar(
        select(ScoreEvent).where(
            ScoreEvent.rule_code == rule_code, ScoreEvent.source_kind == source_kind, ScoreEvent.source_id == source_id
        )
    )


def _check(rule: Rule, source_kind, source_id, occurred_at, quantity, points, dimension, expires_in_days) -> None:
    errs = {}
    if not _KIND.match(str(source_kind)):
        errs["source_kind"] = ["lower_snake_case, at most 32 characters"]
    if not str(source_id) or len(str(source_id)) > 64:
        errs["source_id"] = ["1–64 characters"]
    if not isinstance(occurred_at, datetime) or occurred_at.tzinfo is None:
        errs["occurred_at"] = ["an aware datetime"]
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= 1_000_000:
        errs["quantity"] = ["a whole number ≥ 1 (minutes for per-hour rules)"]
    if rule.variable:
        if not isinstance(points, int) or isinstance(points, bool) or points == 0 or abs(points) > 600:
            errs["points"] = ["a non-zero whole number"]
        if dimension not in DIMENSIONS:
            errs["dimension"] = [f"one of {', '.join(DIMENSIONS)}"]
        if expires_in_days is not None and (not isinstance(expires_in_days, int) or expires_in_days <= 0):
            errs["expires_in_days"] = ["a whole number of days > 0"]
    elif points is not None or dimension is not None or expires_in_days is not None:
        errs["rule_code"] = [f"{rule.code} sets its own points, dimension and expiry"]
    if errs:
        raise DomainError("SCORE_EVENT_INVALID", errs)


def _granted(session: Session, subject_id: int, rule: Rule, month: str, quantity: int) -> tuple[int, int]:
    """(requested, granted) points: whole hours with the month's minute carry, then the monthly cap."""
    if not (rule.per_hour or rule.monthly_cap):
        return rule.points * quantity, rule.points * quantity
    minutes, used = session.execute(
        select(func.coalesce(func.sum(ScoreEvent.quantity), 0), func.coalesce(func.sum(ScoreEvent.points), 0)).where(
            ScoreEvent.subject_id == subject_id,
            ScoreEvent.rule_code == rule.code,
            ScoreEvent.month == month,
            ScoreEvent.status != "revoked",
        )
    ).one()
    hours = (minutes + quantity) // 60 - minutes // 60  # whole hours, the month's minutes carried over
    requested = hours * rule.points if rule.per_hour else rule.points * quantity
    granted = requested
    if rule.monthly_cap and requested > 0:
        granted = max(0, min(requested, rule.monthly_cap - used))
    return requested, granted


def emit_event(
    subject: Subject | int,
    rule_code: str,
    source_kind: str,
    source_id: object,
    occurred_at: datetime,
    quantity: int = 1,
    reason: str | None = None,
    *,
    points: int | None = None,
    dimension: str | None = None,
    expires_in_days: int | None = None,
    confirmed_by: int | None = None,
) -> Emitted:
    """Record one scoring event and update the subject's score (see the module's guarantees).

    ``quantity`` counts occurrences, or minutes for per-hour rules. ``points``, ``dimension`` and
    ``expires_in_days`` are for variable rules (MANUAL_ADJUSTMENT) only. An event whose expiry has
    already passed is recorded as expired and does not count.
    """
    source_id = str(source_id)
    with db.tx() as s:
        rules = score.begin(s)
        rule = rules.rule(rule_code)
        _check(rule, source_kind, source_id, occurred_at, quantity, points, dimension, expires_in_days)
        row = score.lock(s, subject, rules)
        if row["frozen"]:
            raise DomainError("SUBJECT_RELEASED")
        sid = row["subject_id"]
        month = month_of(occurred_at)
        if rule.variable:
            requested = granted = points
            expiry = timedelta(days=expires_in_days) if expires_in_days else None
            dim = dimension
        else:
            requested, granted = _granted(s, sid, rule, month, quantity)
            expiry, dim = rule.expiry, rule.dimension
        expires_at = occurred_at + expiry if expiry else None
        now = utcnow()
        status = "expired" if expires_at is not None and expires_at <= now else "active"
        values = {
            "subject_id": sid,
            "dimension": dim,
            "points": granted,
            "requested_points": requested,
            "rule_code": rule.code,
            "rule_version": rules.version,
            "source_kind": source_kind,
            "source_id": source_id,
            "quantity": quantity,
            "occurred_at": occurred_at,
            "month": month,
            "expires_at": expires_at,
            "status": status,
            "status_changed_at": now if status != "active" else None,
            "status_ref": "expiry" if status != "active" else None,
            "reason": reason,
            "confirmed_by": confirmed_by,
            "created_at": now,
        }
        keys = ["rule_code", "source_kind", "source_id"]
        event_id = insert_ignore(s, E, values, keys, returning=[E.c.id]).scalar()
        if event_id is None:  # emitted before (a racing emit has committed by the time we hold the lock)
            return Emitted(find(s, rule_code, source_kind, source_id), False)
        event = ScoreEvent(id=event_id, **values)  # what was inserted, without reading it back
        make_transient_to_detached(event)
        s.add(event)
        if status == "active" and granted:
            score.change(
                s,
                sid,
                rules,
                row,
                cause="event",
                ref=f"event:{event.id}",
                deltas={dim: granted},
                at=now,
                details={"rule_code": rule.code, "points": granted, **({"reason": reason} if reason else {})},
            )
        return Emitted(event, True)


def revoke_event(session: Session, event_id: int, ref: str, reason: str | None = None) -> ScoreEvent:
    """Set an event revoked (an upheld appeal, a late-confirmed education session) and take its points off
    the score if it was active; ``reason`` is shown in the score history's change."""
    event = session.get(ScoreEvent, event_id)
    if event is None:
        raise DomainError("NOT_FOUND", detail="event")
    rules = score.begin(session)
    row = score.lock(session, event.subject_id, rules)
    session.refresh(event)  # its status may have changed before we held the lock
    EVENT_STATES.check(event.status, "revoked")
    if row["frozen"]:
        raise DomainError("SUBJECT_RELEASED")
    was_active = event.status == "active"
    now = utcnow()
    session.execute(
        update(ScoreEvent)
        .where(ScoreEvent.id == event.id)
        .values(status="revoked", status_changed_at=now, status_ref=ref)
        .execution_options(synchronize_session=False)
    )
    if was_active and event.points:
        score.change(
            session,
            event.subject_id,
            rules,
            row,
            cause="revocation",
            ref=ref,
            deltas={event.dimension: -event.points},
            at=now,
            details={"event_id": event.id, "rule_code": event.rule_code, **({"reason": reason} if reason else {})},
        )
    session.refresh(event)
    return event
