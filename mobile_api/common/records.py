"""Score bodies: the score (我要查分/我要权益), events, history, appeals, merits, adjustments, imports, rule sets."""

from datetime import date

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from backend.models.scoring import DIMENSIONS, EVENT_STATUSES
from mobile_api.http.fields import id_field
from mobile_api.http.pagination import PageArgs

_TEXT = validate.Length(min=1, max=1000)
#: dates a client may ask about or claim (beyond them, time arithmetic would leave the calendar)
_DATES = validate.Range(min=date(1950, 1, 1), max=date(2100, 12, 31))
_UPLOADS = fields.List(id_field(), load_default=list, validate=validate.Length(max=9))


class DimensionOut(Schema):
    dimension = fields.String()
    name = fields.String()
    points = fields.Integer()
    max = fields.Integer()
    initial = fields.Integer()
    initial_source = fields.String()
    events_sum = fields.Integer()
    clamped = fields.Boolean()


class BenefitOut(Schema):
    code = fields.String()
    name = fields.String()
    description = fields.String()


class ConversionOut(Schema):
    city = fields.String()
    name = fields.String()
    percent = fields.Integer()
    points = fields.Integer()
    max_points = fields.Integer()


class NextGradeOut(Schema):
    grade = fields.String()
    grade_name = fields.String()
    points = fields.Integer()


class ToNextOut(Schema):
    up = fields.Nested(NextGradeOut, allow_none=True)
    down = fields.Nested(NextGradeOut, allow_none=True)


class ScoreOut(Schema):
    subject_id = fields.Integer()
    total = fields.Integer()
    public_base = fields.Integer()
    base_pending = fields.Boolean()
    base_as_of = fields.Date(allow_none=True)
    provincial_score = fields.Integer(allow_none=True)
    management = fields.Integer()
    dimensions = fields.Dict(keys=fields.String(), values=fields.Integer())
    dimension_details = fields.List(fields.Nested(DimensionOut))
    grade = fields.String()
    grade_name = fields.String()
    colour = fields.String()
    effective_grade = fields.String(allow_none=True)
    benefits = fields.List(fields.Nested(BenefitOut))
    city_conversions = fields.List(fields.Nested(ConversionOut))
    to_next_grade = fields.Nested(ToNextOut)
    rule_version = fields.Integer()
    frozen = fields.Boolean()
    updated_at = fields.DateTime()


class EventOut(Schema):
    id = fields.Integer()
    rule_code = fields.String()
    rule_name = fields.String()
    rule_version = fields.Integer()
    dimension = fields.String()
    points = fields.Integer()
    requested_points = fields.Integer()
    quantity = fields.Integer()
    reason = fields.String(allow_none=True)
    source_kind = fields.String()
    source_id = fields.String()
    occurred_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    status = fields.String()
    status_changed_at = fields.DateTime(allow_none=True)
    status_ref = fields.String(allow_none=True)
    created_at = fields.DateTime()


class EventQuery(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(EVENT_STATUSES))
    rule_code = fields.String(load_default=None, validate=validate.Length(max=40))
    date_from = fields.Date(load_default=None, validate=_DATES)
    date_to = fields.Date(load_default=None, validate=_DATES)


class HistoryQuery(Schema):
    date_from = fields.Date(load_default=None, validate=_DATES)
    date_to = fields.Date(load_default=None, validate=_DATES)

    @validates_schema
    def _range(self, data, **_):
        a, b = data.get("date_from"), data.get("date_to")
        if a and b and (b < a or (b - a).days > 366):
            raise ValidationError("date_to must follow date_from, at most 366 days later", "date_to")


class DayOut(Schema):
    date = fields.Date()
    total = fields.Integer()


class ChangeOut(Schema):
    at = fields.DateTime()
    cause = fields.String()
    ref = fields.String(allow_none=True)
    rule_version = fields.Integer()
    total_before = fields.Integer(allow_none=True)
    total_after = fields.Integer()
    grade_before = fields.String(allow_none=True)
    grade_after = fields.String()
    base_pending = fields.Boolean()
    details = fields.Dict()


class VersionNoteOut(Schema):
    version = fields.Integer()
    published_at = fields.DateTime()
    note = fields.String(allow_none=True)


class HistoryOut(Schema):
    days = fields.List(fields.Nested(DayOut))
    changes = fields.List(fields.Nested(ChangeOut))
    rule_versions = fields.List(fields.Nested(VersionNoteOut))


class StatusQuery(PageArgs):
    status = fields.String(load_default=None, validate=validate.Length(max=16))


class AppealIn(Schema):
    client_id = fields.String(load_default=None, validate=validate.Length(max=128))
    event_id = id_field(required=True)
    reason = fields.String(required=True, validate=_TEXT)
    upload_ids = _UPLOADS


class AppealOut(Schema):
    id = fields.Integer()
    subject_id = fields.Integer()
    event_id = fields.Integer()
    reason = fields.String()
    evidence = fields.List(fields.Integer())
    status = fields.String()
    decider_role = fields.String()
    due_at = fields.DateTime()
    decided_by = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    note = fields.String(allow_none=True)
    created_at = fields.DateTime()


class AppealDecisionIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["uphold", "dismiss"]))
    note = fields.String(load_default=None, validate=validate.Length(max=1000))


class MeritIn(Schema):
    client_id = fields.String(load_default=None, validate=validate.Length(max=128))
    merit_type = fields.String(required=True, validate=validate.Length(min=1, max=40))
    description = fields.String(required=True, validate=_TEXT)
    occurred_on = fields.Date(required=True, validate=_DATES)
    upload_ids = _UPLOADS


class MeritOut(Schema):
    id = fields.Integer()
    subject_id = fields.Integer()
    merit_type = fields.String(attribute="rule_code")
    points = fields.Integer()
    description = fields.String()
    occurred_on = fields.Date()
    evidence = fields.List(fields.Integer())
    status = fields.String()
    decider_role = fields.String()
    due_at = fields.DateTime()
    decided_by = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    note = fields.String(allow_none=True)
    event_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class MeritTypeOut(Schema):
    code = fields.String()
    name = fields.String()
    dimension = fields.String()
    points = fields.Integer()
    decider_role = fields.String()


class ApproveIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    note = fields.String(load_default=None, validate=validate.Length(max=1000))


class AdjustmentIn(Schema):
    client_id = fields.String(load_default=None, validate=validate.Length(max=128))
    dimension = fields.String(required=True, validate=validate.OneOf(DIMENSIONS))
    points = fields.Integer(required=True, strict=True, validate=validate.Range(min=-100, max=100))
    expires_in_days = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=1, max=3650))
    reason = fields.String(required=True, validate=_TEXT)


class AdjustmentOut(Schema):
    id = fields.Integer()
    subject_id = fields.Integer()
    dimension = fields.String()
    points = fields.Integer()
    expires_in_days = fields.Integer(allow_none=True)
    reason = fields.String()
    status = fields.String()
    proposed_by = fields.Integer()
    decided_by = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    note = fields.String(allow_none=True)
    event_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class EmploymentIn(Schema):
    client_id = fields.String(load_default=None, validate=validate.Length(max=128))
    kind = fields.String(required=True, validate=validate.OneOf(["job", "study"]))
    organisation = fields.String(required=True, validate=validate.Length(min=1, max=200))
    started_on = fields.Date(required=True, validate=_DATES)
    note = fields.String(load_default=None, validate=validate.Length(max=1000))
    upload_ids = _UPLOADS


class EmploymentOut(Schema):
    id = fields.Integer()
    subject_id = fields.Integer()
    kind = fields.String()
    organisation = fields.String()
    started_on = fields.Date()
    note = fields.String(allow_none=True)
    evidence = fields.List(fields.Integer())
    verified_by = fields.Integer()
    verified_at = fields.DateTime()
    event_id = fields.Integer(allow_none=True)


class ReleaseIn(Schema):
    note = fields.String(load_default=None, validate=validate.Length(max=1000))


class ReleaseOut(Schema):
    subject_id = fields.Integer()
    released_at = fields.DateTime()
    released_by = fields.Integer()
    total = fields.Integer()
    grade = fields.String()
    record = fields.Dict()


class RuleSetIn(Schema):
    rules = fields.Dict(required=True)
    note = fields.String(load_default=None, validate=validate.Length(max=1000))


class RuleSetOut(Schema):
    version = fields.Integer()
    note = fields.String(allow_none=True)
    published_by = fields.Integer(allow_none=True)
    published_at = fields.DateTime()
    recompute_status = fields.String()
    recompute_done = fields.Integer()
    recompute_total = fields.Integer()
    recompute_finished_at = fields.DateTime(allow_none=True)


class RuleSetDetailOut(RuleSetOut):
    rules = fields.Dict(attribute="data")


class CreditImportIn(Schema):
    format = fields.String(required=True, validate=validate.OneOf(["csv", "json"]))
    content = fields.String(load_default=None, validate=validate.Length(max=5_000_000))
    rows = fields.List(fields.Dict(), load_default=None)
    filename = fields.String(load_default=None, validate=validate.Length(max=200))
    client_id = fields.String(load_default=None, validate=validate.Length(max=128))

    @validates_schema
    def _payload(self, data, **_):
        if data["format"] == "csv" and data.get("content") is None:
            raise ValidationError("a CSV import sends its text in content", "content")
        if data["format"] == "json" and data.get("rows") is None and data.get("content") is None:
            raise ValidationError("a JSON import sends rows (or the file's text in content)", "rows")


class CreditImportOut(Schema):
    id = fields.Integer()
    filename = fields.String(allow_none=True)
    format = fields.String()
    sha256 = fields.String()
    status = fields.String()
    rows = fields.Integer()
    accepted = fields.Integer()
    unchanged = fields.Integer()
    report = fields.Dict()
    created_at = fields.DateTime()
