"""Field types shared by the schemas: bounded ids, texts and coordinates, UTC times, date ranges."""

import re
from datetime import UTC, date, datetime

from marshmallow import ValidationError, fields, validate, validates_schema

from mobile_api.http.pagination import PageArgs

#: the largest id a 32-bit INTEGER column holds; larger numbers would crash the database driver
MAX_ID = 2**31 - 1
#: dates a client may ask about or claim (mobile_api/http/inputs.py refuses any other year in any argument)
DATES = validate.Range(min=date(2000, 1, 1), max=date(2100, 12, 31))
TEXT_LENGTH = validate.Length(min=1, max=1000)
NAME_LENGTH = validate.Length(min=1, max=200)
CLIENT_ID_LENGTH = validate.Length(min=1, max=128)
OPTIONAL_NOTE = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


#: bidirectional overrides and isolates, and zero-width characters: invisible in a name, and able to make one
#: name look like another ("\u202e" turns what follows right to left) — dropped from names, never stored
_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


class Name(fields.String):
    """A name a person reads (a subject's, a user's, a place's, an org unit's): invisible characters dropped.

    Control characters (an ANSI escape, NUL) never reach here: mobile_api/http/inputs.py refuses them in any
    text. The length is checked on what is kept.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        return _INVISIBLE.sub("", text).strip()


def id_field(*, strict: bool = True, **kwargs) -> fields.Integer:
    """A positive database id (strict in JSON bodies; query strings arrive as text, so pass strict=False)."""
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


#: up to 9 photos' upload ids
UPLOAD_IDS = fields.List(id_field(), load_default=list, validate=validate.Length(max=9))


class Time(fields.DateTime):
    """An aware time, always written in UTC (``+00:00``), whether it was just computed or read back."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return super()._serialize(value, attr, obj, **kwargs)


def latitude(**kw) -> fields.Float:
    return fields.Float(validate=validate.Range(min=-90, max=90), allow_nan=False, **kw)


def longitude(**kw) -> fields.Float:
    return fields.Float(validate=validate.Range(min=-180, max=180), allow_nan=False, **kw)


class DateRangeArgs(PageArgs):
    date_from = fields.Date(load_default=None)
    date_to = fields.Date(load_default=None)


class DateRange(PageArgs):
    date_from = fields.Date(load_default=None)
    date_to = fields.Date(load_default=None)

    @validates_schema
    def _order(self, data, **_):
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError("date_from is after date_to", "date_from")
