"""Bodies of the subject's daily life: check-ins, requests, education, community service, sync; and staff sides."""

from datetime import UTC, datetime

from marshmallow import Schema, fields, validate

from backend.models.education import MODES
from backend.models.request import REQUEST_TYPES
from mobile_api.http.fields import id_field
from mobile_api.http.pagination import PageArgs

_CLIENT_ID = validate.Length(min=1, max=128)
_TEXT = validate.Length(min=1, max=1000)
_NAME = validate.Length(min=1, max=200)
_NOTE = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class Time(fields.DateTime):
    """An aware time, always written in UTC (``+00:00``), whether it was just computed or read back."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return super()._serialize(value, attr, obj, **kwargs)


def _lat(**kw) -> fields.Float:
    return fields.Float(validate=validate.Range(min=-90, max=90), allow_nan=False, **kw)


def _lon(**kw) -> fields.Float:
    return fields.Float(validate=validate.Range(min=-180, max=180), allow_nan=False, **kw)


class DateRangeArgs(PageArgs):
    date_from = fields.Date(load_default=None)
    date_to = fields.Date(load_default=None)


# --- check-ins ---------------------------------------------------------------------------------------------


class CheckInIn(Schema):
    client_id = fields.String(required=True, validate=_CLIENT_ID)
    latitude = _lat(required=True)
    longitude = _lon(required=True)
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
    status = fields.String(metadata={"description": "pending (photo being checked), counted or invalid"})
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


# --- requests ----------------------------------------------------------------------------------------------


class RequestIn(Schema):
    client_id = fields.String(load_default=None, validate=_CLIENT_ID)
    type = fields.String(required=True, validate=validate.OneOf(REQUEST_TYPES))
    destination = fields.String(required=True, validate=_NAME)
    reason = fields.String(required=True, validate=_TEXT)
    business = fields.Boolean(load_default=False, metadata={"description": "生产经营 (business) purpose"})
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    destination_area = fields.Dict(
        load_default=None,
        metadata={"description": '{"type": "circle", "center": [lon, lat], "radius_m": n} or polygon'},
    )
    destination_district_id = id_field(load_default=None)


class RequestOut(Schema):
    id = fields.Integer()
    subject_id = fields.Integer()
    client_id = fields.String(allow_none=True)
    type = fields.String()
    destination = fields.String()
    destination_area = fields.Dict(allow_none=True)
    destination_district_id = fields.Integer(allow_none=True)
    reason = fields.String()
    business = fields.Boolean()
    start_date = fields.Date()
    end_date = fields.Date()
    days = fields.Integer()
    counts_toward_limit = fields.Boolean()
    route = fields.String()
    status = fields.String()
    decider_role = fields.String(allow_none=True)
    due_at = Time(allow_none=True)
    auto_approved = fields.Boolean()
    recommended_at = Time(allow_none=True)
    decided_at = Time(allow_none=True)
    decision_note = fields.String(allow_none=True)
    returned_at = Time(allow_none=True)
    overdue_at = Time(allow_none=True)
    created_at = Time()


class RequestQuery(DateRangeArgs):
    status = fields.String(load_default=None)
    type = fields.String(load_default=None, validate=validate.OneOf(REQUEST_TYPES))


class StaffRequestQuery(RequestQuery):
    subject_id = id_field(strict=False, load_default=None)
    awaiting_me = fields.Boolean(load_default=False)


class DecisionIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(("approve", "reject", "recommend", "revoke")))
    note = _NOTE


class TransferIn(Schema):
    request_id = id_field(required=True)
    office_id = id_field(required=True)
    grid_id = id_field(required=True)
    officer_id = id_field(load_default=None)


# --- education ---------------------------------------------------------------------------------------------


class EducationIn(Schema):
    client_id = fields.String(load_default=None, validate=_CLIENT_ID)
    mode = fields.String(required=True, validate=validate.OneOf(MODES))
    course = fields.String(required=True, validate=_NAME)
    started_at = fields.AwareDateTime(load_default=None)
    ended_at = fields.AwareDateTime(load_default=None)
    minutes = fields.Integer(load_default=None, validate=validate.Range(min=1, max=1440))
    upload_id = id_field(load_default=None)
    quiz_score = fields.Integer(load_default=None, validate=validate.Range(min=0, max=100))
    latitude = _lat(load_default=None)
    longitude = _lon(load_default=None)


class HeartbeatIn(Schema):
    ended = fields.Boolean(load_default=False)
    quiz_score = fields.Integer(load_default=None, validate=validate.Range(min=0, max=100))


class EducationOut(Schema):
    id = fields.Integer()
    client_id = fields.String(allow_none=True)
    mode = fields.String()
    course = fields.String()
    status = fields.String()
    started_at = Time()
    ended_at = Time(allow_none=True)
    last_heartbeat_at = Time(allow_none=True)
    heartbeats = fields.Integer()
    credited_minutes = fields.Function(lambda e: e.credited_seconds // 60)
    claimed_minutes = fields.Integer(allow_none=True)
    quiz_score = fields.Integer(allow_none=True)
    upload_id = fields.Integer(allow_none=True)
    verified_at = Time(allow_none=True)
    verification_note = fields.String(allow_none=True)
    created_at = Time()


class EducationQuery(PageArgs):
    status = fields.String(load_default=None)
    mode = fields.String(load_default=None, validate=validate.OneOf(MODES))


class MonthQuery(Schema):
    month = fields.String(load_default=None, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"))


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


class EducationVerificationIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(("confirm", "reject")))
    note = _NOTE


# --- community service -------------------------------------------------------------------------------------


class ServiceIn(Schema):
    client_id = fields.String(load_default=None, validate=_CLIENT_ID)
    activity_type = fields.String(required=True, validate=validate.Length(min=1, max=40))
    started_at = fields.AwareDateTime(required=True)
    ended_at = fields.AwareDateTime(required=True)
    place = fields.String(required=True, validate=_NAME)
    latitude = _lat(load_default=None)
    longitude = _lon(load_default=None)
    organisation = fields.String(load_default=None, validate=validate.Length(max=200))
    witness_name = fields.String(load_default=None, validate=validate.Length(max=100))
    witness_phone = fields.String(load_default=None, validate=validate.Length(max=20))
    hours = fields.Float(required=True, validate=validate.Range(min=0.01, max=24), allow_nan=False)
    description = fields.String(load_default=None, validate=validate.Length(max=2000))
    upload_ids = fields.List(id_field(), load_default=list, validate=validate.Length(max=9))


class GridServiceIn(ServiceIn):
    subject_id = id_field(required=True)


class ServiceOut(Schema):
    id = fields.Integer()
    subject_id = fields.Integer()
    client_id = fields.String(allow_none=True)
    source = fields.String()
    activity_type = fields.String()
    started_at = Time()
    ended_at = Time()
    place = fields.String()
    organisation = fields.String(allow_none=True)
    witness_name = fields.String(allow_none=True)
    minutes = fields.Integer()
    upload_ids = fields.List(fields.Integer())
    status = fields.String()
    due_at = Time(allow_none=True)
    verified_at = Time(allow_none=True)
    verification_note = fields.String(allow_none=True)
    created_at = Time()


class StatusArgs(PageArgs):
    status = fields.String(load_default=None)


class ServiceVerificationIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(("verify", "reject")))
    note = _NOTE


# --- location history, sync --------------------------------------------------------------------------------


class LocationQuery(PageArgs):
    purpose = fields.String(load_default=None, validate=validate.Length(max=500))
    date_from = fields.Date(load_default=None)
    date_to = fields.Date(load_default=None)


class LocationOut(Schema):
    source = fields.String(metadata={"description": "checkin or upload"})
    id = fields.Integer()
    at = Time()
    latitude = fields.Float()
    longitude = fields.Float()
    accuracy_m = fields.Float(allow_none=True)


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
