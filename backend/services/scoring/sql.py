"""Small dialect helpers for the ledger: insert-or-ignore, the bulk/single-row lock, Shanghai calendar months."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from backend.db import is_pg  # noqa: F401 - the scoring modules import it from here

TZ = ZoneInfo("Asia/Shanghai")
#: advisory lock that bulk recomputes take exclusively and single-subject updates take shared, so a
#: set-based UPDATE computed from one snapshot of the ledger never overwrites a concurrent event
SCORE_LOCK = 7_202_640


def insert_ignore(session: Session, table: Table, values: dict | list[dict], keys: list[str], returning=None):
    """INSERT … ON CONFLICT (keys) DO NOTHING on PostgreSQL and SQLite; returns the result.

    A single row runs as a text statement built once per shape: the dialects' ``insert()`` constructs have
    no cache key, so SQLAlchemy would compile them anew on every call, and the ledger calls this for every
    event. The row gets its columns' Python-side defaults as ``insert()`` would give them.
    """
    row = _with_defaults(table, values) if isinstance(values, dict) else None
    if row is not None:
        cols = tuple(returning or ())
        stmt = _insert_ignore_text(session.get_bind().dialect, table, tuple(row), tuple(keys), cols)
        return session.execute(stmt, row)
    ins = (postgresql.insert if is_pg(session) else sqlite.insert)(table).values(values)
    stmt = ins.on_conflict_do_nothing(index_elements=keys)
    if returning is not None:
        stmt = stmt.returning(*returning)
    return session.execute(stmt)


def _with_defaults(table: Table, values: dict) -> dict | None:
    """``values`` plus the scalar and callable defaults of the columns it leaves out (None: a SQL default)."""
    row = dict(values)
    for column in table.columns:
        if column.key in row or column.default is None:
            continue
        default = column.default
        if default.is_scalar:
            row[column.key] = default.arg
        elif default.is_callable:
            row[column.key] = default.arg(None)  # SQLAlchemy wraps a plain callable to take the context
        else:
            return None
    return row if all(k in table.c for k in row) else None


@lru_cache(maxsize=64)
def _insert_ignore_text(dialect: Dialect, table: Table, cols: tuple, keys: tuple, returning: tuple):
    q = dialect.identifier_preparer
    sql = (
        # names of the table's own columns only (``_with_defaults`` checked them), quoted; values are bound
        f"INSERT INTO {q.format_table(table)} ({', '.join(q.quote(table.c[c].name) for c in cols)}) "  # noqa: S608
        f"VALUES ({', '.join(':' + c for c in cols)}) "
        f"ON CONFLICT ({', '.join(q.quote(k) for k in keys)}) DO NOTHING"
    )
    if returning:
        sql += f" RETURNING {', '.join(q.quote(c.name) for c in returning)}"
    stmt = text(sql).bindparams(*(bindparam(c, type_=table.c[c].type) for c in cols))
    return stmt.columns(*returning) if returning else stmt


def lock_single(session: Session) -> None:
    """Shared score lock for a single-subject change (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises)."""
    if is_pg(session) and not session.info.get("score_lock"):
        session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": SCORE_LOCK})
        session.info["score_lock"] = "shared"


def lock_bulk(session: Session) -> None:
    """Exclusive score lock for a set-based recompute; waits for single-subject changes in flight."""
    if is_pg(session) and session.info.get("score_lock") != "exclusive":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCORE_LOCK})
        session.info["score_lock"] = "exclusive"


def month_of(at: datetime) -> str:
    """The calendar month (Asia/Shanghai) of an aware time, as 'YYYY-MM'."""
    return at.astimezone(TZ).strftime("%Y-%m")


@event.listens_for(Session, "after_transaction_end")
def _forget_lock(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop("score_lock", None)
