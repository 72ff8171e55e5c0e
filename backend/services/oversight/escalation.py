"""Escalation that acts: the bureau decides overdue officer items, and overdue items are told once per stage.

Rules: docs/warnings-and-suggestions.md#escalation.

**Deciding.** ``decide(actor, kind, item_id, decision, fn)`` wraps a feature's own decision ``fn(actor)``
(the HTTP layer passes it, so this package needs none of the features):

- an officer (or any other role) is passed through: ``fn(actor)`` applies the feature's own rules;
- a bureau user may decide an open officer item of its own district once it is overdue: ``fn`` runs in the
  officer's stead (an ``Actor`` with the officer role for the item's office and the bureau user's id, so
  the feature records the bureau user as the decider), and in the same transaction an ``escalations`` row
  and an ``escalation.decide`` audit row (with the bureau role) record who decided, that it was escalated
  and since when it was overdue; the subject's officer is told. A not yet overdue item, or one the officer
  decided, answers NOT_THE_DECIDER (422), an item outside the district 404; an item decided through an
  escalation goes to ``fn`` so the feature's repeat (200) or conflict (409) answers.

Requests are decided by ``activities.decisions`` itself (the bureau approves a two-stage request at once);
the kinds here are the verifications, the reviews and the warnings (``ESCALABLE``).

**Notices.** The job ``overdue_notices`` (``scheduled_notices``, every 15 minutes) goes over every inbox
item with a due time (``providers.PROVIDERS``): once its due time has passed, its deciders are told (stage
``overdue``: the subject's officer, else every active officer of the office; the bureau users of the
district for an item routed to the bureau); once an officer item is still open
``ESCALATION_BUREAU_AFTER_HOURS`` later, the district's bureau users are told (stage ``bureau``). An
``overdue_notices`` row per item, stage and due time makes each notice go out once, whatever reruns or
catches up; one notification per user and stage per run lists the items.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import String, and_, case, exists, literal, select, union_all
from sqlalchemy.orm import Session

from backend import runtime
from backend.db import db
from backend.errors import DomainError, NotFound
from backend.models import OrgUnit, Subject, Upload, User, UserUnit, Warning, utcnow
from backend.models.education import EducationSession
from backend.models.escalation import Escalation, OverdueNotice
from backend.models.field import FieldReport
from backend.models.service import ServiceReport
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.core.notifications import notify
from backend.services.identity import access
from backend.services.oversight.inbox import typed_columns
from backend.services.oversight.providers import PROVIDERS

T = TypeVar("T")

#: the HTTP action of the routes that decide escalable items: officers, and bureau users through ``decide``
#: (the features' own actions, ``service.verify`` …, stay officer-only)
access.allow("item.decide", access.STAFF)

#: inbox kinds the bureau may decide once overdue through ``decide`` (requests: ``activities.decisions``; every
#: kind the bureau may decide when overdue: ``inbox.BUREAU_DECIDES_OVERDUE``)
ESCALABLE = ("service_verification", "education_verification", "negative_field_report", "suspect_evidence", "warning")
#: the inbox kinds' names in notices
KIND_NAMES = {
    "request": "申请审批",
    "service_verification": "公益活动核实",
    "education_verification": "线下学习核实",
    "appeal": "申诉",
    "merit_application": "加分申请",
    "adjustment": "分值调整",
    "suspect_evidence": "存疑照片审核",
    "negative_field_report": "负面信息核实",
    "warning": "预警处理",
    "suggestion": "矫正建议",
}
#: the notifications' kinds, per stage
NOTICE_KINDS = {"overdue": "item_overdue", "bureau": "item_overdue_bureau"}


def _lookup(kind: str):
    """(resource name, model, due time, whether still open) of an escalable kind."""
    if kind == "service_verification":
        return "service_report", ServiceReport, ServiceReport.due_at, ServiceReport.status == "pending"
    if kind == "education_verification":
        is_open = and_(EducationSession.mode != "online", EducationSession.status == "pending")
        return "education_session", EducationSession, EducationSession.due_at, is_open
    if kind == "negative_field_report":
        return "field_report", FieldReport, FieldReport.due_at, FieldReport.status == "pending_review"
    if kind == "warning":
        return "warning", Warning, Warning.due_at, Warning.status != "handled"
    if kind == "suspect_evidence":  # due with its EVIDENCE_SUSPECT warning (providers.suspect_evidence)
        return "upload", Upload, Warning.due_at, Upload.review_status == "open"
    raise ValueError(f"not an escalable kind: {kind}")


def _item(s: Session, actor: Actor, kind: str, item_id: int):
    """The item's subject, office, due time and openness, if in the actor's jurisdiction (else NotFound)."""
    name, model, due, is_open = _lookup(kind)
    stmt = (
        select(
            model.subject_id,
            Subject.office_id,
            Subject.officer_id,
            due.label("due_at"),
            case((is_open, 1), else_=0).label("open"),
        )
        .join(Subject, Subject.id == model.subject_id)
        .where(model.id == item_id, access.subject_scope(actor))
    )
    if kind != "suspect_evidence":  # held until the decision: nobody decides it in between
        stmt = stmt.with_for_update(of=model)
    else:  # the review locks the subject's row, then the upload's (docs/schedules.md#lock-order): it rechecks
        stmt = stmt.outerjoin(
            Warning,
            and_(
                Warning.subject_id == Upload.subject_id,
                Warning.kind == "EVIDENCE_SUSPECT",
                Warning.period_key == literal("upload:", type_=String) + Upload.id.cast(String),
                Warning.status != "handled",
            ),
        )
    row = s.execute(stmt).first()
    if row is None:
        raise NotFound(name)
    return row


def _escalated(s: Session, kind: str, item_id: int) -> bool:
    found = s.scalar(select(Escalation.id).where(Escalation.item_kind == kind, Escalation.item_id == item_id))
    return found is not None


def deputy(actor: Actor, office_id: int) -> Actor:
    """The bureau user acting in the officer's stead for one office (the feature's officer-only rules apply)."""
    return Actor(user_id=actor.user_id, role="officer", username=actor.username, unit_ids=(office_id,))


def decide(
    actor: Actor, kind: str, item_id: int, decision: str, fn: Callable[[Actor], T], now: datetime | None = None
) -> T:
    """Run the feature's decision ``fn``, escalated when a bureau user decides an overdue officer item."""
    if actor.role != "bureau":
        return fn(actor)
    now = now or utcnow()
    with db.tx() as s:
        row = _item(s, actor, kind, item_id)
        stand_in = deputy(actor, row.office_id)
        if not row.open and _escalated(s, kind, item_id):  # decided through escalation: a repeat (200) or 409
            return fn(stand_in)
        if not row.open or row.due_at is None or row.due_at >= now:
            due = None if row.due_at is None else row.due_at.isoformat()
            raise DomainError("NOT_THE_DECIDER", {"decider_role": ["officer"]}, context={"due_at": due})
        result = fn(stand_in)
        record(s, actor, kind, item_id, decision, row, now)
    return result


