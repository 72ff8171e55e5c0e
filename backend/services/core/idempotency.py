"""Idempotent creates keyed by the caller's ``client_id`` or ``Idempotency-Key``.

The rule: docs/audit-and-privacy.md#idempotent-creates. A key belongs to its scope: the acting user, the
kind of create (``scope``, e.g. "scoring.adjustment"), the resource its path names (``resource``, e.g.
"subject_id=1") and the key itself; the same key on two subjects is two creates. A key is a string of
1–128 printable characters (``valid_key``).

Guarantee: the key is claimed by inserting a row under a unique constraint in the same transaction as
the create, so two concurrent duplicates cannot both create: the second waits for the first to commit
(PostgreSQL's unique index, SQLite's write lock) and then gets the stored result. A create that fails
rolls its claim back, so a retry after an error runs again. Records live ``IDEMPOTENCY_DAYS`` (default
30) days. Stored results are encrypted with DATA_KEY: they may hold personal data or an activation code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import JSON, bindparam, delete, select, text, update
from sqlalchemy.orm import Session

from backend import runtime
from backend.db import db
from backend.errors import DomainError
from backend.models import IdempotencyRecord, utcnow
from backend.services.core import crypto


@dataclass
class Outcome:
    status: int
    body: object
    replayed: bool


def request_hash(body: object) -> str:
    """A stable digest of a request body (key order does not matter)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


MAX_KEY = 128
MAX_RESOURCE = 64


def valid_key(key: object) -> bool:
    """A key is a plain string of 1–128 printable characters (no NUL or other control characters)."""
    return isinstance(key, str) and 1 <= len(key) <= MAX_KEY and key.isprintable()


def resource_of(path_ids: dict[str, object] | None) -> str:
    """The resource a create's path names, as stored with its key: ``"request_id=7"``; "" for none.

    The single endpoint passes its path's ids and ``/me/sync`` passes the ids an item carries for it, so
    both give the same string and share one record.
    """
    return ",".join(f"{name}={value}" for name, value in sorted((path_ids or {}).items()))


def _existing(session: Session, user_id: int, scope: str, res: str, key: str) -> IdempotencyRecord | None:
    return session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id,
            IdempotencyRecord.scope == scope,
            IdempotencyRecord.resource == res,
            IdempotencyRecord.key == key,
        )
    )


_SEALED = "sealed"
_RECORDS = IdempotencyRecord.__table__  # plain statements: the hot path of every create
_COLUMNS = (
    "user_id",
    "scope",
    "resource",
    "key",
    "request_hash",
    "status_code",
    "response_body",
    "created_at",
    "expires_at",
)
#: the claim, one statement on PostgreSQL and SQLite alike. Written as text because the dialects'
#: ``insert().on_conflict_do_nothing()`` has no cache key: SQLAlchemy would compile it on every create.
_CLAIM = text(
    f"INSERT INTO idempotency_records ({', '.join(_COLUMNS)}) "  # noqa: S608 - constant column names, no input
    f"VALUES ({', '.join(':' + c for c in _COLUMNS)}) ON CONFLICT DO NOTHING RETURNING id"
).bindparams(
    *(bindparam(c, type_=JSON(none_as_null=True) if c == "response_body" else _RECORDS.c[c].type) for c in _COLUMNS)
)


def _claim(session: Session, user_id: int, scope: str, res: str, key: str, body_hash: str) -> int | None:
    """Insert the claim in one statement; its id, or None when the key is already claimed (after the holder ends)."""
    conn = session.connection()
    now = utcnow()
    row = {"user_id": user_id, "scope": scope, "resource": res, "key": key, "request_hash": body_hash}
    row["status_code"] = 0
    row["response_body"] = None
    row |= {"created_at": now, "expires_at": now + timedelta(days=runtime.settings().idempotency_days)}
    return conn.execute(_CLAIM, row).scalar()


def run_once(
    user_id: int,
    scope: str,
    key: str,
    body_hash: str,
    create: Callable[[], tuple[int, object]],
    *,
    resource: str = "",
) -> Outcome:
    """Run ``create`` (returning status and JSON body) once per user, scope, resource and key; replay it after that.

    The caller checked the role and validated the request already (a refused request never claims a key);
    ``key`` must pass ``valid_key`` and ``resource`` is ``resource_of(path ids)``. The claim is one
    ``INSERT … ON CONFLICT DO NOTHING RETURNING``: a concurrent duplicate's insert waits on the unique
    index (SQLite: the write lock) until the holder ends, then finds its row and replays it.
    """
    if not valid_key(key):
        raise DomainError("VALIDATION_FAILED", {"client_id": [f"a string of 1–{MAX_KEY} printable characters"]})
    if len(resource) > MAX_RESOURCE:
        raise DomainError("VALIDATION_FAILED", {"path": [f"at most {MAX_RESOURCE} characters of ids"]})
    with db.tx() as s:
        claim_id = _claim(s, user_id, scope, resource, key, body_hash)
        if claim_id is None:
            found = _existing(s, user_id, scope, resource, key)
            if found is None:  # the winner's record vanished in between (purged): let the client retry
                raise DomainError("CONFLICT")
            return _replay(found, body_hash)
        status, payload = create()
        text = json.dumps(payload, default=str)
        s.execute(
            update(_RECORDS)
            .where(_RECORDS.c.id == claim_id)
            .values(status_code=status, response_body={_SEALED: crypto.encrypt(text)})
        )
        return Outcome(status, json.loads(text), False)


def _replay(found: IdempotencyRecord, body_hash: str) -> Outcome:
    if found.request_hash != body_hash:
        raise DomainError("IDEMPOTENCY_KEY_REUSED")
    stored = found.response_body
    if isinstance(stored, dict) and set(stored) == {_SEALED}:
        stored = json.loads(crypto.decrypt(stored[_SEALED]))
    return Outcome(200, stored, True)


def purge_expired() -> int:
    """Delete records past their expiry; return how many (the daily schedule calls it)."""
    with db.tx() as s:
        result = s.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < utcnow()))
        return result.rowcount or 0
