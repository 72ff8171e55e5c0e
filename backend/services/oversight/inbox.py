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

The whole listing (filter, order, page and the number of matching items) is one SQL statement; providers
live in ``oversight.providers``. Building that statement (ten providers, each a subquery) costs more than
running it, so it is built once per shape (role, kinds, which filters) and kept, with the varying
values (the caller's id and offices, the time, the filter values, the page) as bound parameters; SQLAlchemy
then finds its compiled form in its cache instead of walking the whole tree again. Every user of a role
shares the role's statements, so a new process builds each shape once, not once per user.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    false,
    func,
    literal,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from backend.db import db
from backend.models import OrgUnit, Subject, utcnow
from backend.models.base import UTCDateTime
from backend.services.core.actors import Actor
from backend.services.identity import access
from backend.services.oversight.providers import CALLER, COLUMNS, PROVIDERS

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


#: the filters of ``list_query`` bound as parameters ``inbox_<name>`` (``overdue`` and ``kind`` shape the statement)
FILTERS = ("subject_id", "office_id", "subtype", "due_before")
#: statements kept by shape (see the module docstring): a few per role and filter combination
MEMO_SIZE = 512
_memo: OrderedDict[tuple, Select] = OrderedDict()
_memo_lock = threading.Lock()


def _memoised(key: tuple, make: Callable[[], Select]) -> Select:
    """The statement of this shape, built by ``make`` the first time (least recently used dropped past MEMO_SIZE)."""
    with _memo_lock:
        stmt = _memo.get(key)
        if stmt is not None:
            _memo.move_to_end(key)
            return stmt
    stmt = make()
    with _memo_lock:
        _memo[key] = stmt
        while len(_memo) > MEMO_SIZE:
            _memo.popitem(last=False)
    return stmt


def scope_offices(session: Session, actor: Actor) -> list[int]:
    """The offices of the actor's jurisdiction, as ``access.subject_scope`` defines it, resolved to a list.

    An officer's are their assigned offices; a bureau user's the offices below their districts. Bound as a
    list, the planner sees how many subjects the scope covers (behind a subquery it guessed a few hundred
    of five thousand and walked the ledger subject by subject). Other roles have none.
    """
    if actor.role == "officer":
        return sorted(actor.unit_ids)
    if actor.role == "bureau":
        return sorted(session.scalars(access.district_office_ids(actor.unit_ids)))
    return []


def typed_columns(sub) -> dict:
    """The provider's columns by name, the times typed as UTC (a provider may select a NULL due time)."""
    return {c: type_coerce(sub.c[c], UTCDateTime()) if c in ("due_at", "created_at") else sub.c[c] for c in COLUMNS}


def _now():
    return bindparam("inbox_now", type_=UTCDateTime())


def _part(actor: Actor | None, kind: str, stmt: Select) -> Select:
    """One provider's items in the offices ``inbox_offices`` (``scope_offices``): routed to the actor (the
    inbox), or every item (``actor`` None: the dashboard's counts)."""
    c = typed_columns(stmt.subquery())
    q = select(literal(kind, type_=String).label("kind"), *(c[n].label(n) for n in COLUMNS))
    q = q.where(c["office_id"].in_(bindparam("inbox_offices", expanding=True)))
    if actor is None:
        return q
    if actor.role == "officer":
        return q.where(c["decider_role"] == "officer")
    if actor.role == "bureau":
        return q.where(or_(c["decider_role"] == "bureau", c["due_at"] < _now()))
    return q.where(false())


def _items(actor: Actor | None, kinds: tuple[str, ...] | None):
    """The union of the providers' items routed to ``actor``, or every item (None), in ``inbox_offices``."""
    parts = []
    for kind, p in sorted(PROVIDERS.items()):
        if kinds and kind not in kinds:
            continue
        parts.append(_part(actor, kind, p.fn(actor)))
    if not parts:
        parts = [select(*(literal(None).label(c) for c in ("kind", *COLUMNS))).where(false())]
    return union_all(*parts).subquery("inbox")


def _params(session: Session, actor: Actor, now: datetime) -> dict:
    return {"inbox_offices": scope_offices(session, actor), "inbox_now": now, CALLER.key: actor.user_id}


def _shape(actor: Actor | None, *rest) -> tuple:
    """What a kept statement depends on: the caller's role (the routing) and whether it is a user (a provider
    may drop items by user: the user's id is bound as ``providers.CALLER``), the providers, ``rest``."""
    who = (actor.role, actor.user_id is not None) if actor is not None else None
    return (who, tuple(PROVIDERS), db.is_sqlite, *rest)


def _listing(
    actor: Actor, kinds: tuple[str, ...] | None, given: tuple[str, ...], overdue_only: bool | None, paged: bool = False
) -> Select:
    """The filtered, ordered inbox of the shape: the filters in ``given`` bound as ``inbox_<name>``, and
    ``overdue_only`` (None: overdue or not) built in.

    ``paged``: one page (``inbox_limit``, ``inbox_offset``) with the number of matching items (``matching``);
    the page is cut from the items before the subjects' and offices' names are joined to its rows alone.
    """
    box = _items(actor, kinds)
    now = _now()
    overdue = and_(box.c.due_at.is_not(None), box.c.due_at < now)
    items = select(box)
    for key in ("subject_id", "office_id", "subtype"):
        if key in given:
            items = items.where(box.c[key] == bindparam(f"inbox_{key}"))
    if overdue_only is not None:
        items = items.where(overdue if overdue_only else ~overdue)
    if "due_before" in given:
        items = items.where(box.c.due_at < bindparam("inbox_due_before", type_=UTCDateTime()))

    def order(c) -> tuple:
        late = and_(c.due_at.is_not(None), c.due_at < now)
        return (
            case((late, 0), else_=1),
            case((c.due_at.is_(None), 1), else_=0),
            c.due_at,
            c.created_at,
            c.kind,
            c.item_id,
        )

    if paged:
        items = items.add_columns(func.count().over().label("matching")).order_by(*order(box.c))
        items = items.limit(bindparam("inbox_limit", type_=Integer)).offset(bindparam("inbox_offset", type_=Integer))
    rows = items.subquery("items")
    return (
        select(rows, Subject.name.label("subject_name"), Subject.id_number_enc, OrgUnit.name.label("office_name"))
        .join(Subject, Subject.id == rows.c.subject_id)
        .join(OrgUnit, OrgUnit.id == rows.c.office_id)
        .order_by(*order(rows.c))
    )


def _filters(f: dict) -> tuple[tuple, dict]:
    """The shape of the filters (kinds asked for, filters given, overdue or not) and their parameters."""
    given = tuple(k for k in FILTERS if f.get(k) is not None and (k != "due_before" or f[k]))
    kinds = (f["kind"],) if f.get("kind") else None
    overdue = None if f.get("overdue") is None else bool(f["overdue"])
    return (kinds, given, overdue), {f"inbox_{k}": f[k] for k in given}


def list_query(actor: Actor, f: dict | None = None, now: datetime | None = None) -> Select:
    """The caller's inbox, filtered: overdue first, then by due time (none last), then oldest first."""
    access.require(actor, "inbox.read")
    f = f or {}
    now = now or utcnow()
    shape, values = _filters(f)
    stmt = _memoised(("list", *_shape(actor, *shape)), lambda: _listing(actor, *shape))
    return stmt.params(**_params(db.session, actor, now), **values)


def page(
    session: Session, actor: Actor, f: dict, page: int, page_size: int, now: datetime | None = None
) -> tuple[list, int]:
    """One page of the caller's filtered inbox and how many items match, from one statement (a page past the
    end asks for the count apart)."""
    access.require(actor, "inbox.read")
    now = now or utcnow()
    shape, values = _filters(f)

    params = _params(session, actor, now) | values
    stmt = _memoised(("page", *_shape(actor, *shape)), lambda: _listing(actor, *shape, paged=True))
    rows = session.execute(stmt, params | {"inbox_limit": page_size, "inbox_offset": (page - 1) * page_size}).all()
    if rows:
        return rows, rows[0].matching
    counted = _memoised(
        ("count", *_shape(actor, *shape)),
        lambda: select(func.count()).select_from(_listing(actor, *shape).order_by(None).subquery()),
    )
    return rows, session.scalar(counted, params) or 0


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
    return office_counts(session, scope_offices(session, actor), now)


def office_counts(session: Session, offices: list[int], now: datetime | None = None) -> list[dict]:
    """Open and overdue items by kind and office in ``offices`` (every item, whoever decides it)."""
    now = now or utcnow()

    def grouped() -> Select:
        box = _items(None, None)
        late = case((and_(box.c.due_at.is_not(None), box.c.due_at < _now()), 1), else_=0)
        return (
            select(box.c.office_id, box.c.kind, func.count().label("open"), func.sum(late).label("overdue"))
            .group_by(box.c.office_id, box.c.kind)
            .order_by(box.c.office_id, box.c.kind)
        )

    stmt = _memoised(("counts", *_shape(None)), grouped)
    rows = session.execute(stmt, {"inbox_offices": offices, "inbox_now": now})
    return [{"office_id": r.office_id, "kind": r.kind, "open": r.open, "overdue": int(r.overdue or 0)} for r in rows]
