"""Bodies of the grid worker's app: the subjects of my grids, field reports, observed service."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from backend.services.core.statemachine import describe
from backend.services.field.reports import FIELD_REPORT_STATES
from mobile_api.common.records import ServiceIn, ServiceOut, ServiceStatusQuery
from mobile_api.http.fields import id_field


class GridServiceIn(ServiceIn):
    subject_id = id_field(required=True)


class GridServiceQuery(ServiceStatusQuery):
    """A page of the service I observed, by status and subject."""

    subject_id = id_field(strict=False, load_default=None)


class GridServiceOut(ServiceOut):
    """A community service report I observed (my own report or a subject's report I witnessed)."""

    subject_name = fields.String()


class GridSubjectOut(Schema):
    """What a grid worker may see: no ID number, no location history, no score detail."""

    id = fields.Integer()
    name = fields.String()
    gender = fields.String()
    grid_id = fields.Integer()
    supervision_level = fields.String()
    status = fields.String()


class FieldReportIn(Schema):
    client_id = fields.String(load_default=None, validate=validate.Length(min=1, max=128))
    subject_id = id_field(required=True)
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    tags = fields.List(
        fields.String(validate=validate.Length(min=1, max=20)), load_default=list, validate=validate.Length(max=10)
    )
    latitude = fields.Float(load_default=None, allow_nan=False, validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(load_default=None, allow_nan=False, validate=validate.Range(min=-180, max=180))
    observed_at = fields.AwareDateTime(required=True)
    upload_ids = fields.List(id_field(), required=True, validate=validate.Length(max=9))  # none: 422 in the service

    @validates_schema
    def _both_or_neither(self, data, **_):
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            raise ValidationError("give both latitude and longitude, or neither", "latitude")


class HitOut(Schema):
    keyword = fields.String()
    category = fields.String()
    polarity = fields.String()
    severity = fields.String()
    action = fields.String()
    start = fields.Integer()


class FieldReportOut(Schema):
    """What the reporting grid worker sees of their own report."""

    id = fields.Integer()
    client_id = fields.String(allow_none=True)
    subject_id = fields.Integer()
    subject_name = fields.String()
    text = fields.String()
    tags = fields.List(fields.String())
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    observed_at = fields.DateTime()
    upload_ids = fields.List(fields.Integer())
    status = fields.String(metadata={"description": describe(FIELD_REPORT_STATES)})
    polarity = fields.String()
    severity = fields.String(allow_none=True)
    categories = fields.List(fields.String())
    hits = fields.List(fields.Nested(HitOut))
    created_at = fields.DateTime()