def record(s: Session, actor: Actor, kind: str, item_id: int, decision: str, row, now: datetime) -> Escalation:
    """The escalation with the decision: its row, the audit row (bureau role) and the officer told."""
    e = Escalation(
        item_kind=kind,
        item_id=item_id,
        subject_id=row.subject_id,
        office_id=row.office_id,
        decided_by=actor.user_id,
        from_role="officer",
        decision=decision,
        overdue_since=row.due_at,
        decided_at=now,
    )
    s.add(e)
    s.flush()
    audit.record(
        s,
        "escalation.decide",
        actor=actor,
        target_type=kind,
        target_id=item_id,
        details={
            "escalation_id": e.id,
            "decision": decision,
            "subject_id": row.subject_id,
            "from_role": "officer",
            "overdue_since": row.due_at.isoformat(),
        },
    )
    if row.officer_id is not None:
        data = {"kind": kind, "item_id": item_id, "decision": decision, "overdue_since": row.due_at.isoformat()}
        notify(s, row.officer_id, "item_escalated", f"超期事项已由县级社区矫正机构决定:{KIND_NAMES[kind]}", data=data)
    return e


# --- the overdue notices (the job) ------------------------------------------------------------------------------


def _overdue(stage: str, before: datetime):
    """Open items overdue by ``before`` (stage ``bureau``: due by it) with no notice of the stage for that due."""
    parts = []
    for kind, p in sorted(PROVIDERS.items()):
        c = typed_columns(p.fn(None).subquery())
        sent = exists().where(
            OverdueNotice.item_kind == kind,
            OverdueNotice.item_id == c["item_id"],
            OverdueNotice.stage == stage,
            OverdueNotice.due_at == c["due_at"],
        )
        q = select(
            literal(kind, type_=String).label("kind"),
            c["item_id"].label("item_id"),
            c["subject_id"].label("subject_id"),
            c["office_id"].label("office_id"),
            c["decider_role"].label("decider_role"),
            c["due_at"].label("due_at"),
            c["title"].label("title"),
        ).where(c["due_at"].is_not(None), ~sent)
        if stage == "bureau":  # open the whole further period: from due + the period on
            q = q.where(c["decider_role"] == "officer", c["due_at"] <= before)
        else:  # overdue once the due time has passed, as in the inbox
            q = q.where(c["due_at"] < before)
        parts.append(q)
    box = union_all(*parts).subquery("overdue")
    return (
        select(box, Subject.name.label("subject_name"), Subject.officer_id, OrgUnit.parent_id.label("district_id"))
        .join(Subject, Subject.id == box.c.subject_id)
        .join(OrgUnit, OrgUnit.id == box.c.office_id)
        .order_by(box.c.due_at, box.c.kind, box.c.item_id)
    )


