"""Bodies of the subject's app: check-ins and their schedule, requests, education, service, sync, appeals."""

from marshmallow import Schema, fields, validate

from backend.models.education import MODES
from backend.models.request import REQUEST_TYPES
from backend.services.activities.checkins import CHECKIN_STATES
from backend.services.activities.education import OFFLINE_STATES, ONLINE_STATES
from backend.services.core.statemachine import describe
from mobile_api.http.fields import (
    CLIENT_ID_LENGTH,
    DATES,
    NAME_LENGTH,
    TEXT_LENGTH,
    UPLOAD_IDS,
    DateRangeArgs,
    Name,
    Time,
    id_field,
    latitude,
    longitude,
)
from mobile_api.http.pagination import PageArgs


class AppealIn(Schema):
    client_id = fields.String(load_default=None, validate=validate.Length(max=128))
    event_id = id_field(required=True)
    reason = fields.String(required=True, validate=TEXT_LENGTH)
    upload_ids = UPLOAD_IDS


class MeritIn(Schema):
    client_id = fields.String(load_default=None, validate=validate.Length(max=128))
    merit_type = fields.String(required=True, validate=validate.Length(min=1, max=40))
    description = fields.String(required=True, validate=TEXT_LENGTH)
    occurred_on = fields.Date(required=True, validate=DATES)
    upload_ids = UPLOAD_IDS


class MeritTypeOut(Schema):
    code = fields.String()
    name = fields.String()
    dimension = fields.String()
    points = fields.Integer()
    decider_role = fields.String()


class CheckInIn(Schema):
    client_id = fields.String(required=True, validate=CLIENT_ID_LENGTH)
    latitude = latitude(required=True)
    longitude = longitude(required=True)
    accuracy_m = fields.Float(required=True, validate=validate.Range(min=0, max=100_000), allow_nan=False)
    captured_at = fields.AwareDateTime(required=True)
    upload_id = id_field(required=True)
    #: the item was queued on the phone while offline (items sent through /me/sync always are)
    offline = fields.Boolean(load_default=False)


class CheckInOut(Schema):
    id = fields.Integer()
    client_id = fields.String()
    kind = fields.String()
    request_id = fields.Integer(allow_none=True)
    status = fields.String(metadata={"description": describe(CHECKIN_STATES)})
    outcome = fields.String(allow_none=True, metadata={"description": "on_time, late or extra"})
    upload_id = fields.Integer()
    latitude = fields.Float()
    longitude = fields.Float()
    accuracy_m = fields.Float()
    captured_at = Time()
    received_at = Time()
    offline = fields.Boolean()
    counted_at = Time(allow_none=True)
    time_basis = fields.String(allow_none=True, metadata={"description": "received or captured (offline rule)"})
    interval_days = fields.Integer(allow_none=True)
    period_start = fields.Date(allow_none=True)
    period_end = fields.Date(allow_none=True)
    period_due_at = Time(allow_none=True)
    inside_area = fields.Boolean(allow_none=True)
    distance_m = fields.Float(allow_none=True)
    area_basis = fields.String(allow_none=True, metadata={"description": "the nearest permitted area"})


class CheckInQuery(DateRangeArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(("pending", "counted", "invalid")))


class PeriodOut(Schema):
    index = fields.Integer()
    start_date = fields.Date()
    end_date = fields.Date()
    due_at = Time()
    late_until = Time()
    checked = fields.Boolean()
    checkin_id = fields.Integer(allow_none=True)


class ScheduleOut(Schema):
    now = Time()
    supervision_level = fields.String()
    interval_days = fields.Integer()
    base_interval_days = fields.Integer()
    grade = fields.String(allow_none=True)
    grade_effect = fields.String(allow_none=True, metadata={"description": "looser (green), tighter (red) or null"})
    current_period = fields.Nested(PeriodOut, allow_none=True)
    late_period = fields.Nested(PeriodOut, allow_none=True, metadata={"description": "past due, still open late"})
    next_due_at = Time(allow_none=True)
    pending_checkins = fields.Boolean()


class RequestIn(Schema):
    client_id = fields.String(load_default=None, validate=CLIENT_ID_LENGTH)
    type = fields.String(required=True, validate=validate.OneOf(REQUEST_TYPES))
    destination = Name(required=True, validate=NAME_LENGTH)
    reason = fields.String(required=True, validate=TEXT_LENGTH)
    business = fields.Boolean(load_default=False, metadata={"description": "生产经营 (business) purpose"})
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    destination_area = fields.Dict(
        load_default=None,
        metadata={
            "description": 'GeoJSON geometry: {"type": "Point", "coordinates": [lon, lat], "radius_m": n} or a Polygon'
        },
    )
    destination_district_id = id_field(load_default=None)


class EducationIn(Schema):
    client_id = fields.String(load_default=None, validate=CLIENT_ID_LENGTH)
    mode = fields.String(required=True, validate=validate.OneOf(MODES))
    course = Name(required=True, validate=NAME_LENGTH)
    started_at = fields.AwareDateTime(load_default=None)
    ended_at = fields.AwareDateTime(load_default=None)
    minutes = fields.Integer(load_default=None, validate=validate.Range(min=1, max=1440))
    upload_id = id_field(load_default=None)
    quiz_score = fields.Integer(load_default=None, validate=validate.Range(min=0, max=100))
    latitude = latitude(load_default=None)
    longitude = longitude(load_default=None)


class HeartbeatIn(Schema):
    ended = fields.Boolean(load_default=False)
    quiz_score = fields.Integer(load_default=None, validate=validate.Range(min=0, max=100))


class EducationQuery(PageArgs):
    status = fields.String(
        load_default=None,
        validate=validate.OneOf(sorted(ONLINE_STATES.states | OFFLINE_STATES.states)),
        metadata={"description": f"online: {describe(ONLINE_STATES)}; offline: {describe(OFFLINE_STATES)}"},
    )
    mode = fields.String(load_default=None, validate=validate.OneOf(MODES))


class MonthQuery(Schema):
    month = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$", error="a month YYYY-MM, years 2000–2100"),
        metadata={"description": "YYYY-MM (ASCII digits, years 2000–2100); default this month"},
    )


class EducationDayOut(Schema):
    date = fields.Date()
    minutes = fields.Integer()


class SummaryOut(Schema):
    month = fields.String()
    required_minutes = fields.Integer()
    counted_minutes = fields.Integer()
    pending_minutes = fields.Integer()
    remaining_minutes = fields.Integer()
    met = fields.Boolean()
    daily_cap_minutes = fields.Integer()
    days = fields.List(fields.Nested(EducationDayOut))


class SyncIn(Schema):
    items = fields.List(
        fields.Raw(),
        required=True,
        validate=validate.Length(min=1),
        metadata={
            "description": "up to 100 items {kind, body, request_id?} in order; kind is checkin, return (with "
            "request_id), request, education or service; body is what the single endpoint takes, with client_id"
        },
    )


class SyncResultOut(Schema):
    index = fields.Integer()
    kind = fields.String(allow_none=True)
    client_id = fields.String(allow_none=True)
    status = fields.Integer()
    replayed = fields.Boolean()
    body = fields.Raw(allow_none=True)
    error = fields.Raw(allow_none=True)


class SyncOut(Schema):
    results = fields.List(fields.Nested(SyncResultOut))
