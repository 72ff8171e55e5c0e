"""Set-based score maintenance: recompute from the ledger, expire due events, verify stored scores.

Every function runs in the caller's transaction under the exclusive score lock (single-subject changes
wait for it), changes the scores with one UPDATE … FROM a derived select, and records one history row
per subject whose visible score changed, plus the grade effects.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
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
from backend.models.scoring import DIMENSIONS, ScoreChange, ScoreEvent, SubjectScore
from backend.services.scoring import effects
from backend.services.scoring.derive import DERIVED_COLUMNS, SUM_COLUMNS, VISIBLE, derived_select
from backend.services.scoring.rules import Rules
from backend.services.scoring.sql import is_pg, lock_bulk

T = SubjectScore.__table__
E = ScoreEvent.__table__
S = Subject.__table__
B = PublicCreditBase.__table__
_OLD = (T.c.subject_id, *[T.c[k] for k in VISIBLE])


def _subject_filter(col, ids: list[int] | None, id_range: tuple[int, int] | None):
    conds = []
    if ids is not None:
        conds.append(col.in_(ids) if ids else false())
    if id_range is not None:
        conds.append(col.between(*id_range))
    return and_(*conds) if conds else None


def _where(stmt, cond):
    return stmt if cond is None else stmt.where(cond)


def _ledger_agg(session: Session, cond):
    """Active-event sums per subject and dimension, pivoted to one row per subject.

    On PostgreSQL the GROUP BY goes into a temporary table first: CREATE TABLE AS may run in parallel,
    an UPDATE … FROM never does.
    """
    inner = _where(
        select(E.c.subject_id, E.c.dimension, func.sum(E.c.points).label("p"))
        .where(E.c.status == "active")
        .group_by(E.c.subject_id, E.c.dimension),
        cond,
    ).subquery("inner_agg")
    pivot = select(
        inner.c.subject_id,
        *[func.sum(case((inner.c.dimension == d, inner.c.p), else_=0)).label(f"sum_{d}") for d in DIMENSIONS],
    ).group_by(inner.c.subject_id)
    if not is_pg(session):
        return pivot.subquery("agg")
    sql = str(pivot.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    session.execute(text("DROP TABLE IF EXISTS score_agg"))
    session.execute(text(f"CREATE TEMP TABLE score_agg ON COMMIT DROP AS {sql}"))
    session.execute(text("ANALYZE score_agg"))
    return table("score_agg", column("subject_id", Integer), *[column(c, Integer) for c in SUM_COLUMNS])


def _latest_bases(cond):
    latest = _where(select(B.c.subject_id, func.max(B.c.as_of).label("as_of")).group_by(B.c.subject_id), cond)
    latest = latest.subquery("latest")
    return (
        select(B.c.subject_id, B.c.provincial_score, B.c.as_of)
        .join(latest, and_(latest.c.subject_id == B.c.subject_id, latest.c.as_of == B.c.as_of))
        .subquery("base")
    )


def _expected(session: Session, rules: Rules, cond_subject, cond_event, cond_base):
    agg = _ledger_agg(session, cond_event)
    base = _latest_bases(cond_base)
    src = _where(
        select(
            S.c.id.label("subject_id"),
            *[func.coalesce(agg.c[c], 0).label(c) for c in SUM_COLUMNS],
            S.c.risk_level,
            base.c.provincial_score,
            base.c.as_of.label("base_as_of"),
        ).select_from(S.outerjoin(agg, agg.c.subject_id == S.c.id).outerjoin(base, base.c.subject_id == S.c.id)),
        cond_subject,
    ).subquery("src")
    return derived_select(rules, src).subquery("nv")


def _ensure_rows(session: Session, rules: Rules, cond) -> set[int]:
    """Insert placeholder rows for subjects without one (filled by the recompute that follows)."""
    missing = _where(select(S.c.id).where(~S.c.id.in_(select(T.c.subject_id))), cond)
    ids = set(session.scalars(missing))
    if ids:
        zero = {k: 0 for k in (*SUM_COLUMNS, *DIMENSIONS, "management", "public_base", "total")}
        session.execute(
            insert(T).from_select(
                ["subject_id", "rule_version", "base_pending", "grade", "frozen", "updated_at", *zero],
                select(
                    S.c.id,
                    literal(rules.version),
                    literal(True),
                    literal(""),
                    literal(False),
                    literal(utcnow(), UTCDateTime()),
                    *[literal(0) for _ in zero],
                ).where(S.c.id.in_(ids)),
            )
        )
    return ids


def _apply(session: Session, rules: Rules, nv, cond_score, *, cause: str, ref: str | None, created=frozenset()) -> dict:
    """UPDATE the scores from ``nv`` (the derived select); write history rows and effects for the changes."""
    old = {r[0]: r for r in session.execute(_where(select(*_OLD).where(T.c.frozen == false()), cond_score))}
    values = {c: nv.c[c] for c in DERIVED_COLUMNS}
    stmt = (
        update(T)
        .where(T.c.subject_id == nv.c.subject_id, T.c.frozen == false())
        .values(**values, rule_version=rules.version, updated_at=utcnow())
        .returning(*_OLD)
    )
    new = session.execute(stmt).all()
    now, changes, grades = utcnow(), [], []
    for r in new:
        before = old.get(r[0])
        if before is not None and r[0] not in created and tuple(before) == tuple(r):
            continue
        fresh = before is None or r[0] in created
        changes.append(
            {
                "subject_id": r.subject_id,
                "at": now,
                "cause": "initial" if fresh else cause,
                "ref": ref,
                "rule_version": rules.version,
                "total_before": None if fresh else before.total,
                "total_after": r.total,
                "grade_before": None if fresh else before.grade,
                "grade_after": r.grade,
                "base_pending": r.base_pending,
                "details": {},
            }
        )
        g0 = None if fresh else effects.effective_grade(before.grade, before.base_pending)
        grades.append((r.subject_id, g0, effects.effective_grade(r.grade, r.base_pending)))
    if changes:
        session.execute(insert(ScoreChange.__table__), changes)
    effects.on_grade_changes(session, rules, grades)
    return {"subjects": len(new), "changed": len(changes)}


def recompute(
    session: Session,
    rules: Rules,
    *,
    ids: list[int] | None = None,
    id_range: tuple[int, int] | None = None,
    cause: str = "recompute",
    ref: str | None = None,
) -> dict:
    """Recompute the scores of all subjects (or of ``ids`` / an id range) from the ledger and the bases."""
    lock_bulk(session)
    created = _ensure_rows(session, rules, _subject_filter(S.c.id, ids, id_range))
    nv = _expected(
        session,
        rules,
        _subject_filter(S.c.id, ids, id_range),
        _subject_filter(E.c.subject_id, ids, id_range),
        _subject_filter(B.c.subject_id, ids, id_range),
    )
    return _apply(
        session, rules, nv, _subject_filter(T.c.subject_id, ids, id_range), cause=cause, ref=ref, created=created
    )


def differences(session: Session, rules: Rules) -> list[dict]:
    """Subjects whose stored score differs from a recompute (frozen scores are not compared; a subject
    without a stored score yet gets a correct one on first use)."""
    nv = _expected(session, rules, None, None, None)
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


def expire(session: Session, rules: Rules, now: datetime) -> dict:
    """Expire every active event whose time has come and take it out of the scores, set-based."""
    lock_bulk(session)
    delta_cols = [f"d_{d}" for d in DIMENSIONS]
    session.execute(text("DROP TABLE IF EXISTS score_delta"))
    due = "status = 'active' AND expires_at IS NOT NULL AND expires_at <= :now"
    now_param = bindparam("now", type_=UTCDateTime())
    sums = ", ".join(f"SUM(CASE WHEN dimension = '{d}' THEN points ELSE 0 END) AS d_{d}" for d in DIMENSIONS)
    params = {"now": now}
    # the statements are built from constants only (the fixed dimension names); the time is a bound parameter
    mark = f"UPDATE score_events SET status = 'expired', status_changed_at = :now, status_ref = 'expiry' WHERE {due}"  # noqa: S608
    if is_pg(session):
        cols = ", ".join(c + " integer" for c in delta_cols)
        session.execute(text(f"CREATE TEMP TABLE score_delta (subject_id integer, {cols}, n integer) ON COMMIT DROP"))
        sql = f"WITH exp AS ({mark} RETURNING subject_id, dimension, points) "
        sql += f"INSERT INTO score_delta SELECT subject_id, {sums}, COUNT(*) FROM exp GROUP BY subject_id"  # noqa: S608
        session.execute(text(sql).bindparams(now_param), params)
    else:
        sql = f"CREATE TEMP TABLE score_delta AS SELECT subject_id, {sums}, COUNT(*) AS n FROM score_events "  # noqa: S608
        sql += f"WHERE {due} GROUP BY subject_id"
        session.execute(text(sql).bindparams(now_param), params)
        session.execute(text(mark).bindparams(now_param), params)
    d = table(
        "score_delta", column("subject_id", Integer), *[column(c, Integer) for c in delta_cols], column("n", Integer)
    )
    counts = session.execute(select(func.count(), func.coalesce(func.sum(d.c.n), 0)).select_from(d)).one()
    result = {"events": int(counts[1]), "subjects": int(counts[0]), "changed": 0, "subject_ids": []}
    if counts[0]:
        src = (
            select(
                T.c.subject_id,
                *[(T.c[f"sum_{dim}"] - d.c[f"d_{dim}"]).label(f"sum_{dim}") for dim in DIMENSIONS],
                S.c.risk_level,
                T.c.provincial_score,
                T.c.base_as_of,
            )
            .select_from(T.join(d, d.c.subject_id == T.c.subject_id).join(S, S.c.id == T.c.subject_id))
            .where(T.c.frozen == false())
            .subquery("src")
        )
        nv = derived_select(rules, src).subquery("nv")
        result["subject_ids"] = list(session.scalars(select(d.c.subject_id)))
        touched = T.c.subject_id.in_(select(d.c.subject_id))
        result["changed"] = _apply(session, rules, nv, touched, cause="expiry", ref=None)["changed"]
    if not is_pg(session):
        session.execute(text("DROP TABLE IF EXISTS temp.score_delta"))
    return result
