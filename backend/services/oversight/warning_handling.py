"""Handling warnings (预警): the staff list, acknowledge, handle with an outcome and a note, per-kind hooks.

The warning's state machine (``WARNING_STATES``: open → acknowledged → handled, open → handled) lives
with ``raise_warning`` in ``backend.services.core.warnings``. Handling records an outcome:

- ``confirmed``: the alert was real and calls for the consequence its kind defines; the kind's confirm
  hook runs in the same transaction (GEOFENCE → GEOFENCE_BREACH, KEYWORD_HIGH → the negative field
  reports are confirmed → GRID_NEGATIVE, EVIDENCE_SUSPECT → the photo is confirmed as fraud);
- ``dismissed``: a false alarm; the kind's dismiss hook runs (reports dismissed, the photo cleared);
- ``resolved``: dealt with (talked to the subject, …) without a consequence of its own.

Features register hooks with ``@on_confirm(kind)`` / ``@on_dismiss(kind)`` (kept in ``core.warnings``, below
every feature); a hook is called as
``hook(session, warning, actor, note)`` inside the handling transaction, may raise a DomainError to refuse
(the whole handling rolls back) and may itself mark the warning handled (the handler then leaves it).
Repeating the same handling returns the warning as it is (200); a different outcome afterwards is 409.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, select
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import DomainError, NotFound, register
from backend.models import Subject, Warning, utcnow
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.core.warnings import DISMISS_HOOKS, HOOKS, WARNING_KINDS, WARNING_STATES, on_confirm, on_dismiss
from backend.services.identity import access

OUTCOMES = ("confirmed", "dismissed", "resolved")
TZ = ZoneInfo("Asia/Shanghai")
#: outcomes other features write when they handle a warning themselves (the upload review's "cleared")
_SAME = {"cleared": "dismissed"}
#: the kinds features raise (docs/warnings-and-suggestions.md#warning-kinds), declared in ``core.warnings``
KINDS = WARNING_KINDS

register("WARNING_ALREADY_HANDLED", 409, "该预警已处理,处理结果不能更改", "The warning was already handled otherwise")

access.allow("warning.read", access.STAFF)
access.allow("warning.handle", {"officer"})


def is_overdue(w: Warning, now: datetime | None = None) -> bool:
    return w.status != "handled" and w.due_at is not None and w.due_at < (now or utcnow())


def list_query(actor: Actor, filters: dict | None = None, now: datetime | None = None) -> Select:
    """The warnings of subjects in the actor's jurisdiction: unhandled first, overdue first, then by due time."""
    f = filters or {}
    now = now or utcnow()
    stmt = (
        select(Warning, Subject.name).join(Subject, Subject.id == Warning.subject_id).where(access.subject_scope(actor))
    )
    for key in ("status", "kind", "severity", "subject_id", "office_id", "officer_id"):
        if f.get(key) is not None:
            stmt = stmt.where(getattr(Warning, key) == f[key])
    if f.get("date_from"):
        stmt = stmt.where(Warning.created_at >= day_start(f["date_from"]))
    if f.get("date_to"):
        stmt = stmt.where(Warning.created_at < day_start(f["date_to"], next_day=True))
    if f.get("overdue") is not None:
        late = (Warning.status != "handled") & (Warning.due_at < now)
        stmt = stmt.where(late if f["overdue"] else ~late)
    unhandled = case((Warning.status == "handled", 1), else_=0)
    overdue = case(((Warning.status != "handled") & (Warning.due_at < now), 0), else_=1)
    return stmt.order_by(unhandled, overdue, Warning.due_at, Warning.id)


def day_start(d: date, next_day: bool = False) -> datetime:
    """Midnight of a calendar day in Asia/Shanghai (dates in filters are Shanghai dates)."""
    return datetime.combine(d + timedelta(days=1) if next_day else d, time(0), TZ)


def _load(s: Session, actor: Actor, warning_id: int, lock: bool = False) -> Warning:
    stmt = (
        select(Warning)
        .join(Subject, Subject.id == Warning.subject_id)
        .where(Warning.id == warning_id, access.subject_scope(actor))
        .execution_options(populate_existing=True)
    )
    if lock:
        stmt = stmt.with_for_update(of=Warning)
    w = s.scalar(stmt)
    if w is None:
        raise NotFound("warning")
    return w


def get(actor: Actor, warning_id: int) -> Warning:
    """One warning of a subject in the actor's jurisdiction (404 otherwise)."""
    access.require(actor, "warning.read")
    return _load(db.session, actor, warning_id)


def acknowledge(actor: Actor, warning_id: int) -> Warning:
    """Mark an open warning as seen (acknowledged); acknowledging again changes nothing; a handled one is 409."""
    access.require(actor, "warning.handle")
    with db.tx() as s:
        w = _load(s, actor, warning_id, lock=True)
        if w.status == "acknowledged":
            return w
        WARNING_STATES.apply(w, "acknowledged")
        w.acknowledged_at = utcnow()
        audit.record(s, "warning.acknowledge", actor=actor, target_type="warning", target_id=w.id)
    return w


def handle(actor: Actor, warning_id: int, outcome: str, note: str) -> Warning:
    """Handle a warning with an outcome and a note, running the kind's hook (see the module docstring)."""
    access.require(actor, "warning.handle")
    if outcome not in OUTCOMES:
        raise DomainError("VALIDATION_FAILED", {"outcome": ["one of: " + ", ".join(OUTCOMES)]})
    note = (note or "").strip()
    if not note:
        raise DomainError("VALIDATION_FAILED", {"note": ["required"]})
    with db.tx() as s:
        w = _load(s, actor, warning_id, lock=True)
        if w.status == "handled":
            if _SAME.get(w.outcome, w.outcome) == outcome:
                return w
            raise DomainError("WARNING_ALREADY_HANDLED", context={"outcome": w.outcome})
        hook = {"confirmed": HOOKS, "dismissed": DISMISS_HOOKS}.get(outcome, {}).get(w.kind)
        if hook is not None:
            hook(s, w, actor, note)
        if w.status != "handled":  # the hook may have handled it through its own feature's decision
            mark_handled(w, actor, outcome, note)
        audit.record(
            s,
            "warning.handle",
            actor=actor,
            target_type="warning",
            target_id=w.id,
            details={"kind": w.kind, "outcome": w.outcome, "subject_id": w.subject_id, "hook": hook is not None},
        )
    return w


def mark_handled(w: Warning, actor: Actor, outcome: str, note: str | None) -> None:
    """Move a warning to handled with its outcome (in the caller's transaction; the caller audits)."""
    WARNING_STATES.apply(w, "handled")
    w.handled_at, w.handled_by, w.outcome, w.note = utcnow(), actor.user_id, outcome, note


# --- the hooks of the photo evidence feature: an EVIDENCE_SUSPECT warning is the upload's review -------------


def _upload_id(w: Warning) -> int:
    upload_id = (w.details or {}).get("upload_id")
    if not isinstance(upload_id, int):
        raise DomainError("CONFLICT", detail="warning without its upload")
    return upload_id


@on_confirm("EVIDENCE_SUSPECT")
def _confirm_suspect(session: Session, w: Warning, actor: Actor, note: str) -> None:
    from backend.services.evidence import review

    review.review(actor, _upload_id(w), "confirm", note)


@on_dismiss("EVIDENCE_SUSPECT")
def _clear_suspect(session: Session, w: Warning, actor: Actor, note: str) -> None:
    from backend.services.evidence import review

    review.review(actor, _upload_id(w), "clear", note)
