"""Bodies of what every role uses: login, activation, tokens, my account, devices, notifications, uploads."""

from marshmallow import Schema, fields, validate

from backend.models import delivery as delivery_model
from backend.models.upload import PURPOSES
from backend.services.core.statemachine import describe
from backend.services.evidence.attachments import REVIEW_STATES
from backend.services.evidence.uploads import UPLOAD_STATES
from backend.services.subjects.profiles import masked_id_number
from media import reasons as reason_codes


class LoginIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=128), load_only=True)
    device_id = fields.String(load_default=None, validate=validate.Length(max=128))


class ActivateIn(Schema):
    activation_code = fields.String(required=True, validate=validate.Length(min=4, max=32))
    password = fields.String(required=True, validate=validate.Length(min=1, max=128), load_only=True)
    device_id = fields.String(load_default=None, validate=validate.Length(max=128))


class ResetIn(Schema):
    reset_code = fields.String(required=True, validate=validate.Length(min=4, max=32))
    password = fields.String(required=True, validate=validate.Length(min=1, max=128), load_only=True)
    device_id = fields.String(load_default=None, validate=validate.Length(max=128))


class CodeIn(Schema):
    """The body of a code issue: only the optional idempotency key (docs/roles.md#recovery)."""

    client_id = fields.String(load_default=None, validate=validate.Length(max=128))


class RefreshIn(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=10, max=200))
    device_id = fields.String(load_default=None, validate=validate.Length(max=128))


class UserSummary(Schema):
    id = fields.Integer()
    username = fields.String()
    role = fields.String()
    display_name = fields.String()


class TokensOut(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.Constant("Bearer")
    expires_in = fields.Integer()
    user = fields.Nested(UserSummary)


class PasswordIn(Schema):
    old_password = fields.String(required=True, validate=validate.Length(min=1, max=128))
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=128))


class DeviceIn(Schema):
    device_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    platform = fields.String(load_default=None, validate=validate.OneOf(["ios", "android", "harmony", "web"]))
    push_token = fields.String(load_default=None, validate=validate.Length(max=512))


class DeviceOut(Schema):
    id = fields.Integer()
    device_id = fields.String()
    platform = fields.String(allow_none=True)
    has_push_token = fields.Function(lambda d: bool(d.push_token))
    last_seen_at = fields.DateTime()


class DeliveryOut(Schema):
    """One channel's delivery of a notification (docs/schedules.md#delivery)."""

    channel = fields.String(validate=validate.OneOf(delivery_model.CHANNELS))
    state = fields.String(validate=validate.OneOf(delivery_model.STATES))
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime()


class NotificationOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    body = fields.String()
    data = fields.Dict()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)
    deliveries = fields.List(fields.Nested(DeliveryOut), dump_default=list)


class DeclareIn(Schema):
    purpose = fields.String(required=True, validate=validate.OneOf(PURPOSES))
    content_type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    size_bytes = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=2**40))
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-fA-F]{64}$"))
    client_id = fields.String(load_default=None, validate=validate.Length(max=128))


class SendOut(Schema):
    """How to send the bytes: an S3 presigned POST (``fields``) or a PUT to this server (``headers``)."""

    method = fields.String()
    url = fields.String()
    fields_ = fields.Dict(data_key="fields", attribute="fields", keys=fields.String(), values=fields.String())
    headers = fields.Dict(keys=fields.String(), values=fields.String())
    expires_at = fields.DateTime()


class DeclareOut(Schema):
    id = fields.Integer()
    status = fields.String()
    purpose = fields.String()
    upload = fields.Nested(SendOut)


class ReasonOut(Schema):
    code = fields.String()
    message = fields.Function(lambda r: reason_codes.REASONS[r["code"]].message)
    message_en = fields.Function(lambda r: reason_codes.REASONS[r["code"]].message_en)
    detail = fields.Dict()


class FactsOut(Schema):
    format = fields.String(allow_none=True)
    captured_at = fields.String(allow_none=True)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    location_withheld = fields.Boolean()
    make = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    software = fields.String(allow_none=True)
    orientation = fields.Integer(allow_none=True)
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)


class LinkOut(Schema):
    url = fields.String()
    width = fields.Integer()
    height = fields.Integer()


class DerivativesOut(Schema):
    display = fields.Nested(LinkOut)
    thumbnail = fields.Nested(LinkOut)
    expires_at = fields.DateTime()


class RecordOut(Schema):
    type = fields.String()
    id = fields.String()
    attached_at = fields.DateTime()


class ReviewOut(Schema):
    status = fields.String(metadata={"description": describe(REVIEW_STATES)})
    note = fields.String(allow_none=True)
    reviewed_by = fields.Integer(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)


class UploadOut(Schema):
    id = fields.Integer()
    purpose = fields.String()
    status = fields.String(metadata={"description": describe(UPLOAD_STATES)})
    subject_id = fields.Integer(allow_none=True)
    size_bytes = fields.Integer()
    reasons = fields.List(fields.Nested(ReasonOut))
    facts = fields.Nested(FactsOut)
    derivatives = fields.Nested(DerivativesOut)
    record = fields.Nested(RecordOut, allow_none=True)
    review = fields.Nested(ReviewOut, allow_none=True)
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    checked_at = fields.DateTime(allow_none=True)


class ViewQuery(Schema):
    purpose = fields.String(load_default=None, validate=validate.Length(max=500))


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
