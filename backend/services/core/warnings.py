"""Warnings (预警): alerts to staff that every feature raises through ``raise_warning``.

The per-kind hooks that handling a warning runs (``on_confirm`` / ``on_dismiss``) are registered here, below
every feature, so that a feature raising a warning can also say what confirming it means; the staff side
that runs them is ``oversight.warning_handling``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.models import Subject, Warning, utcnow
from backend.services.core import audit, outbox
from backend.services.core.actors import Actor
from backend.services.core.notifications import notify
from backend.services.core.statemachine import StateMachine

#: open → acknowledged → handled (with outcome and note); open may be handled directly
WARNING_STATES = StateMachine(
    "warning", {"open": {"acknowledged", "handled"}, "acknowledged": {"handled"}, "handled": set()}, "open"
)
#: every kind a feature raises, UPPER_SNAKE like every code (docs/warnings-and-suggestions.md#warning-kinds)
WARNING_KINDS = (
    "CHECKIN_MISSED",  # activities.missed
    "GEOFENCE",  # activities.geofence
    "LEAVE_OVERDUE",  # activities.returns
    "SCORE_RED",  # scoring.effects
    "KEYWORD_HIGH",  # field.reports
    "EVIDENCE_SUSPECT",  # evidence.attachments: a suspect photo
    "FACE_REFERENCE_MISSING",  # evidence.face_check: a selfie without a face reference to compare
)
DEFAULT_DUE = timedelta(days=3)
WarningHook = Callable[[Session, Warning, Actor, str], None]
#: confirm hooks by warning kind (the issue brief's registry name)
HOOKS: dict[str, WarningHook] = {}
DISMISS_HOOKS: dict[str, WarningHook] = {}


def _register(table: dict[str, WarningHook], kind: str) -> Callable[[WarningHook], WarningHook]:
    def deco(fn: WarningHook) -> WarningHook:
        known = table.get(kind)
        if known is not None and f"{known.__module__}.{known.__qualname__}" != f"{fn.__module__}.{fn.__qualname__}":
            raise ValueError(f"warning kind {kind!r} already has a hook: {known.__module__}.{known.__qualname__}")
        table[kind] = fn
        return fn

    return deco


def on_confirm(kind: str) -> Callable[[WarningHook], WarningHook]:
    """Register ``fn(session, warning, actor, note)`` to run when a warning of ``kind`` is handled as confirmed."""
    return _register(HOOKS, kind)


def on_dismiss(kind: str) -> Callable[[WarningHook], WarningHook]:
    """Register ``fn(session, warning, actor, note)`` to run when a warning of ``kind`` is dismissed."""
    return _register(DISMISS_HOOKS, kind)


def raise_warning(
    session: Session,
    subject: Subject,
    kind: str,
    severity: str,
    title: str,
    *,
    period_key: str = "",
    details: dict | None = None,
    evidence: list | None = None,
    due_at: datetime | None = None,
) -> tuple[Warning, bool]:
    """Open a warning unless one of this kind is already open for the subject and period.

    Returns (warning, created). Safe under concurrency: a partial unique index allows one unhandled
    warning per (subject, kind, period); a losing racer gets the existing row. High severity notifies
    the responsible officer at once (in the same transaction, delivered after commit).

    Lock order (docs/schedules.md#lock-order): the insert takes PostgreSQL's key-share lock on the
    subject's row (its foreign key). A caller that also holds the subject's photo or check-in locks the
    subject first, with ``core.rowlocks`` (``FOR NO KEY UPDATE``, which that key-share lock never waits for).
    """
    existing = _open(session, subject.id, kind, period_key)
    if existing is not None:
        return existing, False
    w = Warning(
        subject_id=subject.id,
        kind=kind,
        severity=severity,
        title=title,
        period_key=period_key,
        details=details or {},
        evidence=evidence or [],
        officer_id=subject.officer_id,
        office_id=subject.office_id,
        due_at=due_at or utcnow() + DEFAULT_DUE,
        status="open",
    )
    try:
        with session.begin_nested():
            session.add(w)
            session.flush()
    except IntegrityError:
        found = _open(session, subject.id, kind, period_key)
        if found is None:
            raise
        return found, False
    audit.record(
        session,
        "warning.raise",
        target_type="warning",
        target_id=w.id,
        details={"kind": kind, "severity": severity, "subject_id": subject.id},
    )
    if severity == "high":
        if subject.officer_id is not None:
            notify(session, subject.officer_id, "warning", title, data={"warning_id": w.id, "kind": kind})
        # a high-severity signal re-evaluates the subject's suggestions at once (services.suggestions)
        outbox.add(session, "evaluate_suggestions", {"subject_id": subject.id})
    return w, True


def _open(session: Session, subject_id: int, kind: str, period_key: str) -> Warning | None:
    return session.scalar(
        select(Warning).where(
            Warning.subject_id == subject_id,
            Warning.kind == kind,
            Warning.period_key == period_key,
            Warning.status != "handled",
        )
    )
