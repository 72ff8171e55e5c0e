"""Small dialect helpers for the ledger: insert-or-ignore, the bulk/single-row lock, Shanghai calendar months."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

TZ = ZoneInfo("Asia/Shanghai")
#: advisory lock that bulk recomputes take exclusively and single-subject updates take shared, so a
#: set-based UPDATE computed from one snapshot of the ledger never overwrites a concurrent event
SCORE_LOCK = 7_202_640


def is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert_ignore(session: Session, table: Table, values: dict | list[dict], keys: list[str], returning=None):
    """INSERT … ON CONFLICT (keys) DO NOTHING on PostgreSQL and SQLite; returns the result."""
    ins = (postgresql.insert if is_pg(session) else sqlite.insert)(table).values(values)
    stmt = ins.on_conflict_do_nothing(index_elements=keys)
    if returning is not None:
        stmt = stmt.returning(*returning)
    return session.execute(stmt)


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
