"""Bodies of administration: org units, users, audit, rule sets, credit-base imports, keyword and trigger versions."""

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from backend.models.org import LEVELS
from backend.models.user import ROLES
from backend.services.core import areas
from mobile_api.http.fields import Name, id_field
from mobile_api.http.pagination import PageArgs


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


class VersionIn(Schema):
    data = fields.Dict(required=True)
    note = fields.String(load_default=None, validate=validate.Length(max=500))
    client_id = fields.String(load_default=None, validate=validate.Length(min=1, max=128))


class VersionOut(Schema):
    version = fields.Integer()
    note = fields.String(allow_none=True)
    published_by = fields.Integer(allow_none=True)
    published_at = fields.DateTime()
    size = fields.Function(lambda v: len(v.data.get("entries") or v.data.get("triggers") or []))


class VersionDetailOut(VersionOut):
    data = fields.Dict()


class ClassifyIn(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class AreaField(fields.Dict):
    """A district's permitted area as GeoJSON geometry (RFC 7946): a Polygon, a MultiPolygon, or a circle
    written as a Point with a ``radius_m`` member (docs/checkins.md#geofence)."""

    def _deserialize(self, value, attr, data, **kwargs):
        area = super()._deserialize(value, attr, data, **kwargs)
        if (problem := areas.problem(area)) is not None:
            raise ValidationError(problem)
        return area


class OrgUnitIn(Schema):
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    name = Name(required=True, validate=validate.Length(min=1, max=100))
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.-]{1,40}$"))
    parent_id = id_field(load_default=None)
    area = AreaField(load_default=None)


class OrgUnitOut(Schema):
    id = fields.Integer()
    parent_id = fields.Integer(allow_none=True)
    level = fields.String()
    name = fields.String()
    code = fields.String()
    path = fields.String()
    area = fields.Dict(
        allow_none=True,
        metadata={
            "description": 'GeoJSON geometry: a Polygon, or {"type": "Point", "coordinates": [lon, lat], "radius_m": n}'
        },
    )


class OrgUnitQuery(Schema):
    under = id_field(strict=False, load_default=None)


class UserIn(Schema):
    username = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.-]{3,64}$"))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=128))
    role = fields.String(required=True, validate=validate.OneOf(["grid_worker", "officer", "bureau", "admin"]))
    display_name = Name(load_default="", validate=validate.Length(max=100))
    unit_ids = fields.List(id_field(), load_default=list, validate=validate.Length(max=100))


class UserOut(Schema):
    id = fields.Integer()
    username = fields.String()
    role = fields.String()
    display_name = fields.String()
    active = fields.Boolean()
    locked_until = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class UserPatchIn(Schema):
    active = fields.Boolean(required=True)


class ResetCodeOut(Schema):
    user_id = fields.Integer()
    username = fields.String()
    reset_code = fields.String()
    expires_at = fields.DateTime()


class UserQuery(PageArgs):
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    role = fields.String(load_default=None, validate=validate.OneOf(ROLES))


class AuditQuery(PageArgs):
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    action = fields.String(load_default=None, validate=validate.Length(max=64))
    actor_id = id_field(strict=False, load_default=None)
    target_type = fields.String(load_default=None)
    target_id = fields.String(load_default=None, validate=validate.Length(max=64))
    since = fields.AwareDateTime(load_default=None)
    until = fields.AwareDateTime(load_default=None)

    @validates("target_type")
    def _tt(self, value, **kwargs):
        if value is not None and len(value) > 40:
            raise ValidationError("too long")


class AuditOut(Schema):
    id = fields.Integer()
    created_at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    actor_role = fields.String(allow_none=True)
    action = fields.String()
    target_type = fields.String(allow_none=True)
    target_id = fields.String(allow_none=True)
    purpose = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    details = fields.Dict()
    mac = fields.String()


class CheckpointOut(Schema):
    seq = fields.Integer()
    last_id = fields.Integer(metadata={"description": "the last audit row the checkpoint anchors"})
    at = fields.String(metadata={"description": "when the checkpoint was written (UTC, ISO 8601)"})


class VerifyOut(Schema):
    ok = fields.Boolean()
    rows = fields.Integer()
    broken_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    truncated = fields.Boolean(
        metadata={"description": "the log ends before a row that a checkpoint saw (rows cut off its end)"}
    )
    checkpoints = fields.Integer(metadata={"description": "checkpoints read from the photo store"})
    checkpoint = fields.Nested(CheckpointOut, allow_none=True, metadata={"description": "the newest checkpoint"})
    unanchored_rows = fields.Integer(
        allow_none=True, metadata={"description": "rows written after the newest checkpoint (not anchored yet)"}
    )
