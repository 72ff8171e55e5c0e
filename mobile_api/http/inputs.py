"""What any client input must be before a schema sees it: the one place that refuses odd input with a 400.

Every JSON body (Flask's ``request.get_json`` and webargs' parser both read it through :func:`loads`), every
query string and every loaded argument passes here, so no endpoint can forget a check:

- JSON nested deeper than :data:`MAX_DEPTH` or an integer literal longer than :data:`MAX_INT_DIGITS` digits is
  refused before anything walks it (a 10,000-deep array would exhaust the stack; a 5,000-digit number costs
  quadratic time to convert), and so are ``NaN`` and ``Infinity`` (not JSON, though Python reads them);
- no text, key or query value may hold NUL, another control character (tab, line feed and carriage return
  excepted) or a lone surrogate half: PostgreSQL refuses NUL outright, and neither can be written as UTF-8;
- a loaded date or time lies in the years :data:`MIN_YEAR`–:data:`MAX_YEAR` (beyond them, time arithmetic and
  time-zone conversion leave the calendar), a date is written in ASCII digits, and a loaded integer fits the
  database's 32-bit columns.

Each refusal is 400 ``VALIDATION_FAILED`` naming the field (``a.0.b`` for nested ones), or
``JSON_TOO_COMPLEX``/``MALFORMED_JSON`` for a body that cannot be read at all.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

import marshmallow as ma
from flask import Request
from flask.json.provider import DefaultJSONProvider

from backend.errors import DomainError

MAX_DEPTH = 32
MAX_INT_DIGITS = 20
MIN_YEAR, MAX_YEAR = 2000, 2100
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
#: C0 controls but tab, LF and CR; DEL and the C1 controls; lone surrogate halves
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class InputRejected(ValueError):
    """A body that is valid JSON but not acceptable input; carries the API's error code and field errors."""

    def __init__(self, code: str, errors: dict | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.errors = errors


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise InputRejected("JSON_TOO_COMPLEX")
    return int(text)


def text_problem(value: str) -> str | None:
    """Why a text cannot be stored, or None."""
    m = _BAD_CHARS.search(value)
    if m is None:
        return None
    ch = m.group()
    if "\ud800" <= ch <= "\udfff":
        return "contains a lone surrogate (not valid Unicode)"
    return f"contains the control character U+{ord(ch):04X}"


def _walk(value: Any, path: str, depth: int, errors: dict) -> None:
    if depth > MAX_DEPTH:
        raise InputRejected("JSON_TOO_COMPLEX")
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            errors.setdefault(path or "_body", []).append(problem)
    elif isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            problem = text_problem(key)
            if problem:
                errors.setdefault(path or "_body", []).append(f"a key {problem}")
                continue
            _walk(item, sub, depth + 1, errors)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{path}.{i}" if path else str(i), depth + 1, errors)


def check_json(value: Any) -> None:
    """Refuse a parsed body nested too deep or holding unstorable text."""
    errors: dict = {}
    _walk(value, "", 0, errors)
    if errors:
        raise InputRejected("VALIDATION_FAILED", errors)


def _parse_constant(name: str) -> float:
    """``NaN``, ``Infinity``, ``-Infinity``: Python's json reads them, JSON (RFC 8259) has none, PostgreSQL refuses."""
    raise InputRejected("MALFORMED_JSON")


def loads(data: str | bytes, **kwargs: Any) -> Any:
    """``json.loads`` with the limits above (raises ValueError subclasses, as json.loads does)."""
    kwargs.setdefault("parse_int", _parse_int)
    kwargs.setdefault("parse_constant", _parse_constant)
    try:
        value = json.loads(data, **kwargs)
    except RecursionError:
        raise InputRejected("JSON_TOO_COMPLEX") from None
    check_json(value)
    return value


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, reading bodies through :func:`loads`."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s, **kwargs)


class SafeRequest(Request):
    """A request whose refused JSON body answers with the refusal's own code, not a generic 400."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if isinstance(e, InputRejected):
            raise DomainError(e.code, e.errors)
        return super().on_json_loading_failed(e)


def check_query(data: Any) -> None:
    """Refuse query-string or form values (a werkzeug MultiDict) holding unstorable text (marshmallow's
    ValidationError, so the parser answers it like any field error)."""
    errors: dict = {}
    for key, value in data.items(multi=True):
        for text in (key, value):
            problem = isinstance(text, str) and text_problem(text)
            if problem:
                errors.setdefault(str(key) if text is value else "_query", []).append(problem)
    if errors:
        raise ma.ValidationError(errors)


def _loaded_problem(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        return f"must be between {INT_MIN} and {INT_MAX}"
    if isinstance(value, date) and not MIN_YEAR <= value.year <= MAX_YEAR:
        kind = "time" if isinstance(value, datetime) else "date"
        return f"the {kind} must lie in the years {MIN_YEAR}–{MAX_YEAR}"
    return None


def check_loaded(value: Any, path: str = "", errors: dict | None = None) -> dict:
    """The fields of loaded arguments out of the bounds above, as ``{field: [messages]}``."""
    errors = {} if errors is None else errors
    if isinstance(value, dict):
        for key, item in value.items():
            check_loaded(item, f"{path}.{key}" if path else str(key), errors)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_loaded(item, f"{path}.{i}" if path else str(i), errors)
    else:
        problem = _loaded_problem(value)
        if problem:
            errors.setdefault(path or "_body", []).append(problem)
    return errors


_TEMPORAL = (ma.fields.Date, ma.fields.DateTime, ma.fields.Time)


def check_ascii_dates(schema: ma.Schema, data: Any) -> None:
    """A date or time written with other digits than 0–9 (``٢٠٢٦-01-01``) is refused, not read."""
    if not hasattr(data, "get"):
        return
    errors: dict = {}
    for name, field in schema.fields.items():
        if not isinstance(field, _TEMPORAL):
            continue
        raw = data.get(field.data_key or name)
        if isinstance(raw, str) and not raw.isascii():
            errors[field.data_key or name] = ["write dates and times with the digits 0–9"]
    if errors:
        raise ma.ValidationError(errors)
