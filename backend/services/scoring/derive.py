"""How a score follows from its inputs, twice: in Python for one subject, in SQL for a set of subjects.

Inputs: the sums of the active events per dimension, the risk level and the latest provincial score.
Each dimension = clamp(initial + sum, 0, max); management = their sum; total = public base + management;
grade = the band that holds the total. The property tests hold the two implementations to each other.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, Select, String, case, literal_column, select, type_coerce
from sqlalchemy.sql import ColumnElement

from backend.models.scoring import DIMENSIONS
from backend.services.scoring.rules import Rules

SUM_COLUMNS = tuple(f"sum_{d}" for d in DIMENSIONS)
#: every column of subject_scores that the derivation writes
DERIVED_COLUMNS = (
    *SUM_COLUMNS,
    *DIMENSIONS,
    "management",
    "public_base",
    "base_pending",
    "total",
    "grade",
    "provincial_score",
    "base_as_of",
)
#: what the subject sees; a change in any of these is a change in the score history
VISIBLE = ("total", "grade", "base_pending", "public_base", "management", *DIMENSIONS)


def derive(rules: Rules, sums: dict[str, int], risk_level: str, provincial: int | None) -> dict:
    """The derived columns for one subject."""
    dims = {d: max(0, min(rules.maxima[d], rules.initial(d, risk_level) + sums.get(d, 0))) for d in DIMENSIONS}
    management = sum(dims.values())
    public_base = rules.public_base(provincial)
    total = public_base + management
    return {
        **{f"sum_{d}": sums.get(d, 0) for d in DIMENSIONS},
        **dims,
        "management": management,
        "public_base": public_base,
        "base_pending": provincial is None,
        "total": total,
        "grade": rules.band(total).code,
        "provincial_score": provincial,
        "rule_version": rules.version,
    }


def _n(value: int) -> ColumnElement:
    """An integer from a validated rule set, inlined so the statement text is stable per version."""
    return literal_column(str(int(value)), Integer)


def _s(value: str) -> ColumnElement:
    return literal_column("'" + value.replace("'", "''") + "'", String)


def _clamp(x: ColumnElement, hi: int) -> ColumnElement:
    return case((x < _n(0), _n(0)), (x > _n(hi), _n(hi)), else_=x)


def derived_select(rules: Rules, src, carry: tuple[str, ...] = ()) -> Select:
    """From a subquery with subject_id, sum_<dimension>, risk_level, provincial_score and base_as_of,
    select every derived column (nested levels, so no expression is repeated), and the ``carry`` columns."""
    risk_init = case(
        {level: _n(v) for level, v in rules.risk_initial.items()},
        value=src.c.risk_level,
        else_=_n(rules.risk_initial["medium"]),
    )
    dims = []
    for d in DIMENSIONS:
        init = risk_init if d == "risk" else _n(rules.initials[d])
        dims.append(_clamp(init + src.c[f"sum_{d}"], rules.maxima[d]).label(d))
    prov = src.c.provincial_score
    base = case(
        (prov.is_(None), _n(rules.provisional_base)),
        else_=_clamp((prov * _n(rules.base_percent) + _n(50)) // _n(100), rules.base_max),
    )
    l1 = (
        select(
            src.c.subject_id,
            *[src.c[c] for c in SUM_COLUMNS],
            *dims,
            base.label("public_base"),
            type_coerce(prov.is_(None), Boolean).label("base_pending"),
            prov.label("provincial_score"),
            src.c.base_as_of,
            *[src.c[c] for c in carry],
        )
        .offset(0)
        .subquery("l1")
    )  # OFFSET 0: computed once per row, not inlined into every use
    management = sum((l1.c[d] for d in DIMENSIONS[1:]), l1.c[DIMENSIONS[0]])
    l2 = select(l1, management.label("management"), (l1.c.public_base + management).label("total"))
    l2 = l2.offset(0).subquery("l2")
    grade = case(
        *[(l2.c.total >= _n(b.min), _s(b.code)) for b in reversed(rules.bands[1:])], else_=_s(rules.bands[0].code)
    )
    return select(l2, grade.label("grade"))
