"""Bind settings, database and logging once per worker process (jobs run in forked children)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from backend import runtime
from backend.config import load_settings
from backend.db import db
from backend.logs import configure_logging

log = logging.getLogger("workers")
_bound = False


def bind() -> None:
    global _bound
    if _bound and db.engine is not None:
        return
    settings = runtime.configure(load_settings())
    configure_logging(settings.log_level)
    db.init(settings.database_url)
    import backend.services.registry  # noqa: F401 - registers every outbox handler

    _bound = True


def job(fn: Callable) -> Callable:
    """Bind the process, carry the request id into the logs, and release the session afterwards."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        bind()
        from rq import get_current_job

        current = get_current_job()
        rid = (current.meta.get("request_id") if current is not None else None) or runtime.new_request_id()
        token = runtime.request_id_var.set(rid)
        try:
            return fn(*args, **kwargs)
        finally:
            runtime.request_id_var.reset(token)
            db.remove()

    return wrapper
