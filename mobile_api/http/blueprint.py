"""The project's flask-smorest Blueprint: request schemas given as classes are instantiated once, and every
argument passes the input checks of :mod:`mobile_api.http.inputs` (JSON limits, unstorable text, bounds).

webargs instantiates a schema class on every request it parses (marshmallow 4 copies every declared field
for a new instance: a tenth of a millisecond per request on the check-in). A schema instance holds no
per-request state, so each class's one instance serves every request.
"""

from __future__ import annotations

import functools
import json

import flask_smorest
import marshmallow as ma
from marshmallow import missing
from webargs.flaskparser import FlaskParser, is_json_request

from backend.errors import DomainError
from mobile_api.http import inputs


@functools.cache
def _instance(schema_cls: type[ma.Schema]) -> ma.Schema:
    return schema_cls()


class ReusingParser(FlaskParser):
    """webargs' Flask parser, with one instance per schema class and the input checks."""

    DEFAULT_VALIDATION_STATUS = 400  # a malformed request (422 is for a well-formed one a rule refuses)

    def _get_schema(self, argmap, req) -> ma.Schema:
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            return _instance(argmap)
        return super()._get_schema(argmap, req)

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return missing
        data = req.get_data(cache=True)
        try:
            return inputs.loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError(f"Bytes decoding error : {exc.reason}", doc="?", pos=exc.start) from exc
        except inputs.InputRejected as exc:
            raise DomainError(exc.code, exc.errors) from None

    def _load_location_data(self, *, schema, req, location):
        data = super()._load_location_data(schema=schema, req=req, location=location)
        if location in ("query", "querystring"):
            inputs.check_query(req.args)
        elif location == "form":
            inputs.check_query(req.form)
        inputs.check_ascii_dates(schema, data)
        return data

    def _process_location_data(self, location_data, schema, req, location, unknown, validators):
        data = super()._process_location_data(location_data, schema, req, location, unknown, validators)
        errors = inputs.check_loaded(data)
        if errors:
            raise ma.ValidationError(errors)
        return data


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = ReusingParser()
