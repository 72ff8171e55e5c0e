"""Subject bodies: enrolment, profile (ID number masked), changes, and the grid workers' limited view."""

from marshmallow import Schema, fields, validate

from backend.models.subject import CORRECTION_TYPES, GENDERS, RISK_LEVELS, SUPERVISION_LEVELS
from backend.services.subjects.profiles import masked_id_number
from mobile_api.http.fields import id_field
from mobile_api.http.pagination import PageArgs


class EnrolIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    gender = fields.String(required=True, validate=validate.OneOf(GENDERS))
    id_number = fields.String(required=True, validate=validate.Length(min=1, max=32), load_only=True)
    phone = fields.String(load_default=None, validate=validate.Regexp(r"^\+?\d{6,20}$"))
    correction_type = fields.String(required=True, validate=validate.OneOf(CORRECTION_TYPES))
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    supervision_level = fields.String(load_default="normal", validate=validate.OneOf(SUPERVISION_LEVELS))
    risk_level = fields.String(load_default="medium", validate=validate.OneOf(RISK_LEVELS))
    office_id = id_field(required=True)
    grid_id = id_field(required=True)
    officer_id = id_field(load_default=None)
    username = fields.String(load_default=None, validate=validate.Regexp(r"^[A-Za-z0-9_.-]{3,64}$"))
    client_id = fields.String(load_default=None, validate=validate.Length(max=128))


class SubjectOut(Schema):
    id = fields.Integer()
    name = fields.String()
    gender = fields.String()
    id_number_masked = fields.Function(masked_id_number)
    phone = fields.String(allow_none=True)
    correction_type = fields.String()
    start_date = fields.Date()
    end_date = fields.Date()
    supervision_level = fields.String()
    risk_level = fields.String()
    office_id = fields.Integer()
    grid_id = fields.Integer()
    officer_id = fields.Integer(allow_none=True)
    status = fields.String()
    created_at = fields.DateTime()
    released_at = fields.DateTime(allow_none=True)


class SubjectChangeOut(Schema):
    field = fields.String()
    old_value = fields.String(allow_none=True)
    new_value = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    changed_by = fields.Integer()
    changed_at = fields.DateTime()


class SubjectDetailOut(SubjectOut):
    id_number = fields.String(allow_none=True)
    changes = fields.List(fields.Nested(SubjectChangeOut))


class EnrolOut(Schema):
    subject = fields.Nested(SubjectOut)
    username = fields.String()
    activation_code = fields.String()
    activation_expires_at = fields.DateTime()


class SubjectPatchIn(Schema):
    supervision_level = fields.String(validate=validate.OneOf(SUPERVISION_LEVELS))
    risk_level = fields.String(validate=validate.OneOf(RISK_LEVELS))
    officer_id = id_field()
    grid_id = id_field()
    phone = fields.String(validate=validate.Regexp(r"^\+?\d{6,20}$"))
    end_date = fields.Date()
    reason = fields.String(load_default=None, validate=validate.Length(max=1000))


class SubjectQuery(PageArgs):
    q = fields.String(load_default=None, validate=validate.Length(max=100))
    id_number = fields.String(load_default=None, validate=validate.Length(max=18))
    status = fields.String(load_default=None, validate=validate.OneOf(["in_correction", "released"]))
    supervision_level = fields.String(load_default=None, validate=validate.OneOf(SUPERVISION_LEVELS))
    office_id = id_field(strict=False, load_default=None)
    grid_id = id_field(strict=False, load_default=None)
    start_from = fields.Date(load_default=None)
    start_to = fields.Date(load_default=None)


class RevealQuery(Schema):
    reveal = fields.String(load_default=None, validate=validate.OneOf(["id_number"]))
    purpose = fields.String(load_default=None, validate=validate.Length(max=500))


class GridSubjectOut(Schema):
    """What a grid worker may see: no ID number, no location history, no score detail."""

    id = fields.Integer()
    name = fields.String()
    gender = fields.String()
    grid_id = fields.Integer()
    supervision_level = fields.String()
    status = fields.String()
