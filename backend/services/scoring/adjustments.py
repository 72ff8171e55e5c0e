"""Manual score corrections: an officer proposes, a bureau user approves (two people) → MANUAL_ADJUSTMENT."""

from __future__ import annotations

from sqlalchemy import select

from backend.db import db
from backend.errors import DomainError
from backend.models import Subject, utcnow
from backend.models.scoring import DIMENSIONS
from backend.models.scoring_decisions import ScoreAdjustment
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.core.statemachine import StateMachine
from backend.services.identity import access
from backend.services.scoring import decisions
from backend.services.scoring.ledger import emit_event

ADJUSTMENT_STATES = StateMachine(
    "score_adjustment", {"pending": {"approved", "rejected"}, "approved": set(), "rejected": set()}, "pending"
)
MAX_POINTS = 100
access.allow("scoring.adjust.propose", {"officer"})
access.allow("scoring.adjust.decide", {"bureau"})
access.allow("scoring.adjust.list", decisions.STAFF)


def propose(actor: Actor, subject_id: int, data: dict) -> ScoreAdjustment:
    """Propose a correction of one dimension (± points, optional expiry) with a reason."""
    access.require(actor, "scoring.adjust.propose")
    if data["dimension"] not in DIMENSIONS or not 0 < abs(data["points"]) <= MAX_POINTS:
        raise DomainError("VALIDATION_FAILED", {"points": [f"non-zero, at most {MAX_POINTS} either way"]})
    with db.tx() as s:
        subject = access.get_subject(s, actor, subject_id)
        if subject.status != "in_correction":
            raise DomainError("SUBJECT_RELEASED")
        adj = ScoreAdjustment(
            subject_id=subject.id,
            office_id=subject.office_id,
            dimension=data["dimension"],
            points=data["points"],
            expires_in_days=data.get("expires_in_days"),
            reason=data["reason"].strip(),
            proposed_by=actor.user_id,
            status="pending",
        )
        s.add(adj)
        s.flush()
        audit.record(
            s,
            "score_adjustment.propose",
            actor=actor,
            target_type="score_adjustment",
            target_id=adj.id,
            details={"dimension": adj.dimension, "points": adj.points, "subject_id": subject.id},
        )
    return adj


def decide(actor: Actor, adj_id: int, decision: str, note: str | None) -> ScoreAdjustment:
    """Approve (emit MANUAL_ADJUSTMENT naming both people) or reject with a reason; a repeat returns it."""
    access.require(actor, "scoring.adjust.decide")
    target = {"approve": "approved", "reject": "rejected"}[decision]
    with db.tx() as s:
        adj = decisions.load_scoped(s, actor, ScoreAdjustment, adj_id, lock=True)
        if adj.status == target:
            return adj
        ADJUSTMENT_STATES.check(adj.status, target)
        decisions.check_decider(actor, "bureau", [adj.proposed_by])
        subject = s.get(Subject, adj.subject_id)
        if target == "rejected":
            note = decisions.require_note(note)
        else:
            reason = (
                f"{adj.reason}(提议:{decisions.display_name(s, adj.proposed_by)},"
                f"批准:{decisions.display_name(s, actor.user_id)})"
            )
            emitted = emit_event(
                subject,
                "MANUAL_ADJUSTMENT",
                "score_adjustment",
                adj.id,
                utcnow(),
                reason=reason,
                points=adj.points,
                dimension=adj.dimension,
                expires_in_days=adj.expires_in_days,
                confirmed_by=adj.proposed_by,
            )
            adj.event_id = emitted.event.id
        adj.status, adj.decided_by, adj.decided_at, adj.note = target, actor.user_id, utcnow(), note
        audit.record(
            s,
            f"score_adjustment.{target}",
            actor=actor,
            target_type="score_adjustment",
            target_id=adj.id,
            details={"proposed_by": adj.proposed_by, "points": adj.points, "note": note},
        )
        if target == "approved":
            sign = "+" if adj.points > 0 else ""
            decisions.tell_subject(
                s,
                subject,
                "score_adjusted",
                f"您的信用矫正分已人工调整({sign}{adj.points}分)",
                adj.reason,
                {"score_adjustment_id": adj.id},
            )
    return adj


def list_query(actor: Actor, status: str | None):
    stmt = select(ScoreAdjustment).join(Subject, Subject.id == ScoreAdjustment.subject_id)
    stmt = stmt.where(access.subject_scope(actor))
    if status:
        stmt = stmt.where(ScoreAdjustment.status == status)
    return stmt.order_by(ScoreAdjustment.id.desc())
