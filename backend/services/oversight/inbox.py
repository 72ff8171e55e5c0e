"""The staff inbox: one list of every work item awaiting the caller, overdue first.

Rules: docs/warnings-and-suggestions.md#staff-inbox.

The inbox is a UNION ALL of per-kind providers, so each feature adds its items without touching this
module: ``@provider(kind, path)`` (in ``oversight.providers``) registers a function ``fn(actor) -> Select``
returning the columns of ``COLUMNS`` for the kind's open items (the actor lets a provider drop items the
caller may not decide, such as an appeal against the caller's own confirmation; None means every item, for
the dashboard).
Routing is applied here, once, from each item's ``decider_role`` and office
(docs/warnings-and-suggestions.md#inbox-routing):

- an officer sees the items decided by an officer in the offices assigned to them;
- a bureau user sees the items routed to the bureau in their district, plus every overdue item of the
  district (whoever should decide it).

The whole listing (filter, order, page) is one SQL statement; providers live in ``oversight.providers``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, String, and_, case, false, func, literal, or_, select, type_coerce, union_all
from sqlalchemy.orm import Session

from backend.models import OrgUnit, Subject, utcnow
from backend.models.base import UTCDateTime
from backend.services.core.actors import Actor
from backend.services.identity import access
from backend.services.oversight.providers import COLUMNS, PROVIDERS

access.allow("inbox.read", access.STAFF)


#: the kinds the bureau may decide once overdue, though routed to the officer: requests, verifications, reviews and
#: warnings through escalation; appeals and merit applications route to it (docs/warnings-and-suggestions.md#escalation)
BUREAU_DECIDES_OVERDUE = frozenset(
    {
        "request",
        "service_verification",
        "education_verification",
        "negative_field_report",
        "suspect_evidence",
        "warning",
        "appeal",
        "merit_application",
    }
)


def typed_columns(sub) -> dict:
    """The provider's columns by name, the times typed as UTC (a provider may select a NULL due time)."""
    return {c: type_coerce(sub.c[c], UTCDateTime()) if c in ("due_at", "created_at") else sub.c[c] for c in COLUMNS}


def _part(actor: Actor, kind: str, stmt: Select, now: datetime, routed: bool) -> Select:
    """One provider's items for the actor: routed (the inbox) or every item in the jurisdiction (dashboard)."""
    c = typed_columns(stmt.subquery())
    q = select(literal(kind, type_=String).label("kind"), *(c[n].label(n) for n in COLUMNS))
    if actor.role == "officer":
        q = q.where(c["office_id"].in_(actor.unit_ids) if actor.unit_ids else false())
        return q.where(c["decider_role"] == "officer") if routed else q
    if actor.role == "bureau":
        q = q.where(c["office_id"].in_(access.district_office_ids(actor.unit_ids)))
        return q.where(or_(c["decider_role"] == "bureau", c["due_at"] < now)) if routed else q
    return q.where(false())


def items(actor: Actor, *, everything: bool = False, kinds: list[str] | None = None, now: datetime | None = None):
    """The union of the providers' items for the actor (a subquery); ``everything``: not routed, only scoped."""
    now = now or utcnow()
    parts = []
    for kind, p in sorted(PROVIDERS.items()):
        if kinds and kind not in kinds:
            continue
        parts.append(_part(actor, kind, p.fn(None if everything else actor), now, routed=not everything))
    if not parts:
        parts = [select(*(literal(None).label(c) for c in ("kind", *COLUMNS))).where(false())]
    return union_all(*parts).subquery("inbox")


def list_query(actor: Actor, f: dict | None = None, now: datetime | None = None) -> Select:
    """The caller's inbox, filtered: overdue first, then by due time (none last), then oldest first."""
    access.require(actor, "inbox.read")
    f = f or {}
    now = now or utcnow()
    box = items(actor, kinds=[f["kind"]] if f.get("kind") else None, now=now)
    overdue = and_(box.c.due_at.is_not(None), box.c.due_at < now)
    stmt = (
        select(box, Subject.name.label("subject_name"), Subject.id_number_enc, OrgUnit.name.label("office_name"))
        .join(Subject, Subject.id == box.c.subject_id)
        .join(OrgUnit, OrgUnit.id == box.c.office_id)
    )
    for key in ("subject_id", "office_id", "subtype"):
        if f.get(key) is not None:
            stmt = stmt.where(box.c[key] == f[key])
    if f.get("overdue") is not None:
        stmt = stmt.where(overdue if f["overdue"] else ~overdue)
    if f.get("due_before"):
        stmt = stmt.where(box.c.due_at < f["due_before"])
    return stmt.order_by(
        case((overdue, 0), else_=1),
        case((box.c.due_at.is_(None), 1), else_=0),
        box.c.due_at,
        box.c.created_at,
        box.c.kind,
        box.c.item_id,
    )


def present(row, now: datetime | None = None, actor: Actor | None = None) -> dict:
    """One inbox row as the API shows it (no ID number: the CSV export adds the masked one).

    ``overdue_since`` is the missed due time; for a bureau user, ``escalated`` marks an officer item shown
    because it is overdue, and ``may_decide`` whether the caller may decide the item now.
    """
    now = now or utcnow()
    p = PROVIDERS.get(row.kind)
    overdue = row.due_at is not None and row.due_at < now
    bureau = actor is not None and actor.role == "bureau"
    escalated = bureau and overdue and row.decider_role == "officer"
    may = (row.decider_role == "bureau" or (escalated and row.kind in BUREAU_DECIDES_OVERDUE)) if bureau else True
    return {
        "kind": row.kind,
        "subtype": row.subtype,
        "item_id": row.item_id,
        "subject_id": row.subject_id,
        "subject_name": row.subject_name,
        "office_id": row.office_id,
        "office_name": row.office_name,
        "decider_role": row.decider_role,
        "title": row.title,
        "due_at": row.due_at,
        "overdue": overdue,
        "overdue_since": row.due_at if overdue else None,
        "escalated": escalated,
        "may_decide": may,
        "created_at": row.created_at,
        "action": {"method": "POST", "path": p.path.format(id=row.item_id)} if p else None,
    }


def counts(session: Session, actor: Actor, now: datetime | None = None) -> list[dict]:
    """Open and overdue items by kind and office in the actor's jurisdiction (everything, not only routed)."""
    now = now or utcnow()
    box = items(actor, everything=True, now=now)
    late = case((and_(box.c.due_at.is_not(None), box.c.due_at < now), 1), else_=0)
    rows = session.execute(
        select(box.c.office_id, box.c.kind, func.count().label("open"), func.sum(late).label("overdue"))
        .group_by(box.c.office_id, box.c.kind)
        .order_by(box.c.office_id, box.c.kind)
    )
    return [{"office_id": r.office_id, "kind": r.kind, "open": r.open, "overdue": int(r.overdue or 0)} for r in rows]
