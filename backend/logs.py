"""JSON logs carrying the request id, with personal data and secrets scrubbed before they are written."""

from __future__ import annotations

import logging
import re
import sys
from datetime import date, time
from typing import IO

from pythonjsonlogger.json import JsonFormatter

from backend import runtime

#: 18-character 身份证号 and 15-digit old-style numbers (area, birth date, sequence)
_ID_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])\d{6}(?:(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[\dXx]|\d{2}(?:0[1-9]|1[0-2])\d{5})"
    r"(?![0-9A-Za-z])"
)
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+")
#: "password=…", '"token": "…"', "lat: 30.1" written into free text
_KEY_VALUE = re.compile(
    r"(?i)(\b(?:[a-z_]*password|[a-z_]*token|secret[a-z_]*|authorization|id_number|activation_code|"
    r"lat|lon|lng|latitude|longitude|gps)\b[\"']?\s*[:=]\s*)(\[[a-z-]+\]|\"[^\"]*\"|'[^']*'|[^\s,;&}\]]+)"
)
#: a coordinate pair such as "30.274085, 120.155070" or "(30.2740,120.1550)"
_COORD_PAIR = re.compile(r"(?<![\d.])-?\d{1,3}\.\d{3,}\s*[,/ ]\s*-?\d{1,3}\.\d{3,}(?![\d.])")

#: an opaque secret such as a refresh token (``token_urlsafe``): 32+ url-safe characters mixing upper and
#: lower case; hex digests and request ids (lower-case hex) are left alone
_OPAQUE = re.compile(r"(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])[A-Za-z0-9_-]{32,}")

#: field names whose values never reach a log line (exact, or containing one of SENSITIVE_PARTS)
SENSITIVE_KEYS = frozenset(
    {
        "code",
        "id_number",
        "idnumber",
        "latitude",
        "longitude",
        "lat",
        "lon",
        "lng",
        "gps",
        "location",
        "coords",
        "accuracy_m",
        "data_key",
        "audit_key",
    }
)
SENSITIVE_PARTS = ("password", "token", "secret", "authorization", "cookie", "id_number", "activation", "descriptor")
_STD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def is_sensitive_key(key: str) -> bool:
    k = key.lower()
    return k in SENSITIVE_KEYS or any(part in k for part in SENSITIVE_PARTS)


def scrub_text(text: str) -> str:
    text = _BEARER.sub("Bearer [redacted]", text)
    text = _JWT.sub("[jwt]", text)
    text = _KEY_VALUE.sub(lambda m: m.group(1) + "[redacted]", text)
    text = _COORD_PAIR.sub("[coordinates]", text)
    text = _OPAQUE.sub("[secret]", text)
    return _ID_NUMBER.sub("[id-number]", text)


def scrub(value: object, key: str | None = None) -> object:
    """The value with secrets and personal data replaced; sensitive keys hide their whole value."""
    if key is not None and is_sensitive_key(key):
        return "[redacted]"
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [scrub(v) for v in value]
    if isinstance(value, int | float | bool | date | time) or value is None:
        return value
    return scrub_text(str(value))  # anything else is logged by its text: scrub that text


class RedactingFilter(logging.Filter):
    """Scrub the message, its arguments, every extra field and tracebacks; add the current request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the line
            message = str(record.msg)
        record.msg, record.args = scrub_text(message), None
        for k in list(record.__dict__):
            if k not in _STD:
                record.__dict__[k] = scrub(record.__dict__[k], k)
        if record.exc_info:
            # another handler may have cached the unscrubbed text already: always rebuild it from the exception
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub_text(record.stack_info)
        if not getattr(record, "request_id", None):
            record.request_id = runtime.current_request_id()
        return True


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is logged (test runners and daemons swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def configure_logging(level: str = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """Install the one JSON handler on the root logger (replacing an earlier one); return it."""
    handler = logging.StreamHandler(stream) if stream is not None else _CurrentStderr()
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s", rename_fields={"levelname": "level", "asctime": "time"}
        )
    )
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_zhijiao", False):
            root.removeHandler(h)
    handler._zhijiao = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("rq.worker", "rq.cron"):
        logger = logging.getLogger(noisy)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
    return handler
