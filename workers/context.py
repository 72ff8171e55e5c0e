"""Bind settings, database and logging in the process that runs a job (RQ forks a work horse per job).

A forked child must never use the parent's pooled database connections (two processes on one socket
corrupt both): the fork hook below drops them without closing them, SQLAlchemy's documented recipe for
``os.fork``; ``bind`` then gives the child its own engine or pool.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import Any

from backend import runtime
from backend.db import db
from backend.logs import configure_logging

log = logging.getLogger("workers")
_bound_pid: int | None = None


def _forget_parent_connections() -> None:
    """In a freshly forked child: forget the parent's sessions and pooled connections, closing nothing."""
    if db.scoped is not None:
        db.scoped.registry.clear()
    if db.engine is not None:
        db.engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_parent_connections)


def bind() -> bool:
    """Bind this process: settings (from the environment unless already configured), logging, database.

    Returns True when the engine belongs to this process alone (created here, or inherited through a
    fork), so the caller disposes it after the job and a work horse closes its connections cleanly.
    """
    global _bound_pid
    pid = os.getpid()
    if _bound_pid == pid and db.engine is not None:
        return False
    settings = runtime.settings()
    owned = db.engine is None or (_bound_pid is not None and _bound_pid != pid)
    if db.engine is None:
        configure_logging(settings.log_level)
        for name in ("rq.worker", "rq.job"):  # rq's loggers already write their own lines: no JSON duplicate
            rq_log = logging.getLogger(name)
            rq_log.propagate = not rq_log.handlers
        db.init(settings.database_url)
    import backend.registry  # noqa: F401 - registers every outbox handler

    _bound_pid = pid
    return owned


def job(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Bind the process, carry the request id into the logs, and release the session afterwards."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        global _bound_pid
        owned = bind()
        from rq import get_current_job

        current = get_current_job()
        rid = (current.meta.get("request_id") if current is not None else None) or runtime.new_request_id()
        token = runtime.request_id_var.set(rid)
        try:
            return fn(*args, **kwargs)
        finally:
            runtime.request_id_var.reset(token)
            db.remove()
            if owned:  # a work horse exits with os._exit: close its connections now
                db.dispose()
                _bound_pid = None

    return wrapper
