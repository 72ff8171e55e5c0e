"""Bodies of the staff app's oversight: field-report review, warnings, suggestions, inbox, dashboard."""

from marshmallow import Schema, fields, validate

from backend.models.alerts import SEVERITIES
from backend.services.core.statemachine import describe
from backend.services.core.warnings import WARNING_KINDS, WARNING_STATES
from backend.services.field.reports import FIELD_REPORT_STATES
from backend.services.oversight.providers import PROVIDERS
from backend.services.oversight.warning_handling import OUTCOMES as WARNING_OUTCOMES
from backend.services.suggestions.engine import ACTIONS, DISMISS_REASONS, OUTCOMES, SUGGESTION_STATES
from backend.services.suggestions.triggers import CATEGORIES, PRIORITIES
from mobile_api.common.records import GridReportQuery
from mobile_api.http.fields import DateRange, id_field
from mobile_api.http.pagination import PageArgs

_NOTE_LENGTH = validate.Length(min=1, max=1000)


class StaffFieldReportOut(Schema):
    """What staff see: the classification and the review; the place only with a purpose (location data)."""

    id = fields.Integer()
    subject_id = fields.Integer()
    subject_name = fields.String()
    reporter_id = fields.Integer()
    office_id = fields.Integer()
    grid_id = fields.Integer()
    text = fields.String()
    tags = fields.List(fields.String())
    observed_at = fields.DateTime()
    upload_ids = fields.List(fields.Integer())
    status = fields.String(metadata={"description": describe(FIELD_REPORT_STATES)})
    polarity = fields.String()
    severity = fields.String(allow_none=True)
    categories = fields.List(fields.String())
    classification = fields.Dict()
    dictionary_version = fields.Integer()
    due_at = fields.DateTime(allow_none=True)
    warning_id = fields.Integer(allow_none=True)
    reviewed_by = fields.Integer(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)
    review_note = fields.String(allow_none=True)
    created_at = fields.DateTime()
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)


class StaffReportQuery(GridReportQuery):
    polarity = fields.String(load_default=None, validate=validate.OneOf(["negative", "positive", "need", "neutral"]))


class PurposeQuery(Schema):
    purpose = fields.String(load_default=None, validate=validate.Length(min=1, max=500))


class FieldReviewIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["confirm", "dismiss"]))
    note = fields.String(required=True, validate=_NOTE_LENGTH)


class WarningOut(Schema):
    id = fields.Integer()
    subject_id = fields.Integer()
    subject_name = fields.String()
    kind = fields.String()
    severity = fields.String()
    status = fields.String(metadata={"description": describe(WARNING_STATES)})
    period_key = fields.String()
    title = fields.String()
    details = fields.Dict()
    evidence = fields.List(fields.Dict())
    officer_id = fields.Integer(allow_none=True)
    office_id = fields.Integer()
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    created_at = fields.DateTime()
    acknowledged_at = fields.DateTime(allow_none=True)
    handled_at = fields.DateTime(allow_none=True)
    handled_by = fields.Integer(allow_none=True)
    outcome = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


class WarningQuery(DateRange):
    status = fields.String(load_default=None, validate=validate.OneOf(["open", "acknowledged", "handled"]))
    kind = fields.String(load_default=None, validate=validate.OneOf(WARNING_KINDS))
    severity = fields.String(load_default=None, validate=validate.OneOf(SEVERITIES))
    subject_id = id_field(strict=False, load_default=None)
    office_id = id_field(strict=False, load_default=None)
    officer_id = id_field(strict=False, load_default=None)
    overdue = fields.Boolean(load_default=None)


class WarningHandleIn(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(WARNING_OUTCOMES))
    note = fields.String(required=True, validate=_NOTE_LENGTH)


