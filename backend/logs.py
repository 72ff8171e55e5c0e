"""JSON logs carrying the request id, with personal data and secrets scrubbed before they are written."""

from __future__ import annotations

import logging
import re
import sys

from pythonjsonlogger.json import JsonFormatter

from backend import runtime

#: 18-character 身份证号 and 15-digit old-style numbers
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[\dXx](?![0-9A-Za-z])")
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+")
#: field names whose values never reach a log line
SENSITIVE_KEYS = frozenset(
    {
        "password",
        "old_password",
        "new_password",
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "id_number",
        "activation_code",
        "code",
        "latitude",
        "longitude",
        "lat",
        "lon",
        "gps",
        "accuracy_m",
        "push_token",
        "secret_key",
        "data_key",
        "audit_key",
    }
)
_STD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def scrub_text(text: str) -> str:
    text = _BEARER.sub("Bearer [redacted]", text)
    text = _JWT.sub("[jwt]", text)
    return _ID_NUMBER.sub("[id-number]", text)


def scrub(value: object, key: str | None = None) -> object:
    if key is not None and key.lower() in SENSITIVE_KEYS:
        return "[redacted]"
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """Scrub the message, its arguments and every extra field; add the current request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the line
            message = str(record.msg)
        record.msg, record.args = scrub_text(message), None
        for k in list(record.__dict__):
            if k not in _STD:
                record.__dict__[k] = scrub(record.__dict__[k], k)
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if not getattr(record, "request_id", None):
            record.request_id = runtime.current_request_id()
        return True


def configure_logging(level: str = "INFO", stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
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
        logging.getLogger(noisy).addFilter(RedactingFilter())
