"""Field helpers shared by the schemas: bounded ids, so no client number reaches the database out of range."""

from marshmallow import fields, validate

#: the largest id a 32-bit INTEGER column holds; larger numbers would crash the database driver
MAX_ID = 2**31 - 1


def id_field(*, strict: bool = True, **kwargs) -> fields.Integer:
    """A positive database id (strict in JSON bodies; query strings arrive as text, so pass strict=False)."""
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)
