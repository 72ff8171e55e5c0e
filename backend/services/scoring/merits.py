"""我要加分: merit applications by type; an officer decides up to the rule set's limit (10), the bureau above."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from backend.db import db
from backend.errors import DomainError, register
from backend.models import Subject, utcnow
from backend.models.scoring_decisions import MeritApplication
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.core.statemachine import StateMachine
from backend.services.identity import access
from backend.services.scoring import decisions, evidence
from backend.services.scoring.ledger import emit_event
from backend.services.scoring.rules import current

register("MERIT_TYPE_UNKNOWN", 422, "未知的加分类型", "Unknown merit type")

MERIT_STATES = StateMachine(
    "merit_application", {"pending": {"approved", "rejected"}, "approved": set(), "rejected": set()}, "pending"
)
DUE = timedelta(days=7)
access.allow("scoring.merit.create", {"subject"})
access.allow("scoring.merit.decide", decisions.STAFF)


def merit_types(session) -> list[dict]:
    """The merit types of the rule set in force, with their points and who decides them."""
    rules = current(session)
    return [
        {
            "code": r.code,
            "name": r.name,
            "dimension": r.dimension,
            "points": r.points,
            "decider_role": "officer" if r.points <= rules.merit_officer_limit else "bureau",
        }
        for r in rules.merit_rules()
    ]


def create(
    actor: Actor, rule_code: str, description: str, occurred_on: date, upload_ids: list[int]
) -> MeritApplication:
    """Apply for merit points of one type, with evidence."""
    access.require(actor, "scoring.merit.create")
    with db.tx() as s:
        subject = s.get(Subject, actor.subject_id)
        rule = current(s).rules.get(rule_code)
        if rule is None or not rule.merit:
            raise DomainError("MERIT_TYPE_UNKNOWN", {"merit_type": [rule_code]})
        if occurred_on > utcnow().date() + timedelta(days=1):
            raise DomainError("DATES_INVALID", {"occurred_on": ["in the future"]})
        role = "officer" if rule.points <= current(s).merit_officer_limit else "bureau"
        app = MeritApplication(
            subject_id=subject.id,
            office_id=subject.office_id,
            rule_code=rule.code,
            points=rule.points,
            description=description.strip(),
            occurred_on=occurred_on,
            evidence=evidence.attach(s, actor, subject, upload_ids, "merit"),
            decider_role=role,
            due_at=utcnow() + DUE,
            status="pending",
        )
        s.add(app)
        s.flush()
        evidence.link(s, actor, subject, app.evidence, "merit_application", app.id)
        audit.record(
            s,
            "merit.create",
            actor=actor,
            target_type="merit_application",
            target_id=app.id,
            details={"rule_code": rule.code, "points": rule.points, "decider_role": role},
        )
    return app


def decide(actor: Actor, app_id: int, decision: str, note: str | None) -> MeritApplication:
    """Approve (emit the MERIT_* event) or reject (with a reason); a repeat returns the decision."""
    access.require(actor, "scoring.merit.decide")
    target = {"approve": "approved", "reject": "rejected"}[decision]
    with db.tx() as s:
        app = decisions.load_scoped(s, actor, MeritApplication, app_id, lock=True)
        if app.status == target:
            return app
        MERIT_STATES.check(app.status, target)
        decisions.check_decider(actor, app.decider_role, due_at=app.due_at)
        subject = s.get(Subject, app.subject_id)
        if target == "rejected":
            note = decisions.require_note(note)
        else:
            emitted = emit_event(
                subject,
                app.rule_code,
                "merit_application",
                app.id,
                utcnow(),
                reason=app.description[:500],
                confirmed_by=actor.user_id,
            )
            app.event_id = emitted.event.id
        app.status, app.decided_by, app.decided_at, app.note = target, actor.user_id, utcnow(), note
        audit.record(
            s,
            f"merit.{target}",
            actor=actor,
            target_type="merit_application",
            target_id=app.id,
            details={"rule_code": app.rule_code, "points": app.points, "note": note},
        )
        title = f"您的加分申请已通过(+{app.points}分)" if target == "approved" else "您的加分申请未通过"
        decisions.tell_subject(
            s, subject, "merit_decided", title, note or "", {"merit_application_id": app.id, "status": target}
        )
    return app


def list_query(actor: Actor, status: str | None):
    stmt = select(MeritApplication).join(Subject, Subject.id == MeritApplication.subject_id)
    stmt = stmt.where(access.subject_scope(actor))
    if status:
        stmt = stmt.where(MeritApplication.status == status)
    return stmt.order_by(MeritApplication.due_at if status == "pending" else MeritApplication.id.desc())
