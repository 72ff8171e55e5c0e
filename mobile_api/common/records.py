"""Records that more than one app shows: requests, education, service, the score, appeals, merits, field reports."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from backend.models.field import FieldReport
from backend.models.request import REQUEST_TYPES
from backend.models.scoring import EVENT_STATUSES
from backend.services.activities.education import OFFLINE_STATES, ONLINE_STATES
from backend.services.activities.requests import REQUEST_STATES
from backend.services.activities.service import SERVICE_STATES
from backend.services.core.statemachine import StateMachine, describe
from backend.services.scoring.appeals import APPEAL_STATES
from backend.services.scoring.ledger import EVENT_STATES
from backend.services.scoring.merits import MERIT_STATES
from mobile_api.http.fields import (
    CLIENT_ID_LENGTH,
    DATES,
    NAME_LENGTH,
    DateRange,
    DateRangeArgs,
    Time,
    id_field,
    latitude,
    longitude,
)
from mobile_api.http.pagination import PageArgs

_FIELD_REPORT_COLUMNS = [c.key for c in FieldReport.__table__.columns]


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
    status = fields.String(metadata={"description": describe(EVENT_STATES)})
    status_changed_at = fields.DateTime(allow_none=True)
    status_ref = fields.String(allow_none=True)
    created_at = fields.DateTime()


class EventQuery(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(EVENT_STATUSES))
    rule_code = fields.String(load_default=None, validate=validate.Length(max=40))
    date_from = fields.Date(load_default=None, validate=DATES)
    date_to = fields.Date(load_default=None, validate=DATES)


class HistoryQuery(Schema):
    date_from = fields.Date(load_default=None, validate=DATES)
    date_to = fields.Date(load_default=None, validate=DATES)

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


def status_query(machine: StateMachine, name: str) -> type[Schema]:
    """The query of a list filtered by one status field: its states are the closed set the filter takes."""
    status = fields.String(
        load_default=None, validate=validate.OneOf(sorted(machine.states)), metadata={"description": describe(machine)}
    )
    return type(name, (PageArgs,), {"status": status, "__doc__": f"a page of {machine.name} records by status"})


AppealStatusQuery = status_query(APPEAL_STATES, "AppealStatusQuery")
MeritStatusQuery = status_query(MERIT_STATES, "MeritStatusQuery")
ServiceStatusQuery = status_query(SERVICE_STATES, "ServiceStatusQuery")


class AppealOut(Schema):
    id = fields.Integer()
    subject_id = fields.Integer()
    event_id = fields.Integer()
    reason = fields.String()
    evidence = fields.List(fields.Integer())
    status = fields.String(metadata={"description": describe(APPEAL_STATES)})
    decider_role = fields.String()
    due_at = fields.DateTime()
    decided_by = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    note = fields.String(allow_none=True)
    created_at = fields.DateTime()


class MeritOut(Schema):
    id = fields.Integer()
    subject_id = fields.Integer()
    merit_type = fields.String(attribute="rule_code")
    points = fields.Integer()
    description = fields.String()
    occurred_on = fields.Date()
    evidence = fields.List(fields.Integer())
    status = fields.String(metadata={"description": describe(MERIT_STATES)})
    decider_role = fields.String()
    due_at = fields.DateTime()
    decided_by = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    note = fields.String(allow_none=True)
    event_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


def field_report_view(report: FieldReport, subject_name: str, *, location: bool = True) -> dict:
    """A field report as the grid and staff apps show it: its columns, the subject's name and the keyword hits."""
    out = {k: getattr(report, k) for k in _FIELD_REPORT_COLUMNS}
    out.update(subject_name=subject_name, hits=report.classification.get("hits", []))
    if not location:  # a subject's whereabouts are location data: staff see them with a purpose (audited)
        out.update(latitude=None, longitude=None)
    return out


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
    status = fields.String(metadata={"description": describe(REQUEST_STATES)})
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
    status = fields.String(
        load_default=None,
        validate=validate.OneOf(sorted(REQUEST_STATES.states)),
        metadata={"description": describe(REQUEST_STATES)},
    )
    type = fields.String(load_default=None, validate=validate.OneOf(REQUEST_TYPES))


class EducationOut(Schema):
    id = fields.Integer()
    client_id = fields.String(allow_none=True)
    mode = fields.String()
    course = fields.String()
    status = fields.String(
        metadata={"description": describe(ONLINE_STATES) + " (online) " + describe(OFFLINE_STATES) + " (offline)"}
    )
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


class ServiceIn(Schema):
    client_id = fields.String(load_default=None, validate=CLIENT_ID_LENGTH)
    activity_type = fields.String(required=True, validate=validate.Length(min=1, max=40))
    started_at = fields.AwareDateTime(required=True)
    ended_at = fields.AwareDateTime(required=True)
    place = fields.String(required=True, validate=NAME_LENGTH)
    latitude = latitude(load_default=None)
    longitude = longitude(load_default=None)
    organisation = fields.String(load_default=None, validate=validate.Length(max=200))
    witness_name = fields.String(load_default=None, validate=validate.Length(max=100))
    witness_phone = fields.String(load_default=None, validate=validate.Length(max=20))
    hours = fields.Float(required=True, validate=validate.Range(min=0.01, max=24), allow_nan=False)
    description = fields.String(load_default=None, validate=validate.Length(max=2000))
    upload_ids = fields.List(id_field(), load_default=list, validate=validate.Length(max=9))


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
    witnessed_by = fields.Integer(
        allow_none=True, metadata={"description": "the grid worker who observed it (their own report or a witness)"}
    )
    minutes = fields.Integer()
    upload_ids = fields.List(fields.Integer())
    status = fields.String(metadata={"description": describe(SERVICE_STATES)})
    due_at = Time(allow_none=True)
    verified_at = Time(allow_none=True)
    verification_note = fields.String(allow_none=True)
    created_at = Time()


class GridReportQuery(DateRange):
    subject_id = id_field(strict=False, load_default=None)
    status = fields.String(
        load_default=None, validate=validate.OneOf(["recorded", "pending_review", "confirmed", "dismissed"])
    )
