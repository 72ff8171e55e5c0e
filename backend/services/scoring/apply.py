"""Writing derived scores for a set of subjects: the UPDATE, the history rows of what changed, the effects.

``src`` is a subquery with subject_id, sum_<dimension>, risk_level, provincial_score, base_as_of and the
current visible values as o_<column> (a row whose o_grade is '' was just created). On PostgreSQL one
statement updates the scores, inserts the history rows and returns the grade changes (CTEs); SQLite,
which has no data-modifying CTEs, reads the old values first and writes the history rows after.
"""

from __future__ import annotations

from sqlalchemy import case, false, func, insert, literal, null, or_, select, true, update
from sqlalchemy.orm import Session

from backend.models import utcnow
from backend.models.scoring import ScoreChange, SubjectScore
from backend.services.scoring import effects
from backend.services.scoring.derive import DERIVED_COLUMNS, VISIBLE, derived_select
from backend.services.scoring.rules import Rules
from backend.services.scoring.sql import is_pg

T = SubjectScore.__table__
C = ScoreChange.__table__
OLD = tuple(f"o_{k}" for k in VISIBLE)


def old_columns(score_table) -> list:
    return [score_table.c[k].label(f"o_{k}") for k in VISIBLE]


def apply(
    session: Session,
    rules: Rules,
    src,
    *,
    cause: str,
    ref: str | None,
    extra: list | None = None,
    only_changed: bool = False,
) -> dict:
    """Write the derived values of ``src``'s subjects; returns counts and the subject ids written.

    ``only_changed`` (SQLite; on PostgreSQL ``bulk.recompute`` passes only the rows that differ): write
    only the rows where a derived column or the rule version differs from what is stored (a recompute of
    an unchanged ledger then writes nothing); "subjects" still counts every subject of ``src``.
    ``extra`` (PostgreSQL only): scalar subqueries evaluated in the same statement, returned as "extra".
    """
    nv = derived_select(rules, src, carry=OLD)
    if is_pg(session):
        return _apply_cte(session, rules, nv.cte("nv"), cause, ref, extra or [])
    return _apply_stepwise(session, rules, nv.subquery("nv"), cause, ref, only_changed)


def _differs(rules: Rules, nv):
    """The stored row differs from the derived one (NULL-safe) or was derived under another version."""
    return or_(*[T.c[c].is_distinct_from(nv.c[c]) for c in DERIVED_COLUMNS], T.c.rule_version != rules.version)


def _values(rules: Rules, nv) -> dict:
    return {**{c: nv.c[c] for c in DERIVED_COLUMNS}, "rule_version": rules.version, "updated_at": utcnow()}


def _change_row(rules: Rules, cause: str, ref: str | None, now, sid, total, grade, pending, o_total, o_grade) -> dict:
    fresh = o_grade == ""
    return {
        "subject_id": sid,
        "at": now,
        "cause": "initial" if fresh else cause,
        "ref": ref,
        "rule_version": rules.version,
        "total_before": None if fresh else o_total,
        "total_after": total,
        "grade_before": None if fresh else o_grade,
        "grade_after": grade,
        "base_pending": pending,
        "details": {},
    }


def _grade_changes(rows) -> list[tuple[int, str | None, str | None]]:
    out = []
    for sid, grade, pending, o_grade, o_pending in rows:
        before = None if o_grade == "" else effects.effective_grade(o_grade, o_pending)
        after = effects.effective_grade(grade, pending)
        if before != after:
            out.append((sid, before, after))
    return out


def _apply_cte(session: Session, rules: Rules, nv, cause: str, ref: str | None, extra: list) -> dict:
    now = utcnow()
    changed = or_(*[nv.c[k] != nv.c[f"o_{k}"] for k in VISIBLE], nv.c.o_grade == "")
    upd = (
        update(T)
        .where(T.c.subject_id == nv.c.subject_id, T.c.frozen == false())
        .values(**_values(rules, nv))
        .returning(
            T.c.subject_id,
            T.c.total,
            T.c.grade,
            T.c.base_pending,
            nv.c.o_total,
            nv.c.o_grade,
            nv.c.o_base_pending,
            changed.label("changed"),
        )
        .cte("upd")
    )
    fresh = upd.c.o_grade == ""
    history = select(
        upd.c.subject_id,
        literal(now, C.c.at.type),
        case((fresh, literal("initial")), else_=literal(cause)),
        literal(ref, C.c.ref.type),
        literal(rules.version),
        case((fresh, null()), else_=upd.c.o_total),
        upd.c.total,
        case((fresh, null()), else_=upd.c.o_grade),
        upd.c.grade,
        upd.c.base_pending,
        literal({}, C.c.details.type),
    ).where(upd.c.changed)
    cols = [
        "subject_id",
        "at",
        "cause",
        "ref",
        "rule_version",
        "total_before",
        "total_after",
        "grade_before",
        "grade_after",
        "base_pending",
        "details",
    ]
    ins = insert(C).from_select(cols, history).returning(C.c.id).cte("ins")
    written = select(func.count()).select_from(ins).scalar_subquery()
    one = select(literal(1).label("one")).subquery("one")
    out = select(
        upd.c.subject_id, upd.c.grade, upd.c.base_pending, upd.c.o_grade, upd.c.o_base_pending, written, *extra
    ).select_from(one.outerjoin(upd, true()))
    rows = session.execute(out).all()
    written_n, extras = (rows[0][5], list(rows[0][6:])) if rows else (0, [])
    rows = [r for r in rows if r[0] is not None]
    effects.on_grade_changes(session, rules, _grade_changes([r[:5] for r in rows]))
    return {"subjects": len(rows), "changed": written_n, "subject_ids": [r[0] for r in rows], "extra": extras}


def _apply_stepwise(session: Session, rules: Rules, nv, cause: str, ref: str | None, only_changed: bool) -> dict:
    old = {r[0]: r[1:] for r in session.execute(select(nv.c.subject_id, *[nv.c[c] for c in OLD]))}
    upd = update(T).where(T.c.subject_id == nv.c.subject_id, T.c.frozen == false())
    if only_changed:
        upd = upd.where(_differs(rules, nv))
    rows = session.execute(upd.values(**_values(rules, nv)).returning(T.c.subject_id, *[T.c[k] for k in VISIBLE])).all()
    now, history, grades = utcnow(), [], []
    idx = {k: i for i, k in enumerate(VISIBLE)}
    for r in rows:
        o = old[r[0]]
        if o[idx["grade"]] != "" and tuple(o) == tuple(r[1:]):
            continue
        history.append(
            _change_row(
                rules, cause, ref, now, r.subject_id, r.total, r.grade, r.base_pending, o[idx["total"]], o[idx["grade"]]
            )
        )
        grades.append((r.subject_id, r.grade, r.base_pending, o[idx["grade"]], o[idx["base_pending"]]))
    if history:
        session.execute(insert(C), history)
    effects.on_grade_changes(session, rules, _grade_changes(grades))
    subjects = len(old) if only_changed else len(rows)
    return {"subjects": subjects, "changed": len(history), "subject_ids": [r[0] for r in rows]}
