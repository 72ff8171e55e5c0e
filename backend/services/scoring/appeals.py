"""我要申诉: a subject appeals one event; someone other than its confirmer decides (docs/score.md#appeals).

Routing: an automatic event (nobody confirmed it, e.g. a missed check-in) goes to the office's officers;
a confirmed one to the office's *other* officers, else to the bureau. Upholding revokes the event and
the score follows; dismissing needs a reason. One open appeal per event (a partial unique index). While
it is open the appeal holds the originals it relies on (docs/photos.md#originals-and-retention).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import DomainError, NotFound, register
from backend.models import Subject, Upload, utcnow
from backend.models.scoring import ScoreEvent
from backend.models.scoring_decisions import Appeal, ScoreAdjustment
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.core.statemachine import StateMachine
from backend.services.evidence import retention
from backend.services.identity import access
from backend.services.scoring import decisions, evidence, ledger

register("APPEAL_ALREADY_OPEN", 409, "该事件已有待处理的申诉", "This event already has an open appeal")
register("APPEAL_NOT_ALLOWED", 422, "该事件不能申诉", "This event cannot be appealed")

APPEAL_STATES = StateMachine(
    "appeal", {"pending": {"upheld", "dismissed"}, "upheld": set(), "dismissed": set()}, "pending"
)
DUE = timedelta(days=7)
access.allow("scoring.appeal.create", {"subject"})
access.allow("scoring.appeal.decide", decisions.STAFF)


def _involved(s, event: ScoreEvent) -> list[int]:
    """Staff who confirmed the event, or proposed and approved it (a manual adjustment)."""
    ids = [event.confirmed_by] if event.confirmed_by else []
    if event.source_kind == "score_adjustment" and event.source_id.isdigit():
        adj = s.get(ScoreAdjustment, int(event.source_id))
        if adj is not None:
            ids += [u for u in (adj.proposed_by, adj.decided_by) if u]
    return sorted(set(ids))


def create(actor: Actor, event_id: int, reason: str, upload_ids: list[int]) -> Appeal:
    """File an appeal against one of the caller's own events."""
    access.require(actor, "scoring.appeal.create")
    with db.tx() as s:
        subject = s.get(Subject, actor.subject_id) if actor.subject_id else None
        event = s.get(ScoreEvent, event_id)
        if subject is None or event is None or event.subject_id != subject.id:
            raise NotFound("event")
        if event.requested_points >= 0 or event.status == "revoked":
            raise DomainError("APPEAL_NOT_ALLOWED", {"event_id": ["only a penalty that still stands can be appealed"]})
        if _open(s, event.id) is not None:
            raise DomainError("APPEAL_ALREADY_OPEN")
        excluded = _involved(s, event)
        role = "officer" if not excluded or decisions.other_officers(s, subject.office_id, excluded) else "bureau"
        appeal = Appeal(
            subject_id=subject.id,
            office_id=subject.office_id,
            event_id=event.id,
            reason=reason.strip(),
            evidence=evidence.attach(s, actor, subject, upload_ids, "appeal"),
            decider_role=role,
            excluded_user_ids=excluded,
            due_at=utcnow() + DUE,
            status="pending",
        )
        try:
            with s.begin_nested():
                s.add(appeal)
                s.flush()
        except IntegrityError:
            raise DomainError("APPEAL_ALREADY_OPEN") from None
        evidence.link(s, actor, subject, appeal.evidence, "appeal", appeal.id)
        for upload_id in sorted(_relied_on(s, appeal)):
            retention.hold(s, upload_id)
        audit.record(
            s,
            "appeal.create",
            actor=actor,
            target_type="appeal",
            target_id=appeal.id,
            details={"event_id": event.id, "decider_role": role},
        )
    return appeal


def _relied_on(s: Session, appeal: Appeal) -> set[int]:
    """The uploads an appeal relies on: its own evidence and the photos of the record its event came from."""
    ids = set(appeal.evidence or [])
    event = s.get(ScoreEvent, appeal.event_id)
    if event.source_kind == "upload" and event.source_id.isdigit():
        ids.add(int(event.source_id))
    source = select(Upload.id).where(Upload.record_type == event.source_kind, Upload.record_id == event.source_id)
    ids.update(s.scalars(source))
    return ids


def _release_holds(s: Session, appeal: Appeal) -> None:
    """The appeal is decided: release the holds of its uploads that no other open appeal still relies on.

    docs/photos.md#originals-and-retention: the retention clock of each released original starts now.
    """
    others = s.scalars(
        select(Appeal).where(Appeal.subject_id == appeal.subject_id, Appeal.status == "pending", Appeal.id != appeal.id)
    )
    still_needed = set().union(*(_relied_on(s, other) for other in others))
    for upload_id in sorted(_relied_on(s, appeal) - still_needed):
        retention.release(s, upload_id)


def _open(s, event_id: int) -> Appeal | None:
    return s.scalar(select(Appeal).where(Appeal.event_id == event_id, Appeal.status == "pending"))


def decide(actor: Actor, appeal_id: int, decision: str, note: str | None) -> Appeal:
    """Uphold (revoke the event; the score recovers) or dismiss (with a reason); a repeat returns the decision."""
    access.require(actor, "scoring.appeal.decide")
    target = {"uphold": "upheld", "dismiss": "dismissed"}[decision]
    with db.tx() as s:
        appeal = decisions.load_scoped(s, actor, Appeal, appeal_id, lock=True)
        if appeal.status == target:
            return appeal
        APPEAL_STATES.check(appeal.status, target)
        decisions.check_decider(actor, appeal.decider_role, appeal.excluded_user_ids, appeal.due_at)
        if target == "dismissed":
            note = decisions.require_note(note)
        else:
            ledger.revoke_event(s, appeal.event_id, f"appeal:{appeal.id}")
        appeal.status, appeal.decided_by, appeal.decided_at, appeal.note = target, actor.user_id, utcnow(), note
        _release_holds(s, appeal)
        subject = s.get(Subject, appeal.subject_id)
        audit.record(
            s,
            f"appeal.{target}",
            actor=actor,
            target_type="appeal",
            target_id=appeal.id,
            details={"event_id": appeal.event_id, "note": note},
        )
        title = "您的申诉已被采纳,相关扣分已撤销" if target == "upheld" else "您的申诉未被采纳"
        decisions.tell_subject(
            s, subject, "appeal_decided", title, note or "", {"appeal_id": appeal.id, "status": target}
        )
    return appeal


def list_query(actor: Actor, status: str | None):
    stmt = select(Appeal).join(Subject, Subject.id == Appeal.subject_id).where(access.subject_scope(actor))
    if status:
        stmt = stmt.where(Appeal.status == status)
    return stmt.order_by(Appeal.due_at if status == "pending" else Appeal.id.desc())
