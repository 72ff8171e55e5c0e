"""Process-wide state bound once at start-up: the settings and the per-request/per-job context."""

from __future__ import annotations

import contextvars
import uuid

from backend.config import Settings, load_settings

_settings: Settings | None = None

#: the id that ties a request's log lines, audit rows and follow-up jobs together
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def configure(settings: Settings) -> Settings:
    global _settings
    _settings = settings
    return settings


def settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


def current_request_id() -> str | None:
    return request_id_var.get()


def new_request_id() -> str:
    return uuid.uuid4().hex
