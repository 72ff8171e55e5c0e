"""Append-only audit log chained with HMAC-SHA256; the key lives in config, never in the database.

Rows are queued on the session and written in ``before_commit``, after taking a chain lock (PostgreSQL:
a transaction-scoped advisory lock; SQLite: the write lock taken at BEGIN IMMEDIATE), so concurrent
writers never fork the chain and the lock is held only for the last moment of the transaction. The
database links each row to the last one in its own INSERT (``_chained_insert``); ``verify`` checks the
chain with Python's ``hmac``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, LargeBinary, String, bindparam, cast, event, func, insert, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import Pool
from sqlalchemy.sql.functions import FunctionElement

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
    head, tail = _around_id(row)
    return f"{head}{row.id}{tail}"


def _around_id(row: Any) -> tuple[str, str]:
    """The canonical JSON before and after the row's id (which the database assigns when it chains the row).

    The keys are sorted: ``action`` to ``details`` come before ``id``, ``purpose`` to ``target_type`` after.
    """
    before = {
        "action": row.action,
        "actor_id": row.actor_id,
        "actor_role": row.actor_role,
        "created_at": row.created_at.isoformat(timespec="microseconds"),
        "details": row.details,
    }
    after = {
        "purpose": row.purpose,
        "request_id": row.request_id,
        "target_id": row.target_id,
        "target_type": row.target_type,
    }
    return f'{_dumps(before)[:-1]},"id":', f",{_dumps(after)[1:]}"


def _dumps(value: dict) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _json_value(value: object) -> str:
    """A detail JSON cannot hold, as text: times and dates ISO 8601 (with their offset), anything else str()."""
    return value.isoformat() if isinstance(value, date | datetime) else str(value)


def compute_mac(prev_mac: str, row: Any, key: bytes | None = None) -> str:
    key = key or runtime.settings().audit_key.encode()
    return hmac.new(key, (prev_mac + "\n" + canonical(row)).encode(), hashlib.sha256).hexdigest()


_LOCK = f"SELECT pg_advisory_xact_lock({_LOCK_KEY})"  # PostgreSQL's chain lock (a constant, no input)


class _hmac_sha256_hex(FunctionElement):
    """HMAC-SHA256 (RFC 2104) of a text, as lower-case hex, computed by the database: (inner pad, outer pad,
    text) with the pads = the key (≤ 64 bytes, zero-padded to 64) XOR 0x36 and XOR 0x5c (``_pads``)."""

    type = String()
    name = "audit_hmac_sha256"  # SQLite: a function of that name (``_register_sqlite_hmac``)
    inherit_cache = True


@compiles(_hmac_sha256_hex, "postgresql")
def _hmac_pg(element, compiler, **kw) -> str:
    inner, outer, text = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"encode(sha256({outer} || sha256({inner} || convert_to({text}, 'UTF8'))), 'hex')"


@compiles(_hmac_sha256_hex, "sqlite")
def _hmac_sqlite(element, compiler, **kw) -> str:
    return f"{element.name}({compiler.process(element.clauses, **kw)})"


def _hmac_with_pads(inner: bytes, outer: bytes, text: str) -> str:
    return hashlib.sha256(outer + hashlib.sha256(inner + text.encode()).digest()).hexdigest()


def _register_sqlite_hmac(conn: Connection) -> None:
    """SQLite: give the connection the HMAC function (once per connection, whenever it was opened)."""
    record, name = conn.connection, _hmac_sha256_hex.name
    if not record.info.get(name):  # pool record info: the connection has the function
        record.dbapi_connection.create_function(name, 3, _hmac_with_pads, deterministic=True)
        record.info[name] = True


@lru_cache(maxsize=4)
def _pads(key: bytes) -> dict[str, bytes]:
    """The key's HMAC pads, bound to the chained insert: as secret as the key, and like every bound value never
    written to a log (the engine hides parameters, ``backend.db``)."""
    block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")  # noqa: PLR2004 - SHA-256's block
    return {
        "inner_pad": bytes(b ^ 0x36 for b in block),
        "outer_pad": bytes(b ^ 0x5C for b in block),
    }


_LINKED = ("id", "prev_mac", "mac")  # the columns the database sets; the queued row's values fill the others


def _chained_insert():
    """One row, linked to the chain's last row by the database in the same statement: its id (the last + 1),
    its ``prev_mac`` (the last row's MAC, or 64 zeros) and its ``mac`` over the canonical JSON, which the
    caller sends as the text before and after the id (``_around_id``). Each row is its own statement, so the
    next one sees it as the last. Inline: no RETURNING of the id, which the pipeline would wait for."""
    t = AuditLog.__table__
    last_id = func.coalesce(select(t.c.id).order_by(t.c.id.desc()).limit(1).scalar_subquery(), 0)
    last_mac = func.coalesce(select(t.c.mac).order_by(t.c.id.desc()).limit(1).scalar_subquery(), GENESIS)
    new_id = last_id + 1
    text = last_mac + "\n" + bindparam("head", type_=String) + cast(new_id, String) + bindparam("tail", type_=String)
    pads = (bindparam("inner_pad", type_=LargeBinary), bindparam("outer_pad", type_=LargeBinary))
    return (
        insert(t)
        .inline()
        .values(
            id=new_id,
            prev_mac=last_mac,
            mac=_hmac_sha256_hex(*pads, text),
            **{c.key: bindparam(c.key, type_=c.type) for c in t.columns if c.key not in _LINKED},
        )
    )


_CHAINED_INSERT = _chained_insert()


_PIPELINE = "audit_pipeline"  # pool record info key: the PostgreSQL connection's open pipeline


def _send_with_commit(session: Session) -> None:
    """PostgreSQL: put the transaction's connection in pipeline mode, so that the chain lock and the chain's
    inserts are not waited for but go to the server with the COMMIT that follows, in one round trip.

    The chain lock is held from the moment it is granted until the COMMIT: every wait in between is
    every other writer's wait too. Under load a thread that waits on the network then waits again for
    Python's interpreter lock (up to its 5 ms switch interval). With the rows linked by the database
    (``_chained_insert``) no client round trip is left inside the lock: the server grants it, inserts and
    commits (issue 20: the check-ins at concurrency 32). An error of the lock or an insert is raised by the
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
    conn = session.connection()
    if is_pg(session):
        _send_with_commit(session)
        conn.exec_driver_sql(_LOCK)  # a statement of its own: the inserts' snapshots see the last holder's rows
    else:
        _register_sqlite_hmac(conn)
    pads = _pads(runtime.settings().audit_key.encode())
    for _tx, item in pending:
        row = {**item, "created_at": utcnow()}
        row["details"] = json.loads(json.dumps(row["details"], default=_json_value))  # what the database gives back
        head, tail = _around_id(SimpleNamespace(**row))
        conn.execute(_CHAINED_INSERT, {**row, "head": head, "tail": tail, **pads})


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
