"""Face reference bodies: what staff send to enrol a photo, and what they see (never a descriptor)."""

from marshmallow import Schema, fields, validate

from backend.models.faces import LEGAL_BASES
from mobile_api.http.fields import id_field


class FaceReferenceIn(Schema):
    upload_id = id_field(required=True)
    #: PIPL art. 13: statutory_duty (社区矫正法 §26) or consent (separate consent)
    legal_basis = fields.String(load_default="statutory_duty", validate=validate.OneOf(LEGAL_BASES))
    #: when the subject was given the face-data notice (告知); required, not in the future
    notice_given_at = fields.AwareDateTime(required=True)
    #: true: the new photo replaces every current reference (in one transaction)
    replace = fields.Boolean(load_default=False)
    client_id = fields.String(load_default=None, validate=validate.Length(max=128))


class FaceBoxOut(Schema):
    left = fields.Integer()
    top = fields.Integer()
    width = fields.Integer()
    height = fields.Integer()


class FaceReferenceOut(Schema):
    id = fields.Integer()
    subject_id = fields.Integer()
    upload_id = fields.Integer()
    source = fields.String()  # enrolment | cleared_checkin
    model = fields.String()
    face_box = fields.Nested(FaceBoxOut)
    legal_basis = fields.String()
    legal_basis_text = fields.String()
    notice_version = fields.String()
    notice_given_at = fields.DateTime()
    created_by = fields.Integer()
    created_at = fields.DateTime()


class FaceReferenceDeleteQuery(Schema):
    #: delete this reference only; without it every reference of the subject is deleted
    reference_id = id_field(strict=False, load_default=None)
