"""Set-based score maintenance: recompute from the ledger, expire due events, verify stored scores.

Every function runs in the caller's transaction under the exclusive score lock (single-subject changes
wait for it), changes the scores with one UPDATE … FROM a derived select, and records one history row
per subject whose visible score changed, plus the grade effects (``apply``). A recompute writes only the
score rows that come out different (on PostgreSQL one CREATE TABLE AS reads the ledger and keeps those).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Integer,
    and_,
    case,
    column,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    table,
    text,
    update,
)
from sqlalchemy.orm import Session

from backend.models import PublicCreditBase, Subject, utcnow
from backend.models.base import UTCDateTime
from backend.models.scoring import DIMENSIONS, ScoreEvent, SubjectScore
from backend.services.scoring.apply import OLD, apply, old_columns
from backend.services.scoring.derive import DERIVED_COLUMNS, SUM_COLUMNS, derived_select
from backend.services.scoring.rules import Rules
from backend.services.scoring.sql import is_pg, lock_bulk

T = SubjectScore.__table__
E = ScoreEvent.__table__
S = Subject.__table__
B = PublicCreditBase.__table__


def _subject_filter(col, ids: list[int] | None, id_range: tuple[int, int] | None):
    conds = []
    if ids is not None:
        conds.append(col.in_(ids) if ids else false())
    if id_range is not None:
        conds.append(col.between(*id_range))
    return and_(*conds) if conds else None


def _where(stmt, cond):
    return stmt if cond is None else stmt.where(cond)


def _ledger_pivot(cond):
    """Active-event sums per subject, one filtered sum per dimension (NULL for a dimension without events).

    One GROUP BY subject_id with a FILTER per dimension: a single pass with one hash entry per subject,
    cheaper than grouping by (subject, dimension) and pivoting that.
    """
    return _where(
        select(
            E.c.subject_id,
            *[func.sum(E.c.points).filter(E.c.dimension == d).label(f"sum_{d}") for d in DIMENSIONS],
        )
        .where(E.c.status == "active")
        .group_by(E.c.subject_id),
        cond,
    )


def _temp_table(session: Session, name: str, stmt) -> None:
    """PostgreSQL: ``stmt`` into a temporary table dropped at commit (CREATE TABLE AS may run in parallel,
    an UPDATE … FROM never does), analysed for the statement that reads it."""
    sql = str(stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    session.execute(text(f"DROP TABLE IF EXISTS {name}"))
    session.execute(text(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS {sql}"))
    session.execute(text(f"ANALYZE {name}"))


def _ledger_agg(session: Session, cond):
    """The ledger sums per subject (``_ledger_pivot``); on PostgreSQL in a temporary table first."""
    pivot = _ledger_pivot(cond)
    if not is_pg(session):
        return pivot.subquery("agg")
    _temp_table(session, "score_agg", pivot)
    return table("score_agg", column("subject_id", Integer), *[column(c, Integer) for c in SUM_COLUMNS])


def _latest_bases(cond):
    latest = _where(select(B.c.subject_id, func.max(B.c.as_of).label("as_of")).group_by(B.c.subject_id), cond)
    latest = latest.subquery("latest")
    return (
        select(B.c.subject_id, B.c.provincial_score, B.c.as_of)
        .join(latest, and_(latest.c.subject_id == B.c.subject_id, latest.c.as_of == B.c.as_of))
        .subquery("base")
    )


def _source(session: Session, cond_subject, cond_event, cond_base, *, agg=None, stored: tuple[str, ...] = ()):
    """Per subject: the ledger sums, risk level and latest base, with the stored score's visible values
    (and the ``stored`` columns of the score row as s_<column>)."""
    agg = _ledger_agg(session, cond_event) if agg is None else agg
    base = _latest_bases(cond_base)
    joined = (
        S.join(T, T.c.subject_id == S.c.id)
        .outerjoin(agg, agg.c.subject_id == S.c.id)
        .outerjoin(base, base.c.subject_id == S.c.id)
    )
    return _where(
        select(
            S.c.id.label("subject_id"),
            *[func.coalesce(agg.c[c], 0).label(c) for c in SUM_COLUMNS],
            S.c.risk_level,
            base.c.provincial_score,
            base.c.as_of.label("base_as_of"),
            *old_columns(T),
            *[T.c[c].label(f"s_{c}") for c in stored],
        )
        .select_from(joined)
        .where(T.c.frozen == false()),
        cond_subject,
    ).subquery("src")


#: what ``_changed_source`` keeps per subject: the shape of ``_source``
_SRC_COLUMNS = (*SUM_COLUMNS, "risk_level", "provincial_score", "base_as_of", *OLD)
_STORED = (*DERIVED_COLUMNS, "rule_version")


def _changed_source(session: Session, rules: Rules, cond_subject, cond_event, cond_base):
    """PostgreSQL: ``_source`` of only the subjects whose derived score differs from the stored row (or was
    derived under another version), in a temporary table.

    One CREATE TABLE AS does the whole read: the parallel scan of the ledger, the joins and the derivation,
    so the UPDATE that follows touches the rows that change and nothing else (none, for an unchanged ledger).
    """
    src = _source(session, cond_subject, None, cond_base, agg=_ledger_pivot(cond_event).subquery("agg"), stored=_STORED)
    nv = derived_select(rules, src, carry=("risk_level", *OLD, *(f"s_{c}" for c in _STORED))).subquery("nv")
    differs = or_(
        *[nv.c[c].is_distinct_from(nv.c[f"s_{c}"]) for c in DERIVED_COLUMNS],
        nv.c.s_rule_version != literal(rules.version),
    )
    _temp_table(session, "score_src", select(nv.c.subject_id, *[nv.c[c] for c in _SRC_COLUMNS]).where(differs))
    types = {
        **{c.key: c.type for c in T.c},
        **{o: T.c[o[2:]].type for o in OLD},
        "risk_level": S.c.risk_level.type,
    }
    return table("score_src", column("subject_id", Integer), *[column(c, types[c]) for c in _SRC_COLUMNS])


def _ensure_rows(session: Session, rules: Rules, cond) -> None:
    """Insert placeholder rows (grade '') for subjects without one; the recompute that follows fills them."""
    zero = {k: 0 for k in (*SUM_COLUMNS, *DIMENSIONS, "management", "public_base", "total")}
    values = [literal(rules.version), literal(True), literal(""), literal(False), literal(utcnow(), UTCDateTime())]
    missing = _where(
        select(S.c.id, *values, *[literal(0) for _ in zero]).where(~S.c.id.in_(select(T.c.subject_id))), cond
    )
    cols = ["subject_id", "rule_version", "base_pending", "grade", "frozen", "updated_at", *zero]
    session.execute(insert(T).from_select(cols, missing))


def recompute(
    session: Session,
    rules: Rules,
    *,
    ids: list[int] | None = None,
    id_range: tuple[int, int] | None = None,
    cause: str = "recompute",
    ref: str | None = None,
) -> dict:
    """Recompute the scores of all subjects (or of ``ids`` / an id range) from the ledger and the bases.

    Only the rows that come out different are written ("subjects" counts every subject recomputed).
    """
    lock_bulk(session)
    cond = _subject_filter(S.c.id, ids, id_range)
    _ensure_rows(session, rules, cond)
    conds = (cond, _subject_filter(E.c.subject_id, ids, id_range), _subject_filter(B.c.subject_id, ids, id_range))
    if not is_pg(session):
        result = apply(session, rules, _source(session, *conds), cause=cause, ref=ref, only_changed=True)
    else:
        src = _changed_source(session, rules, *conds)
        result = apply(session, rules, src, cause=cause, ref=ref)
        counted = _where(select(func.count()).select_from(S.join(T, T.c.subject_id == S.c.id)), cond)
        result["subjects"] = session.scalar(counted.where(T.c.frozen == false()))
    result.pop("subject_ids")
    result.pop("extra", None)
    return result


def differences(session: Session, rules: Rules) -> list[dict]:
    """Subjects whose stored score differs from a recompute (frozen scores are not compared; a subject
    without a stored score yet gets a correct one on first use)."""
    nv = derived_select(rules, _source(session, None, None, None)).subquery("nv")
    cols = [c for c in DERIVED_COLUMNS if c not in ("base_as_of",)]
    differs = [T.c[c] != nv.c[c] for c in cols if c != "provincial_score"]
    differs.append(func.coalesce(T.c.provincial_score, -1) != func.coalesce(nv.c.provincial_score, -1))
    stmt = (
        select(T.c.subject_id, T.c.total, nv.c.total.label("expected_total"), T.c.rule_version)
        .join(nv, nv.c.subject_id == T.c.subject_id)
        .where(T.c.frozen == false(), or_(*differs, T.c.rule_version != rules.version))
        .order_by(T.c.subject_id)
    )
    return [dict(r._mapping) for r in session.execute(stmt)]


def _delta_source(d):
    """Per subject: the stored sums less the expired points in ``d``, with the stored visible values."""
    return (
        select(
            T.c.subject_id,
            *[(T.c[f"sum_{dim}"] - d.c[f"d_{dim}"]).label(f"sum_{dim}") for dim in DIMENSIONS],
            S.c.risk_level,
            T.c.provincial_score,
            T.c.base_as_of,
            *old_columns(T),
        )
        .select_from(T.join(d, d.c.subject_id == T.c.subject_id).join(S, S.c.id == T.c.subject_id))
        .where(T.c.frozen == false())
        .subquery("src")
    )


def _deltas(rows, points_col, dim_col, subject_col) -> list:
    return [
        subject_col,
        *[func.sum(case((dim_col == dim, points_col), else_=0)).label(f"d_{dim}") for dim in DIMENSIONS],
        func.count().label("n"),
    ]


def expire(session: Session, rules: Rules, now: datetime) -> dict:
    """Expire every active event whose time has come and take it out of the scores, set-based.

    PostgreSQL: one statement (the events' UPDATE … RETURNING feeds the per-subject deltas, the scores'
    UPDATE and the history rows). SQLite: the deltas go to a temporary table first.
    """
    lock_bulk(session)
    due = and_(E.c.status == "active", E.c.expires_at.is_not(None), E.c.expires_at <= now)
    mark = update(E).where(due).values(status="expired", status_changed_at=now, status_ref="expiry")
    if is_pg(session):
        exp = mark.returning(E.c.subject_id, E.c.dimension, E.c.points).cte("exp")
        d = select(*_deltas(exp, exp.c.points, exp.c.dimension, exp.c.subject_id)).group_by(exp.c.subject_id)
        d = d.cte("d")
        events = select(func.coalesce(func.sum(d.c.n), 0)).scalar_subquery()
        result = apply(session, rules, _delta_source(d), cause="expiry", ref=None, extra=[events])
        result["events"] = int(result.pop("extra")[0] or 0)
        return result
    session.execute(text("DROP TABLE IF EXISTS temp.score_delta"))
    d = table(
        "score_delta",
        column("subject_id", Integer),
        *[column(f"d_{x}", Integer) for x in DIMENSIONS],
        column("n", Integer),
    )
    session.execute(text(f"CREATE TEMP TABLE score_delta ({', '.join(c.name + ' INTEGER' for c in d.c)})"))
    agg = select(*_deltas(E, E.c.points, E.c.dimension, E.c.subject_id)).where(due).group_by(E.c.subject_id)
    session.execute(insert(d).from_select([c.name for c in d.c], agg))
    session.execute(mark)
    events = session.scalar(select(func.coalesce(func.sum(d.c.n), 0)).select_from(d))
    result = apply(session, rules, _delta_source(d), cause="expiry", ref=None)
    session.execute(text("DROP TABLE IF EXISTS temp.score_delta"))
    return {**result, "events": int(events)}
