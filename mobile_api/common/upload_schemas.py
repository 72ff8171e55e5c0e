"""Upload bodies: the declaration, how to send the bytes, the checked upload, staff review and links."""

from marshmallow import Schema, fields, validate

from backend.models.upload import PURPOSES
from media import reasons as reason_codes


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
    status = fields.String()
    note = fields.String(allow_none=True)
    reviewed_by = fields.Integer(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)


class UploadOut(Schema):
    id = fields.Integer()
    purpose = fields.String()
    status = fields.String()
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


class ReviewIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["confirm", "clear"]))
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class OriginalQuery(Schema):
    purpose = fields.String(load_default=None, validate=validate.Length(max=500))


class OriginalOut(Schema):
    url = fields.String()
    expires_at = fields.DateTime()
    content_type = fields.String()
