"""Field types shared by the schemas: bounded ids, UTC times, date ranges."""

from datetime import UTC, datetime

from marshmallow import ValidationError, fields, validate, validates_schema

from mobile_api.http.pagination import PageArgs

#: the largest id a 32-bit INTEGER column holds; larger numbers would crash the database driver
MAX_ID = 2**31 - 1


def id_field(*, strict: bool = True, **kwargs) -> fields.Integer:
    """A positive database id (strict in JSON bodies; query strings arrive as text, so pass strict=False)."""
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class Time(fields.DateTime):
    """An aware time, always written in UTC (``+00:00``), whether it was just computed or read back."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return super()._serialize(value, attr, obj, **kwargs)


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
