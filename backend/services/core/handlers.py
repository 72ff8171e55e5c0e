"""Registry of outbox job handlers: name → function(session, payload), run inside the job's transaction.

A handler must be idempotent (it may run again after a crash between its work and the commit) and must
treat a missing target row as nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

Handler = Callable[[Session, dict], None]
Preparer = Callable[[dict], object]
HANDLERS: dict[str, Handler] = {}
#: optional slow, lock-free first phase of a job: run before the job's transaction, its result reaches the
#: handler as ``payload["_prepared"]`` (so a photo is decoded without holding SQLite's write lock)
PREPARERS: dict[str, Preparer] = {}


def _qualname(fn: Handler) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def handler(name: str) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler of outbox job ``name`` (one handler per name)."""

    def deco(fn: Handler) -> Handler:
        known = HANDLERS.get(name)
        if known is not None and _qualname(known) != _qualname(fn):
            raise ValueError(f"outbox job {name!r} already handled by {_qualname(known)}")
        HANDLERS[name] = fn
        return fn

    return deco


def preparer(name: str) -> Callable[[Preparer], Preparer]:
    """Register the lock-free first phase of outbox job ``name``; it must be safe to run more than once."""

    def deco(fn: Preparer) -> Preparer:
        PREPARERS[name] = fn
        return fn

    return deco
