"""Bodies of the staff app's records and decisions: subjects, faces, requests, verifications, scores, uploads."""

from marshmallow import Schema, fields, validate

from backend.models.education import MODES
from backend.models.faces import LEGAL_BASES
from backend.models.scoring import DIMENSIONS
from backend.models.subject import CORRECTION_TYPES, GENDERS, RISK_LEVELS, SUPERVISION_LEVELS
from backend.services.activities.checkins import CHECKIN_STATES
from backend.services.activities.education import OFFLINE_STATES, ONLINE_STATES
from backend.services.activities.service import SERVICE_STATES
from backend.services.core.statemachine import describe
from backend.services.scoring.adjustments import ADJUSTMENT_STATES
from mobile_api.common.records import EducationOut, RequestQuery, ServiceOut
from mobile_api.common.schemas import SubjectOut
from mobile_api.http.fields import DATES, OPTIONAL_NOTE, TEXT_LENGTH, UPLOAD_IDS, DateRange, Name, Time, id_field
from mobile_api.http.pagination import PageArgs


class ReviewIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["confirm", "clear"]))
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class OriginalQuery(Schema):
    purpose = fields.String(load_default=None, validate=validate.Length(max=500))


class OriginalOut(Schema):
    url = fields.String()
    expires_at = fields.DateTime()
    content_type = fields.String()


class AppealDecisionIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["uphold", "dismiss"]))
    note = fields.String(load_default=None, validate=validate.Length(max=1000))


class ApproveIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    note = fields.String(load_default=None, validate=validate.Length(max=1000))


class AdjustmentIn(Schema):
    client_id = fields.String(load_default=None, validate=validate.Length(max=128))
    dimension = fields.String(required=True, validate=validate.OneOf(DIMENSIONS))
    points = fields.Integer(required=True, strict=True, validate=validate.Range(min=-100, max=100))
    expires_in_days = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=1, max=3650))
    reason = fields.String(required=True, validate=TEXT_LENGTH)


class AdjustmentOut(Schema):
    id = fields.Integer()
    subject_id = fields.Integer()
    dimension = fields.String()
    points = fields.Integer()
    expires_in_days = fields.Integer(allow_none=True)
    reason = fields.String()
    status = fields.String(metadata={"description": describe(ADJUSTMENT_STATES)})
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
    started_on = fields.Date(required=True, validate=DATES)
    note = fields.String(load_default=None, validate=validate.Length(max=1000))
    upload_ids = UPLOAD_IDS


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


class ExportSignatureOut(Schema):
    alg = fields.String(metadata={"description": "Ed25519"})
    key_id = fields.String(metadata={"description": "first 16 hex digits of the SHA-256 of the signing public key"})
    public_key = fields.String(allow_none=True, metadata={"description": "the signing public key, base64 (32 bytes)"})
    value = fields.String(metadata={"description": "the signature of the record's canonical JSON, base64"})
    signed = fields.String(metadata={"description": "what the signature covers"})


class ExportFileOut(Schema):
    """The export file for the provincial platform (served as an attachment)."""

    format = fields.String(metadata={"description": "zhijiao.credit_correction_export_file.v1"})
    record = fields.Dict(
        metadata={
            "description": "the export record; subject.id_number_sealed holds the full ID number sealed to "
            "the platform's X25519 key (docs/score.md#release-and-export)"
        }
    )
    signature = fields.Nested(ExportSignatureOut)


class ExportHandoverIn(Schema):
    reference = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "the provincial platform's receipt or batch number"},
    )
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))
    file_sha256 = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^[0-9a-fA-F]{64}$"),
        metadata={"description": "SHA-256 (hex) of the file handed over; refused if it is not this export's file"},
    )


class ExportHandoverOut(Schema):
    subject_id = fields.Integer()
    signing_key_id = fields.String()
    recipient_key_id = fields.String(allow_none=True)
    signed_at = fields.DateTime()
    handed_over_at = fields.DateTime(allow_none=True)
    handed_over_by = fields.Integer(allow_none=True)
    handover_reference = fields.String(allow_none=True)
    handover_note = fields.String(allow_none=True)
    file_sha256 = fields.String(allow_none=True)


class StaffRequestQuery(RequestQuery):
    subject_id = id_field(strict=False, load_default=None)
    awaiting_me = fields.Boolean(load_default=False)


class DecisionIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(("approve", "reject", "recommend", "revoke")))
    note = OPTIONAL_NOTE


class TransferIn(Schema):
    request_id = id_field(required=True)
    office_id = id_field(required=True)
    grid_id = id_field(required=True)
    officer_id = id_field(load_default=None)


class EducationVerificationIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(("confirm", "reject")))
    note = OPTIONAL_NOTE


class ServiceVerificationIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(("verify", "reject")))
    note = OPTIONAL_NOTE


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


class EnrolIn(Schema):
    name = Name(required=True, validate=validate.Length(min=1, max=100))
    gender = fields.String(required=True, validate=validate.OneOf(GENDERS))
    id_number = fields.String(required=True, validate=validate.Length(min=1, max=32), load_only=True)
    phone = fields.String(load_default=None, validate=validate.Regexp(r"^\+?[0-9]{6,20}$"))
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


class SubjectChangeOut(Schema):
    field = fields.String()
    old_value = fields.String(allow_none=True)
    new_value = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    changed_by = fields.Integer()
    changed_at = fields.DateTime()


