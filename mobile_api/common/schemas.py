"""Login, activation, refresh and self-service bodies."""

from marshmallow import Schema, fields, validate


class LoginIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=128), load_only=True)
    device_id = fields.String(load_default=None, validate=validate.Length(max=128))


class ActivateIn(Schema):
    activation_code = fields.String(required=True, validate=validate.Length(min=4, max=32))
    password = fields.String(required=True, validate=validate.Length(min=1, max=128), load_only=True)
    device_id = fields.String(load_default=None, validate=validate.Length(max=128))


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


class NotificationOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    body = fields.String()
    data = fields.Dict()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)