class SuggestionOut(Schema):
    id = fields.Integer()
    subject_id = fields.Integer()
    subject_name = fields.String()
    kind = fields.String()
    category = fields.String()
    priority = fields.String()
    title = fields.String()
    rationale = fields.Dict()
    trigger_version = fields.Integer()
    officer_id = fields.Integer(allow_none=True)
    office_id = fields.Integer()
    status = fields.String(metadata={"description": describe(SUGGESTION_STATES)})
    due_at = fields.DateTime()
    overdue = fields.Boolean()
    created_at = fields.DateTime()
    accepted_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    decided_by = fields.Integer(allow_none=True)
    dismiss_reason = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


class SuggestionQuery(DateRange):
    status = fields.String(load_default=None, validate=validate.OneOf(["open", "accepted", "dismissed", "done"]))
    category = fields.String(load_default=None, validate=validate.OneOf(CATEGORIES))
    priority = fields.String(load_default=None, validate=validate.OneOf(PRIORITIES))
    kind = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    subject_id = id_field(strict=False, load_default=None)
    office_id = id_field(strict=False, load_default=None)
    officer_id = id_field(strict=False, load_default=None)
    overdue = fields.Boolean(load_default=None)


class SuggestionActIn(Schema):
    action = fields.String(required=True, validate=validate.OneOf(sorted(ACTIONS)))
    reason = fields.String(load_default=None, validate=validate.OneOf(DISMISS_REASONS))
    outcome = fields.String(load_default=None, validate=validate.OneOf(OUTCOMES))
    note = fields.String(load_default=None, validate=validate.Length(max=1000))


class ActionOut(Schema):
    method = fields.String()
    path = fields.String()


class InboxItemOut(Schema):
    kind = fields.String()
    subtype = fields.String(allow_none=True)
    item_id = fields.Integer()
    subject_id = fields.Integer()
    subject_name = fields.String()
    office_id = fields.Integer()
    office_name = fields.String()
    decider_role = fields.String()
    title = fields.Function(lambda r: (r["title"] or "")[:200])
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    overdue_since = fields.DateTime(allow_none=True, metadata={"description": "the missed due time, when overdue"})
    escalated = fields.Boolean(
        metadata={"description": "bureau: an officer item shown because it is overdue (escalation)"}
    )
    may_decide = fields.Boolean(metadata={"description": "whether the caller may decide the item now"})
    created_at = fields.DateTime(allow_none=True)
    action = fields.Nested(ActionOut, allow_none=True)


class InboxQuery(PageArgs):
    kind = fields.String(load_default=None, validate=validate.OneOf(sorted(PROVIDERS)))
    subtype = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    subject_id = id_field(strict=False, load_default=None)
    office_id = id_field(strict=False, load_default=None)
    overdue = fields.Boolean(load_default=None)


class DashboardQuery(Schema):
    office_id = id_field(strict=False, load_default=None)


class DashboardCheckins(Schema):
    """Check-in periods decided in the last 30 Shanghai days (docs/warnings-and-suggestions.md#dashboard)."""

    from_ = fields.Date(data_key="from", attribute="from", metadata={"description": "first day (Asia/Shanghai)"})
    days = fields.Integer()
    due = fields.Integer(metadata={"description": "periods decided: on time + late + missed"})
    on_time = fields.Integer()
    late = fields.Integer()
    missed = fields.Integer()
    rate_pct = fields.Float(allow_none=True, metadata={"description": "(on time + late) / due, in %, 1 decimal"})
    subjects_missed = fields.Integer(metadata={"description": "subjects with at least one missed period"})


class DashboardOut(Schema):
    as_of = fields.DateTime()
    office_id = fields.Integer(allow_none=True)
    subjects = fields.Dict()
    score_distribution = fields.List(fields.Dict())
    trend = fields.List(fields.Dict())
    work = fields.Dict()
    warnings = fields.Dict()
    suggestions = fields.Dict()
    checkins = fields.Nested(DashboardCheckins)
    offices = fields.List(fields.Dict())