class SubjectListOut(SubjectOut):
    """A subject of the staff list with its stored score (null until the score is first computed)."""

    score_total = fields.Integer(allow_none=True)
    grade = fields.String(allow_none=True, metadata={"description": "grade code (docs/score.md#grades)"})
    grade_name = fields.String(allow_none=True)
    colour = fields.String(allow_none=True, metadata={"description": "green, blue, yellow, orange or red"})
    base_pending = fields.Boolean(allow_none=True, metadata={"description": "true: a provisional score"})


class SubjectDetailOut(SubjectOut):
    id_number = fields.String(allow_none=True)
    changes = fields.List(fields.Nested(SubjectChangeOut))


class EnrolOut(Schema):
    subject = fields.Nested(SubjectOut)
    username = fields.String()
    activation_code = fields.String()
    activation_expires_at = fields.DateTime()


class ActivationCodeOut(Schema):
    subject_id = fields.Integer()
    username = fields.String()
    activation_code = fields.String()
    activation_expires_at = fields.DateTime()


class SubjectPatchIn(Schema):
    supervision_level = fields.String(validate=validate.OneOf(SUPERVISION_LEVELS))
    risk_level = fields.String(validate=validate.OneOf(RISK_LEVELS))
    officer_id = id_field()
    grid_id = id_field()
    phone = fields.String(validate=validate.Regexp(r"^\+?[0-9]{6,20}$"))
    end_date = fields.Date()
    reason = fields.String(load_default=None, validate=validate.Length(max=1000))


class SubjectQuery(PageArgs):
    q = fields.String(load_default=None, validate=validate.Length(max=100))
    id_number = fields.String(load_default=None, validate=validate.Length(max=18))
    status = fields.String(load_default=None, validate=validate.OneOf(["in_correction", "released"]))
    supervision_level = fields.String(load_default=None, validate=validate.OneOf(SUPERVISION_LEVELS))
    risk_level = fields.String(load_default=None, validate=validate.OneOf(RISK_LEVELS))
    grade = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=16),
        metadata={"description": "a grade code of the rule set in force (e.g. excellent … severe)"},
    )
    office_id = id_field(strict=False, load_default=None)
    grid_id = id_field(strict=False, load_default=None)
    start_from = fields.Date(load_default=None)
    start_to = fields.Date(load_default=None)


class RevealQuery(Schema):
    reveal = fields.String(load_default=None, validate=validate.OneOf(["id_number"]))
    purpose = fields.String(load_default=None, validate=validate.Length(max=500))


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


class StaffOrgUnitOut(Schema):
    """A unit of the caller's jurisdiction; districts carry their area (GeoJSON: Polygon, MultiPolygon or a
    Point with ``radius_m``), the others none."""

    id = fields.Integer()
    parent_id = fields.Integer(allow_none=True)
    level = fields.String(metadata={"description": "district, office or grid"})
    name = fields.String()
    code = fields.String()
    area = fields.Function(lambda u: u.area if u.level == "district" else None, allow_none=True)


class StaffCheckInQuery(DateRange):
    status = fields.String(load_default=None, validate=validate.OneOf(sorted(CHECKIN_STATES.states)))


class StaffCheckInOut(Schema):
    """A check-in as staff see it in the profile: times, status, outcome and whether it was inside the area (the
    position itself only through the audited location history)."""

    id = fields.Integer()
    subject_id = fields.Integer()
    kind = fields.String(metadata={"description": "checkin or return"})
    status = fields.String(metadata={"description": describe(CHECKIN_STATES)})
    outcome = fields.String(allow_none=True, metadata={"description": "on_time, late or extra"})
    captured_at = Time()
    received_at = Time()
    counted_at = Time(allow_none=True)
    offline = fields.Boolean()
    time_basis = fields.String(allow_none=True)
    period_start = fields.Date(allow_none=True)
    period_end = fields.Date(allow_none=True)
    period_due_at = Time(allow_none=True)
    inside_area = fields.Boolean(allow_none=True)
    warning_id = fields.Integer(allow_none=True)


class StaffEducationQuery(PageArgs):
    status = fields.String(
        load_default=None,
        validate=validate.OneOf(sorted(ONLINE_STATES.states | OFFLINE_STATES.states)),
        metadata={"description": f"online: {describe(ONLINE_STATES)}; offline: {describe(OFFLINE_STATES)}"},
    )
    mode = fields.String(load_default=None, validate=validate.OneOf(MODES))


class StaffEducationOut(EducationOut):
    subject_id = fields.Integer()
    office_id = fields.Integer()
    due_at = Time(allow_none=True)
    verified_by = fields.Integer(allow_none=True)


class StaffServiceQuery(PageArgs):
    status = fields.String(
        load_default=None,
        validate=validate.OneOf(sorted(SERVICE_STATES.states)),
        metadata={"description": describe(SERVICE_STATES)},
    )


class StaffServiceOut(ServiceOut):
    """A community-service report for verification: hours, place, organisation, witness, photos' upload ids."""

    office_id = fields.Integer()
    reported_by = fields.Integer()
    witness_phone = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    hours = fields.Function(lambda r: r.minutes // 60, metadata={"description": "whole hours (points count these)"})
    verified_by = fields.Integer(allow_none=True)