class _Recipients:
    """Active staff by office and district, looked up once per run."""

    def __init__(self, s: Session) -> None:
        self.s = s
        self._units: dict[tuple[int, str], list[int]] = {}

    def of_unit(self, unit_id: int, role: str) -> list[int]:
        key = (unit_id, role)
        if key not in self._units:
            self._units[key] = list(
                self.s.scalars(
                    select(User.id)
                    .join(UserUnit, UserUnit.user_id == User.id)
                    .where(UserUnit.org_unit_id == unit_id, User.role == role, User.active.is_(True))
                    .order_by(User.id)
                )
            )
        return self._units[key]

    def officers(self, row) -> list[int]:
        """The subject's officer if active in the office, else every active officer of the office."""
        everyone = self.of_unit(row.office_id, "officer")
        return [row.officer_id] if row.officer_id in everyone else everyone

    def bureau(self, row) -> list[int]:
        return self.of_unit(row.district_id, "bureau") if row.district_id is not None else []


def _tell(s: Session, stage: str, user_id: int, items: list[dict]) -> None:
    n = len(items)
    if stage == "overdue":
        title = f"待办已超期:{KIND_NAMES.get(items[0]['kind'], items[0]['kind'])}" if n == 1 else f"有 {n} 项待办已超期"
    else:
        title = (
            f"司法所待办超期未办:{KIND_NAMES.get(items[0]['kind'], items[0]['kind'])}"
            if n == 1
            else f"有 {n} 项司法所待办超期未办"
        )
    body = ";".join(f"{i['subject_name']}:{(i['title'] or '')[:40]}" for i in items[:5])
    listed = [{k: i[k] for k in ("kind", "item_id", "subject_id")} for i in items[:50]]
    data = {"stage": stage, "count": n, "items": listed}
    notify(s, user_id, NOTICE_KINDS[stage], title, body, data=data)


def run_notices(fire_at: datetime) -> dict:
    """Send the notices due by ``fire_at`` (see the module docstring); idempotent per item, stage and due time."""
    after = timedelta(hours=runtime.settings().escalation_bureau_after_hours)
    counts: dict[str, int] = {}
    with db.tx() as s:
        people = _Recipients(s)
        sent: list[str] = []
        for stage, before in (("overdue", fire_at), ("bureau", fire_at - after)):
            by_user: dict[int, list[dict]] = defaultdict(list)
            rows = s.execute(_overdue(stage, before)).all()
            for row in rows:
                if stage == "overdue":
                    users = people.officers(row) if row.decider_role == "officer" else people.bureau(row)
                else:
                    users = people.bureau(row)
                item = {
                    "kind": row.kind,
                    "item_id": row.item_id,
                    "subject_id": row.subject_id,
                    "subject_name": row.subject_name,
                    "title": row.title,
                }
                for user_id in users:
                    by_user[user_id].append(item)
                s.add(
                    OverdueNotice(
                        item_kind=row.kind,
                        item_id=row.item_id,
                        stage=stage,
                        due_at=row.due_at,
                        subject_id=row.subject_id,
                        office_id=row.office_id,
                        recipients=len(users),
                    )
                )
                sent.append(f"{row.kind}:{row.item_id}:{stage}")
            for user_id, items in sorted(by_user.items()):
                _tell(s, stage, user_id, items)
            counts[stage] = len(rows)
            counts[f"{stage}_users"] = len(by_user)
        s.flush()
        if sent:
            audit.record_bulk(s, "escalation.notify", sent, counts=counts)
    return counts


def scheduled_notices(period_start: datetime) -> dict:
    """The ``overdue_notices`` schedule: one period's notices at its fire time."""
    return run_notices(period_start)
