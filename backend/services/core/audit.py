"""Append-only audit log chained with HMAC-SHA256; the key lives in config, never in the database.

Rows are queued on the session and written in ``before_commit``, after taking a chain lock (PostgreSQL:
a transaction-scoped advisory lock; SQLite: the write lock taken at BEGIN IMMEDIATE), so concurrent
writers never fork the chain and the lock is held only for the last moment of the transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import Pool

from backend import runtime
from backend.db import is_pg
from backend.models import AuditLog, utcnow
from backend.services.core.actors import SYSTEM, Actor

GENESIS = "0" * 64
_LOCK_KEY = 7_202_611  # arbitrary, stable advisory-lock id for the audit chain
_PENDING = "audit_pending"  # session.info key: [(transaction or savepoint that queued it, row values)]


def record(
    session: Session,
    action: str,
    *,
    actor: Actor = SYSTEM,
    target_type: str | None = None,
    target_id: object = None,
    purpose: str | None = None,
    details: dict | None = None,
) -> None:
    """Queue an audit row; it is chained and written when this transaction commits (dropped on rollback).

    A row queued inside a savepoint (``begin_nested``) is dropped if that savepoint rolls back, and kept
    (written at the outermost commit) if it is released.
    """
    if not session.in_transaction():
        session.begin()  # so that a rollback before any SQL still drops this row (it has a transaction to end)
    session.info.setdefault(_PENDING, []).append(
        (
            session.get_nested_transaction() or session.get_transaction(),
            {
                "actor_id": actor.user_id,
                "actor_role": actor.role,
                "action": action,
                "target_type": target_type,
                "target_id": None if target_id is None else str(target_id),
                "purpose": purpose,
                "request_id": runtime.current_request_id(),
                "details": details or {},
            },
        )
    )


def record_bulk(
    session: Session,
    action: str,
    ids: Iterable[object],
    *,
    counts: dict | None = None,
    actor: Actor = SYSTEM,
    details: dict | None = None,
) -> None:
    """One row for a bulk run: the counts and a digest of the ids it changed, not one row per id."""
    id_list = sorted(str(i) for i in ids)
    digest = hashlib.sha256("\n".join(id_list).encode()).hexdigest()
    body = {"count": len(id_list), "ids_sha256": digest, **(counts or {}), **(details or {})}
    record(session, action, actor=actor, target_type="bulk", details=body)


def canonical(row: Any) -> str:
    """The row's content as the MAC signs it (an ``AuditLog`` or a result row with the same columns)."""
    payload = {
        "id": row.id,
        "created_at": row.created_at.isoformat(timespec="microseconds"),
        "actor_id": row.actor_id,
        "actor_role": row.actor_role,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "purpose": row.purpose,
        "request_id": row.request_id,
        "details": row.details,
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _json_value(value: object) -> str:
    """A detail JSON cannot hold, as text: times and dates ISO 8601 (with their offset), anything else str()."""
    return value.isoformat() if isinstance(value, date | datetime) else str(value)


def compute_mac(prev_mac: str, row: Any, key: bytes | None = None) -> str:
    key = key or runtime.settings().audit_key.encode()
    return hmac.new(key, (prev_mac + "\n" + canonical(row)).encode(), hashlib.sha256).hexdigest()


#: PostgreSQL, one round trip: take the chain lock, then (a new statement, so a new snapshot that sees the
#: last holder's commit) read the chain's last row
_PG_LOCK_AND_LAST = (
    f"SELECT pg_advisory_xact_lock({_LOCK_KEY}); "  # noqa: S608 - a constant, no input
    "SELECT id, mac FROM audit_log ORDER BY id DESC LIMIT 1"
)


_INSERT = insert(AuditLog.__table__)


def _lock_and_last(session: Session) -> tuple[int, str]:
    """Take the chain lock (PostgreSQL: advisory; SQLite: the write lock taken at BEGIN) and read the last link."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        cur = conn.connection.cursor()  # the transaction's own DBAPI connection: no parameters, so one simple query
        try:
            cur.execute(_PG_LOCK_AND_LAST)
            cur.nextset()
            last = cur.fetchone()
        finally:
            cur.close()
    else:
        last = conn.execute(select(AuditLog.id, AuditLog.mac).order_by(AuditLog.id.desc()).limit(1)).first()
    return (last[0], last[1]) if last else (0, GENESIS)


_PIPELINE = "audit_pipeline"  # pool record info key: the PostgreSQL connection's open pipeline


def _send_with_commit(session: Session) -> None:
    """PostgreSQL: put the transaction's connection in pipeline mode, so that the chain's insert is not
    waited for but goes to the server with the COMMIT that follows, in one round trip.

    The chain lock is held from the moment it is granted until the COMMIT: every wait in between is
    every other writer's wait too. Under load a thread that waits on the network then waits again for
    Python's interpreter lock (up to its 5 ms switch interval), so one round trip less inside the lock is
    most of its hold (issue 20: the check-ins at concurrency 32). An error of the insert is raised by the
    commit, which then rolls back as any failed commit does (docs/audit-and-privacy.md#audit-log). Left after
    the commit by ``_end_pipeline``.
    """
    record = session.connection().connection
    if _PIPELINE not in record.info:
        pipeline = record.dbapi_connection.pipeline()
        pipeline.__enter__()
        record.info[_PIPELINE] = pipeline


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    # SQLAlchemy also fires this when a savepoint is released: wait for the outermost commit, so the
    # chain lock is taken (and held) only at the very end of the real transaction.
    if session.in_nested_transaction():
        return
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()  # the transaction's own writes first, before the chain lock is taken
    prev_id, prev_mac = _lock_and_last(session)
    if is_pg(session):
        _send_with_commit(session)
    rows = []
    for _tx, item in pending:
        row = {**item, "id": prev_id + 1, "created_at": utcnow(), "prev_mac": prev_mac}
        row["details"] = json.loads(json.dumps(row["details"], default=_json_value))  # what the database gives back
        row["mac"] = compute_mac(prev_mac, SimpleNamespace(**row))
        rows.append(row)
        prev_id, prev_mac = row["id"], row["mac"]
    session.connection().execute(_INSERT, rows)


@event.listens_for(Pool, "checkin")
def _end_pipeline(_dbapi_connection, record) -> None:
    """Leave the pipeline mode of ``_send_with_commit`` before the connection goes back to the pool (the
    transaction has ended by then: committed, or rolled back by the session or the pool's reset)."""
    pipeline = record.info.pop(_PIPELINE, None) if record is not None else None
    if pipeline is not None:
        try:
            pipeline.__exit__(None, None, None)
        except Exception:  # noqa: BLE001 - a broken connection: the pool discards it on its next use
            record.invalidate()


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction: SessionTransaction) -> None:
    """Drop the rows queued in the transaction (or savepoint) that rolled back, and in savepoints below it."""
    pending = session.info.get(_PENDING)
    if not pending:
        return
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
        return
    session.info[_PENDING] = [(tx, item) for tx, item in pending if not _within(tx, previous_transaction)]


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    # a session closed without commit or rollback must not carry its rows into its next transaction
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def _within(tx: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while tx is not None:
        if tx is ancestor:
            return True
        tx = tx.parent
    return False


@dataclass
class VerifyResult:
    ok: bool
    rows: int
    broken_id: int | None = None
    reason: str | None = None
    #: the last row verified (its id and MAC): the head a checkpoint anchors (``audit_checkpoints``)
    last_id: int = 0
    last_mac: str = GENESIS
    #: the log ends before a row that a checkpoint saw (set by the checkpoint check)
    truncated: bool = False
    #: how many checkpoints were read, and the newest one (seq, last_id, at) with the rows written after it
    checkpoints: int = 0
    checkpoint: dict | None = None
    unanchored_rows: int | None = None


def verify(
    session: Session, batch: int = 5000, key: bytes | None = None, after: tuple[int, str] | None = None
) -> VerifyResult:
    """Walk the chain in order; name the first row whose link or MAC does not hold.

    Reads plain result rows, not ORM objects, so it neither trusts nor disturbs the session's identity
    map (an object cached before a tamperer's edit would hide the edit). A deleted row is named as
    missing; a truncated tail cannot be seen from the chain alone (the checkpoints of
    ``audit_checkpoints`` see it). With ``after`` = (id, mac) of a row verified before (a checkpoint's),
    the walk starts there: that row must still exist with that MAC, and ``rows`` counts the rows after it.
    """
    key = key or runtime.settings().audit_key.encode()
    cols = [c for c in AuditLog.__table__.columns]
    prev_id, prev_mac, count = 0, GENESIS, 0
    if after is not None and after[0] > 0:
        found = session.execute(select(AuditLog.mac).where(AuditLog.id == after[0])).scalar()
        if found is None:
            return VerifyResult(False, 0, after[0], "truncated: the row of the last checkpoint is gone", truncated=True)
        if found != after[1]:
            return VerifyResult(False, 0, after[0], "the row of the last checkpoint has another MAC (rewritten)")
        prev_id, prev_mac = after
    while True:
        stmt = select(*cols).where(AuditLog.id > prev_id).order_by(AuditLog.id).limit(batch)
        rows = session.execute(stmt).all()
        if not rows:
            return VerifyResult(True, count, last_id=prev_id, last_mac=prev_mac)
        for row in rows:
            if row.id != prev_id + 1:
                return VerifyResult(False, count, prev_id + 1, "missing row (deleted)")
            if row.prev_mac != prev_mac:
                return VerifyResult(False, count, row.id, "link to the previous row does not match")
            if not hmac.compare_digest(row.mac, compute_mac(prev_mac, row, key)):
                return VerifyResult(False, count, row.id, "content does not match its MAC (edited)")
            prev_id, prev_mac = row.id, row.mac
            count += 1
